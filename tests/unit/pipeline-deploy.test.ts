import { strict as assert } from "assert";
import { installMocks, isSecretInput } from "./mocks";
installMocks();
import { ConfigError } from "../../components/config";
import { images } from "../../components/versions";
import { parseConsumerConfig } from "../../pipeline/consumer/config";
import { parseProcessorConfig } from "../../pipeline/processor/config";
import { parseProducerConfig } from "../../pipeline/producer/config";
import { build, Built, env, T } from "./build";


describe("pipeline deployment (the last layer)", () => {
    let b: Built;
    before(async () => {
        b = await build({ pipeline: '{"eventsPerSecond": 250}' });
    });

    it("builds one image for the three apps from the pinned Node image", () => {
        const img = b.one(T.build, "pipeline-image");
        assert.deepEqual(img.inputs.buildArgs, { NODE_IMAGE: images.node });
        assert.match((img.inputs.dockerfile as { location: string }).location, /pipeline\/Dockerfile$/);
        assert.match((img.inputs.tags as string[])[0], /^dataplatform\/pipeline:[0-9a-f]{12}$/);
        for (const [name, app] of [["pipeline-producer", "producer"], ["pipeline-processor", "processor"], ["pipeline-archiver", "consumer"]]) {
            const c = b.one(T.container, name);
            assert.equal(c.inputs.image, (img.inputs.tags as string[])[0]);
            assert.deepEqual(c.inputs.command, [app]);
        }
    });

    it("gives each app an environment its own parser accepts, wired to the tiers", () => {
        const processor = parseProcessorConfig(env(b, "pipeline-processor"));
        assert.equal(processor.FLINK_SQL_GATEWAY_URL, "http://flink-sql-gateway:8083");
        assert.equal(processor.FLINK_REST_URL, "http://flink-jobmanager:8081");
        assert.deepEqual(processor.KAFKA_BOOTSTRAP_SERVERS, ["kafka-1:9092"]);
        assert.equal(processor.ICEBERG_REST_URI, "http://iceberg-rest:8181");
        assert.equal(processor.ICEBERG_WAREHOUSE_BUCKET, "iceberg-warehouse");
        assert.equal(processor.S3_ENDPOINT, "http://minio:9000");
        assert.equal(processor.S3_PATH_STYLE, true);
        assert.equal(processor.WATCH_INTERVAL_SECONDS, 15, "the processor stays up as the job's keeper");
        assert.deepEqual([processor.TOPIC_RAW, processor.TOPIC_PROCESSED, processor.TOPIC_DLQ], ["viewing-events", "viewing-aggregates", "viewing-events-dlq"]);

        const producer = parseProducerConfig(env(b, "pipeline-producer"));
        assert.equal(producer.PRODUCER_RATE, 250);
        assert.equal(producer.TOPIC, "viewing-events");
        assert.equal(producer.SCHEMA_REGISTRY_URL, "http://schema-registry:8081");

        const archiver = parseConsumerConfig(env(b, "pipeline-archiver"));
        assert.equal(archiver.TOPIC, "viewing-aggregates");
        assert.equal(archiver.S3_BUCKET, "raw-events");
        assert.equal(archiver.S3_PATH_STYLE, true);
    });

    it("hands the archiver its own S3 keys, as secrets", () => {
        assert.ok(isSecretInput(b.one(T.container, "pipeline-archiver").inputs.envs));
        assert.equal(env(b, "pipeline-archiver").AWS_ACCESS_KEY_ID, "svc-archiver");
        assert.equal(env(b, "pipeline-producer").AWS_ACCESS_KEY_ID, undefined);
    });

    it("checks health over HTTP with Node itself and caps each Node heap inside its limit", () => {
        for (const name of ["pipeline-producer", "pipeline-processor", "pipeline-archiver"]) {
            const c = b.one(T.container, name);
            assert.deepEqual((c.inputs.healthcheck as { tests: string[] }).tests.slice(0, 3), ["CMD", "node", "-e"]);
            const heap = Number(/--max-old-space-size=(\d+)/.exec(env(b, name).NODE_OPTIONS)![1]);
            assert.ok(heap > 0 && heap < Number(c.inputs.memory), `${name}: heap ${heap} in ${c.inputs.memory} MiB`);
            assert.deepEqual(c.inputs.ports, [], "nothing of the pipeline is published");
        }
    });

    it("rejects the pipeline without the tiers it runs on, and a bad rate", async () => {
        await assert.rejects(
            () => build({ tiers: '{"flink": false}' }),
            (e: unknown) => e instanceof ConfigError && /dataplatform:tiers\.pipeline = \(not set\): the pipeline runs on the kafka and flink tiers; enable tiers\.flink/.test(e.message),
        );
        await assert.rejects(() => build({ pipeline: '{"eventsPerSecond": 0}' }), /dataplatform:pipeline\.eventsPerSecond = 0: expected 1 to 100000 events per second/);
    });
});
