-- The raw topic read as text, one row per record whatever it holds. Parsing happens in SQL
-- (3-views.sql) so that a record that is not a valid event becomes a dead letter: format 'json'
-- would fail the job on it, and 'json.ignore-parse-errors' would drop it without a trace.
-- Offsets: the group's committed offsets (Flink commits them on every checkpoint), else the
-- earliest; so a resubmitted job without restorable state resumes where the last one stopped.
CREATE TEMPORARY TABLE raw_events (
  payload STRING,
  `partition` INT METADATA VIRTUAL,
  `offset` BIGINT METADATA VIRTUAL,
  event_ts AS TO_TIMESTAMP_LTZ(TRY_CAST(JSON_VALUE(payload, '$.event_time') AS BIGINT), 3),
  WATERMARK FOR event_ts AS event_ts - INTERVAL '{{watermarkDelaySeconds}}' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = '{{rawTopic}}',
  'properties.bootstrap.servers' = '{{bootstrapServers}}',
  'properties.group.id' = '{{groupId}}',
  'scan.startup.mode' = 'group-offsets',
  'properties.auto.offset.reset' = 'earliest',
  'format' = 'raw',
  'raw.charset' = 'UTF-8'
);
