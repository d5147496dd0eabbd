import assert from "node:assert/strict";
import { parseConsumerConfig } from "../../pipeline/consumer/config";
import { parseProcessorConfig } from "../../pipeline/processor/config";
import { parseProducerConfig } from "../../pipeline/producer/config";
import { ConfigError } from "../../pipeline/shared/env";

function problems(fn: () => unknown): string[] {
    try {
        fn();
    } catch (error) {
        assert.ok(error instanceof ConfigError, String(error));
        return error.problems;
    }
    assert.fail("expected a ConfigError");
}

describe("pipeline app configuration", () => {
    it("producer: defaults, and every bad variable named with its value", () => {
        const c = parseProducerConfig({ KAFKA_BOOTSTRAP_SERVERS: "kafka-1:9092, kafka-2:9092" });
        assert.deepEqual(c.KAFKA_BOOTSTRAP_SERVERS, ["kafka-1:9092", "kafka-2:9092"]);
        assert.equal(c.TOPIC, "viewing-events");
        assert.equal(c.PRODUCER_RATE, 100);
        assert.equal(c.GENERATOR_MODE, "live");
        assert.equal(c.GENERATOR_START_TIME, undefined);
        const backfill = parseProducerConfig({ KAFKA_BOOTSTRAP_SERVERS: "k:9092", GENERATOR_MODE: "backfill", GENERATOR_START_TIME: "2026-01-01T00:00:00Z" });
        assert.equal(backfill.GENERATOR_START_TIME, Date.parse("2026-01-01T00:00:00Z"));

        const found = problems(() => parseProducerConfig({ PRODUCER_RATE: "fast", TOPIC: "bad topic", GENERATOR_MODE: "backfill", GENERATOR_START_TIME: "soon", SCHEMA_REGISTRY_URL: "registry" }));
        assert.equal(found.length, 5, found.join("\n"));
        assert.ok(found.some((p) => p === "KAFKA_BOOTSTRAP_SERVERS (not set): required"));
        assert.ok(found.some((p) => p.startsWith('PRODUCER_RATE ("fast"): expected a number')));
        assert.ok(found.some((p) => p.startsWith('TOPIC ("bad topic")')));
        assert.ok(found.some((p) => p.startsWith('GENERATOR_START_TIME ("soon")')));
        assert.ok(found.some((p) => p.startsWith('SCHEMA_REGISTRY_URL ("registry")')));
    });

    it("producer: a start time belongs to backfill mode, and backfill needs one", () => {
        assert.deepEqual(problems(() => parseProducerConfig({ KAFKA_BOOTSTRAP_SERVERS: "k:9092", GENERATOR_START_TIME: "2026-01-01T00:00:00Z" })),
            ['GENERATOR_START_TIME ("2026-01-01T00:00:00Z"): live mode stamps each event with the time it is sent; set GENERATOR_MODE=backfill to replay from a start time']);
        assert.deepEqual(problems(() => parseProducerConfig({ KAFKA_BOOTSTRAP_SERVERS: "k:9092", GENERATOR_MODE: "backfill" })),
            ["GENERATOR_START_TIME (not set): required when GENERATOR_MODE is backfill (the event time to replay from)"]);
        assert.deepEqual(problems(() => parseProducerConfig({ KAFKA_BOOTSTRAP_SERVERS: "k:9092", GENERATOR_MODE: "replay" })), ['GENERATOR_MODE ("replay"): expected live or backfill']);
    });

    it("treats an empty variable as unset", () => {
        assert.equal(parseProducerConfig({ KAFKA_BOOTSTRAP_SERVERS: "k:9092", PRODUCER_RATE: "" }).PRODUCER_RATE, 100);
    });

    it("consumer: bucket required, booleans and prefixes checked", () => {
        const c = parseConsumerConfig({ KAFKA_BOOTSTRAP_SERVERS: "k:9092", S3_BUCKET: "raw-events", S3_PATH_STYLE: "true" });
        assert.equal(c.S3_PATH_STYLE, true);
        assert.equal(c.ARCHIVE_PREFIX, "aggregates/");
        const found = problems(() => parseConsumerConfig({ KAFKA_BOOTSTRAP_SERVERS: "k", S3_PATH_STYLE: "yes", ARCHIVE_PREFIX: "/abs" }));
        assert.deepEqual(found.map((p) => p.split(" ")[0]).sort(), ["ARCHIVE_PREFIX", "KAFKA_BOOTSTRAP_SERVERS", "S3_BUCKET", "S3_PATH_STYLE"]);
    });

    it("processor: S3 keys come in pairs", () => {
        const base = {
            FLINK_SQL_GATEWAY_URL: "http://gw:8083/", FLINK_REST_URL: "http://jm:8081", KAFKA_BOOTSTRAP_SERVERS: "kafka-1:9092",
            ICEBERG_REST_URI: "http://iceberg:8181", ICEBERG_WAREHOUSE_BUCKET: "iceberg-warehouse",
        };
        const c = parseProcessorConfig(base);
        assert.equal(c.FLINK_SQL_GATEWAY_URL, "http://gw:8083", "trailing slash dropped");
        assert.equal(c.PIPELINE_NAME, "viewing-pipeline");
        const found = problems(() => parseProcessorConfig({ ...base, ICEBERG_S3_ACCESS_KEY_ID: "AKIA" }));
        assert.equal(found.length, 1);
        assert.match(found[0]!, /^ICEBERG_S3_SECRET_ACCESS_KEY .*set both/);
    });
});
