-- Aggregates, keyed by title_id (a title's rows stay on one partition, in window order).
-- Exactly-once: rows become visible to read_committed consumers when the checkpoint that
-- covers them completes, so a restarted job never shows a window twice. The transaction
-- timeout must not exceed the broker's transaction.max.timeout.ms (15 min by default).
CREATE TEMPORARY TABLE viewing_aggregates (
  window_start STRING,
  window_end STRING,
  title_id STRING,
  title STRING,
  genre STRING,
  country STRING,
  device STRING,
  plays BIGINT,
  unique_viewers BIGINT,
  watch_seconds BIGINT
) WITH (
  'connector' = 'kafka',
  'topic' = '{{processedTopic}}',
  'properties.bootstrap.servers' = '{{bootstrapServers}}',
  'key.format' = 'raw',
  'key.fields' = 'title_id',
  'value.format' = 'json',
  'value.fields-include' = 'ALL',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = '{{transactionalIdPrefix}}-aggregates',
  'properties.transaction.timeout.ms' = '900000'
);

-- Dead letters: the original bytes untouched, with why and where from in the record headers.
CREATE TEMPORARY TABLE dead_letters (
  payload STRING,
  headers MAP<STRING, BYTES> METADATA
) WITH (
  'connector' = 'kafka',
  'topic' = '{{deadLetterTopic}}',
  'properties.bootstrap.servers' = '{{bootstrapServers}}',
  'format' = 'raw',
  'raw.charset' = 'UTF-8',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = '{{transactionalIdPrefix}}-dlq',
  'properties.transaction.timeout.ms' = '900000'
);

-- The raw events, as they are, in the lake: Iceberg commits a snapshot on every checkpoint.
CREATE CATALOG lake WITH ({{catalogOptions}});

CREATE DATABASE IF NOT EXISTS lake.{{database}};

CREATE TABLE IF NOT EXISTS lake.{{database}}.{{table}} (
  event_id STRING,
  session_id STRING,
  user_id STRING,
  title_id STRING,
  device STRING,
  country STRING,
  event_type STRING,
  position_seconds INT,
  bitrate_kbps INT,
  event_time BIGINT
);
