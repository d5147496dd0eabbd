import { strict as assert } from "assert";
import { installMocks, isSecretInput, plain } from "./mocks";
installMocks();
import { ConfigError } from "../../components/config";
import { replication } from "../../components/kafka";
import { apacheKafkaEnv, confluentEnv, springEnv } from "../../components/kafka/env";
import { build, Built, env, T } from "./build";

const TOPIC = "pulumi-nodejs:dynamic/dataplatform:KafkaTopic";

/** A container's environment as a map (secret values unwrapped). */

/** Names of the containers the Kafka tier renders. */
function kafkaContainers(b: Built): string[] {
    return b
        .ofType(T.container)
        .filter((c) => (c.inputs.labels as { label: string; value: string }[]).some((l) => l.label === "dataplatform.tier" && l.value === "kafka"))
        .map((c) => c.name);
}

function heapMiB(opts: string): number {
    const m = /-Xmx(\d+)m/.exec(opts);
    assert.ok(m, `no -Xmx in ${opts}`);
    return Number(m[1]);
}

describe("Kafka tier", () => {
    describe("environment mapping per image family", () => {
        it("apache/kafka: '.' -> '_', '_' -> '__', '-' -> '___'", () => {
            assert.deepEqual(apacheKafkaEnv({ "transaction.state.log.min.isr": "1", "a_b-c.d": "x" }), {
                KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: "1",
                KAFKA_A__B___C_D: "x",
            });
        });
        it("Confluent images: prefix, '.' -> '_', '-' -> '__', '_' -> '___'", () => {
            assert.deepEqual(confluentEnv("KSQL", { "ksql.schema.registry.url": "u" }), { KSQL_KSQL_SCHEMA_REGISTRY_URL: "u" });
            assert.deepEqual(confluentEnv("CONTROL_CENTER", { "connect.connect-default.cluster": "c", "a_b": "x" }), {
                CONTROL_CENTER_CONNECT_CONNECT__DEFAULT_CLUSTER: "c",
                CONTROL_CENTER_A___B: "x",
            });
        });
        it("Spring (kafbat): indexes and camelCase", () => {
            assert.deepEqual(springEnv({ "kafka.clusters[0].bootstrapServers": "b", "kafka.clusters[0].kafkaConnect[1].address": "a" }), {
                KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS: "b",
                KAFKA_CLUSTERS_0_KAFKACONNECT_1_ADDRESS: "a",
            });
        });
        it("refuses two properties that collide on one variable", () => {
            assert.throws(() => springEnv({ "a.bC": "1", "a.bc": "2" }), /same variable A_BC/);
        });
    });

    it("derives replication from the broker count", () => {
        assert.deepEqual(replication(1), { factor: 1, minInSync: 1 });
        assert.deepEqual(replication(2), { factor: 2, minInSync: 1 });
        assert.deepEqual(replication(3), { factor: 3, minInSync: 2 });
        assert.deepEqual(replication(5), { factor: 3, minInSync: 2 });
    });

    describe("laptop profile", () => {
        let b: Built;
        before(async () => {
            b = await build();
        });

        it("renders one combined KRaft node, Schema Registry, Connect, ksqlDB and kafbat", () => {
            const names = kafkaContainers(b).sort();
            assert.deepEqual(names, ["kafka-1", "kafka-connect", "kafka-ui", "ksqldb", "schema-registry"]);
            const k = env(b, "kafka-1");
            assert.equal(k.KAFKA_PROCESS_ROLES, "broker,controller");
            assert.equal(k.KAFKA_CONTROLLER_QUORUM_VOTERS, "1@kafka-1:9093");
            assert.equal(k.KAFKA_ADVERTISED_LISTENERS, "INTERNAL://kafka-1:9092,HOST://127.0.0.1:9092");
            assert.equal(k.KAFKA_DEFAULT_REPLICATION_FACTOR, "1");
            assert.equal(k.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR, "1");
            assert.equal(k.KAFKA_MIN_INSYNC_REPLICAS, "1");
            assert.equal(k.KAFKA_AUTO_CREATE_TOPICS_ENABLE, "false");
            assert.equal(k.KAFKA_LOG_DIRS, "/var/lib/kafka/data");
            assert.equal(k.CLUSTER_ID, "Q2x1c3Rlci1JZC0xMjM0NQ", "the cluster id comes from state, not from each container start");
            assert.deepEqual(plain(b.one(T.container, "kafka-1").inputs.volumes), [{ volumeName: "dataplatform-test-kafka-1-data", containerPath: "/var/lib/kafka/data" }]);
        });

        it("wires the companions to the brokers and to each other", () => {
            assert.equal(env(b, "schema-registry").SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS, "kafka-1:9092");
            const c = env(b, "kafka-connect");
            assert.equal(c.CONNECT_BOOTSTRAP_SERVERS, "kafka-1:9092");
            assert.equal(c.CONNECT_CONFIG_STORAGE_REPLICATION_FACTOR, "1");
            assert.match(c.CONNECT_PLUGIN_PATH, /\/opt\/connect-plugins/);
            const k = env(b, "ksqldb");
            assert.equal(k.KSQL_KSQL_SCHEMA_REGISTRY_URL, "http://schema-registry:8081");
            assert.equal(k.KSQL_KSQL_CONNECT_URL, "http://kafka-connect:8083");
            const ui = env(b, "kafka-ui");
            assert.equal(ui.KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS, "kafka-1:9092");
            assert.equal(ui.KAFKA_CLUSTERS_0_KSQLDBSERVER, "http://ksqldb:8088");
            assert.equal(ui.AUTH_TYPE, "LOGIN_FORM");
        });

        it("protects the UI with a generated password passed as a secret", async () => {
            const ui = b.one(T.container, "kafka-ui");
            assert.ok(isSecretInput(ui.inputs.envs));
            assert.equal(env(b, "kafka-ui").SPRING_SECURITY_USER_PASSWORD, "secret-material-ui-password");
        });

        it("sets every JVM heap inside its container's memory limit", () => {
            const heapVar: Record<string, string> = {
                "kafka-1": "KAFKA_HEAP_OPTS",
                "schema-registry": "SCHEMA_REGISTRY_HEAP_OPTS",
                "kafka-connect": "KAFKA_HEAP_OPTS",
                ksqldb: "KSQL_HEAP_OPTS",
                "kafka-ui": "JAVA_OPTS",
            };
            for (const [name, v] of Object.entries(heapVar)) {
                const limit = Number(b.one(T.container, name).inputs.memory);
                const heap = heapMiB(env(b, name)[v]);
                assert.ok(heap > 0 && heap <= limit * 0.7, `${name}: heap ${heap} MiB in a ${limit} MiB limit`);
            }
        });

        it("declares the pipeline's topics with partitions, replication and retention", () => {
            const topics = b.ofType(TOPIC).map((t) => plain(t.inputs) as Record<string, unknown>);
            assert.deepEqual(
                topics.map((t) => [t.name, t.partitions, t.replicationFactor, (t.config as Record<string, string>)["retention.ms"]]).sort(),
                [
                    ["viewing-aggregates", 3, 1, String(720 * 3_600_000)],
                    ["viewing-events", 6, 1, String(168 * 3_600_000)],
                    ["viewing-events-dlq", 1, 1, String(720 * 3_600_000)],
                ],
            );
            for (const t of topics) assert.deepEqual(t.brokers, [{ reach: { address: "127.0.0.1:9092" }, advertised: "127.0.0.1:9092" }]);
            assert.ok(b.ofType(TOPIC).every((t) => typeof t.inputs.__provider === "string" && String(t.inputs.__provider).length > 0), "the provider serializes");
        });

        it("publishes the broker, registry, Connect, ksqlDB and UI on 127.0.0.1", () => {
            const published = (n: string) => (plain(b.one(T.container, n).inputs.ports) as { ip: string; external: number }[]).map((p) => `${p.ip}:${p.external}`);
            assert.deepEqual(published("kafka-1"), ["127.0.0.1:9092"]);
            assert.deepEqual(published("schema-registry"), ["127.0.0.1:8081"]);
            assert.deepEqual(published("kafka-connect"), ["127.0.0.1:8083"]);
            assert.deepEqual(published("ksqldb"), ["127.0.0.1:8088"]);
            assert.deepEqual(published("kafka-ui"), ["127.0.0.1:8080"]);
        });
    });

    describe("workstation profile", () => {
        let b: Built;
        before(async () => {
            b = await build({ profile: "workstation" });
        });

        it("renders a three-controller quorum and three brokers with RF 3 and min ISR 2", () => {
            const names = kafkaContainers(b);
            for (const n of ["kafka-controller-1", "kafka-controller-2", "kafka-controller-3", "kafka-1", "kafka-2", "kafka-3"]) assert.ok(names.includes(n), n);
            const voters = "1@kafka-controller-1:9093,2@kafka-controller-2:9093,3@kafka-controller-3:9093";
            for (const c of [1, 2, 3]) {
                const e = env(b, `kafka-controller-${c}`);
                assert.equal(e.KAFKA_PROCESS_ROLES, "controller");
                assert.equal(e.KAFKA_NODE_ID, String(c));
                assert.equal(e.KAFKA_CONTROLLER_QUORUM_VOTERS, voters);
                assert.equal(e.KAFKA_ADVERTISED_LISTENERS, undefined);
            }
            for (const i of [1, 2, 3]) {
                const e = env(b, `kafka-${i}`);
                assert.equal(e.KAFKA_PROCESS_ROLES, "broker");
                assert.equal(e.KAFKA_NODE_ID, String(3 + i));
                assert.equal(e.KAFKA_CONTROLLER_QUORUM_VOTERS, voters);
                assert.equal(e.KAFKA_DEFAULT_REPLICATION_FACTOR, "3");
                assert.equal(e.KAFKA_MIN_INSYNC_REPLICAS, "2");
                assert.equal(e.KAFKA_TRANSACTION_STATE_LOG_MIN_ISR, "2");
                assert.equal(e.KAFKA_ADVERTISED_LISTENERS, `INTERNAL://kafka-${i}:9092,HOST://127.0.0.1:${9091 + i}`);
            }
            assert.equal(env(b, "ksqldb").KSQL_BOOTSTRAP_SERVERS, "kafka-1:9092,kafka-2:9092,kafka-3:9092");
            assert.equal(env(b, "kafka-connect").CONNECT_STATUS_STORAGE_REPLICATION_FACTOR, "3");
        });

        it("creates the topics with three replicas, two in sync", () => {
            for (const t of b.ofType(TOPIC)) {
                assert.equal(t.inputs.replicationFactor, 3);
                assert.equal((t.inputs.config as Record<string, string>)["min.insync.replicas"], "2");
                assert.deepEqual(plain(t.inputs.brokers), [9092, 9093, 9094].map((p) => ({ reach: { address: `127.0.0.1:${p}` }, advertised: `127.0.0.1:${p}` })));
            }
        });

        it("can run Control Center instead of kafbat", async () => {
            const c3 = await build({ profile: "workstation", kafka: '{"ui": "control-center"}' });
            const names = kafkaContainers(c3);
            assert.ok(names.includes("control-center") && !names.includes("kafka-ui"));
            assert.equal(env(c3, "control-center").CONTROL_CENTER_REPLICATION_FACTOR, "3");
        });
    });

    describe("rejects bad Kafka settings before any resource", () => {
        const rejects = async (config: Record<string, string>, re: RegExp) => {
            await assert.rejects(() => build(config), (e: unknown) => e instanceof ConfigError && re.test(e.message));
        };
        it("zero brokers", () => rejects({ kafka: '{"brokers": 0}' }, /dataplatform:kafka\.brokers = 0: expected 1 to 9 brokers/));
        it("a topic replicated more than there are brokers", () =>
            rejects({ kafka: '{"topics": {"raw": {"replicationFactor": 3}}}' }, /dataplatform:kafka\.topics\.raw\.replicationFactor = 3: expected at most 1, the number of brokers/));
        it("an unknown UI", () => rejects({ kafka: '{"ui": "akhq"}' }, /dataplatform:kafka\.ui = "akhq": .*"kafbat"\|"control-center"\|"none"/));
        it("Control Center on a laptop, which does not fit its memory share", () =>
            rejects({ kafka: '{"ui": "control-center"}' }, /dataplatform:kafka = .*"ui":"control-center".*needs 3072 MiB .*share of 2304 MiB/));
        it("more brokers than the laptop's share holds", () => rejects({ kafka: '{"brokers": 3}' }, /dataplatform:kafka = \{"brokers":3.*more than the laptop profile's share/));
        it("broker host ports running into another service's port", () =>
            rejects({ profile: "workstation", ports: '{"kafka": 8999}' }, /dataplatform:ports\.kafka = 8999: port clash: ports\.minioApi is also 9000 \(ports\.kafka takes 8999-9001, one per broker\)/));
        it("an invalid topic name", () => rejects({ kafka: '{"topics": {"raw": {"name": "bad topic"}}}' }, /dataplatform:kafka\.topics\.raw\.name = "bad topic"/));
    });

    it("is absent when the tier is disabled", async () => {
        // Druid ingests from Kafka, so it goes too (the schema refuses druid without kafka).
        const b = await build({ tiers: '{"kafka": false, "druid": false, "pipeline": false}' });
        assert.deepEqual(kafkaContainers(b), []);
        assert.ok(b.ofType(T.container).some((c) => c.name === "minio"));
        assert.deepEqual(b.ofType(TOPIC), []);
    });
});
