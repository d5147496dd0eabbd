-- Valid events feed the aggregate and the lake; the rest are dead letters. Both views parse
-- with the same fragment (parsed-events.fragment.sql), so every record lands in exactly one.
CREATE TEMPORARY VIEW valid_events AS
SELECT * FROM (
{{parsed-events}}
) WHERE is_valid;

CREATE TEMPORARY VIEW invalid_events AS
SELECT * FROM (
{{parsed-events}}
) WHERE NOT is_valid;
