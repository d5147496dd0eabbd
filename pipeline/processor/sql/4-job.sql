-- One job, three sinks, one read of the raw topic.
EXECUTE STATEMENT SET
BEGIN

-- Per minute of event time, per title, country and device. A window fires once the watermark
-- (the slowest partition's event time minus the allowed delay) passes its end.
-- Group-window syntax (GROUP BY TUMBLE) rather than the TUMBLE table function: Flink 2.0 fails
-- to plan the table function over a view inside a statement set ("belongs to a different
-- planner"), while this form plans to the same event-time window operator.
INSERT INTO viewing_aggregates
SELECT
  DATE_FORMAT(CAST(TUMBLE_START(event_ts, INTERVAL '{{windowMinutes}}' MINUTE) AS TIMESTAMP(3)), 'yyyy-MM-dd''T''HH:mm:ss''Z'''),
  DATE_FORMAT(CAST(TUMBLE_END(event_ts, INTERVAL '{{windowMinutes}}' MINUTE) AS TIMESTAMP(3)), 'yyyy-MM-dd''T''HH:mm:ss''Z'''),
  title_id,
  CASE title_id {{titleCases}} ELSE title_id END,
  CASE title_id {{genreCases}} ELSE 'Unknown' END,
  country,
  device,
  COUNT(*) FILTER (WHERE event_type = 'play'),
  COUNT(DISTINCT user_id),
  CAST(SUM(CASE WHEN event_type = 'heartbeat' THEN {{heartbeatSeconds}} ELSE 0 END) AS BIGINT)
FROM valid_events
GROUP BY TUMBLE(event_ts, INTERVAL '{{windowMinutes}}' MINUTE), title_id, country, device;

INSERT INTO lake.{{database}}.{{table}}
SELECT event_id, session_id, user_id, title_id, device, country, event_type, position_seconds, bitrate_kbps, event_time
FROM valid_events;

INSERT INTO dead_letters
SELECT payload, MAP[
  'dlq.reason', CAST(CASE WHEN payload IS JSON OBJECT THEN 'invalid-event' ELSE 'not-a-json-object' END AS BYTES),
  'dlq.source', CAST(CONCAT('{{rawTopic}}/', CAST(`partition` AS STRING), '/', CAST(`offset` AS STRING)) AS BYTES)]
FROM invalid_events;

END;
