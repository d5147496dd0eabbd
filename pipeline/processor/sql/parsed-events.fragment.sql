-- Every record with its fields pulled out of the JSON and one verdict: is_valid mirrors the
-- event's JSON Schema (pipeline/events/schema.ts). COALESCE: a missing field makes the
-- predicate NULL, and NULL must count as invalid, not vanish from both paths.
-- A fragment, pasted into both views below: a view built on another view fails in a statement
-- set on Flink 2.0 ("belongs to a different planner than is currently being used").
SELECT *,
  COALESCE(
    payload IS JSON OBJECT
    AND REGEXP(event_id, '{{uuidPattern}}')
    AND REGEXP(session_id, '{{uuidPattern}}')
    AND CHAR_LENGTH(user_id) BETWEEN 1 AND 64
    AND CHAR_LENGTH(title_id) BETWEEN 1 AND 64
    AND device IN ({{devices}})
    AND country IN ({{countries}})
    AND event_type IN ({{eventTypes}})
    AND position_seconds >= 0
    AND bitrate_kbps >= 1
    AND event_time >= 0,
    FALSE) AS is_valid
FROM (
  SELECT
    JSON_VALUE(payload, '$.event_id') AS event_id,
    JSON_VALUE(payload, '$.session_id') AS session_id,
    JSON_VALUE(payload, '$.user_id') AS user_id,
    JSON_VALUE(payload, '$.title_id') AS title_id,
    JSON_VALUE(payload, '$.device') AS device,
    JSON_VALUE(payload, '$.country') AS country,
    JSON_VALUE(payload, '$.event_type') AS event_type,
    TRY_CAST(JSON_VALUE(payload, '$.position_seconds') AS INT) AS position_seconds,
    TRY_CAST(JSON_VALUE(payload, '$.bitrate_kbps') AS INT) AS bitrate_kbps,
    TRY_CAST(JSON_VALUE(payload, '$.event_time') AS BIGINT) AS event_time,
    event_ts,
    payload,
    `partition`,
    `offset`
  FROM raw_events
)
