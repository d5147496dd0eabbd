import { strict as assert } from "assert";
import { installMocks, leakedSecrets, plain, PROJECT, resolve, SECRET_MARK } from "./mocks";
installMocks();
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseStackConfig, profiles } from "../../components/config";
import { DruidRole, DruidTier, druidEnv, druidExtensions, druidInstances, druidRoleEnvs, druidMemoryPlan, druidProperty, druidRoleProperties, druidRoles, druidSizes, jvmOptions, measuredNonHeapMiB, processingRoles } from "../../components/druid";
import { DeployedService, Platform, ServiceSpec } from "../../components/platform/types";
import { build, Built, env, T } from "./build";

const SUPERVISOR = "pulumi-nodejs:dynamic/dataplatform:DruidKafkaSupervisor";
const S3 = { objectStore: "s3", "aws:region": "eu-west-1" };
const roleContainers = druidRoles.map((r) => `druid-${r}`);

/** A container's environment as a map (secret values unwrapped). */

const mib = (v: string) => {
    const m = /^(\d+)(m|MiB)$/.exec(v);
    assert.ok(m, `not a MiB size: ${v}`);
    return Number(m[1]);
};

const parse = (raw: Record<string, string>) => parseStackConfig(Object.fromEntries(Object.entries(raw).map(([k, v]) => [`${PROJECT}:${k}`, v])), PROJECT, "test");

function rejects(raw: Record<string, string>, expected: RegExp): void {
    assert.throws(() => parse(raw), (e: unknown) => e instanceof ConfigError && expected.test(e.message));
}

/** Stands in for a started container: something dependents can wait on. */
class Ready extends pulumi.CustomResource {
    constructor(name: string) {
        super("test:index:Ready", name, {});
    }
}

/** Records the tier's service descriptions, to see what it puts in env and what in secretEnv. */
class RecordingPlatform implements Platform {
    readonly kind = "docker" as const;
    readonly hostAddress = "127.0.0.1";
    readonly specs: ServiceSpec[] = [];
    deploy(spec: ServiceSpec): DeployedService {
        this.specs.push(spec);
        const ports = spec.ports ?? [];
        return {
            name: spec.name,
            tier: spec.tier,
            memoryMiB: spec.memoryMiB,
            ready: new Ready(`${spec.name}-ready`),
            internal: Object.fromEntries(ports.map((p) => [p.name, `${spec.name}:${p.containerPort}`])),
            published: Object.fromEntries(ports.filter((p) => p.hostPort).map((p) => [p.name, `127.0.0.1:${p.hostPort}`])),
            reach: Object.fromEntries(ports.filter((p) => p.hostPort).map((p) => [p.name, { address: `127.0.0.1:${p.hostPort}` }])),
        };
    }
}

describe("Druid tier", () => {
    describe("environment mapping (druid.sh: '__' -> '_', then '_' -> '.')", () => {
        it("renders properties as druid_* variables that read back as the same properties", () => {
            const props = { "druid.s3.enablePathStyleAccess": "true", "druid.indexer.logs.s3Bucket": "b", "druid.metadata.storage.connector.connectURI": "jdbc:x", "druid.some_key": "v" };
            const out = druidEnv(props);
            assert.deepEqual(out, {
                druid_s3_enablePathStyleAccess: "true",
                druid_indexer_logs_s3Bucket: "b",
                druid_metadata_storage_connector_connectURI: "jdbc:x",
                druid_some__key: "v",
            });
            for (const [name, value] of Object.entries(out)) assert.equal(props[druidProperty(name) as keyof typeof props], value);
        });
        it("refuses keys the image would not map back unchanged", () => {
            assert.throws(() => druidEnv({ "druid.a._b": "x" }), /druid\.a\._b cannot be expressed .*druid_a___b reads back as druid\.a_\.b/);
            assert.throws(() => druidEnv({ "aws.region": "x" }), /aws\.region: the image maps only druid\.\* keys/);
        });
    });

    describe("laptop profile with MinIO", () => {
        let b: Built;
        before(async () => {
            b = await build();
        });

        it("renders ZooKeeper, the metadata database and every Druid role from pinned images", () => {
            const druid = b.ofType(T.container).filter((c) => (c.inputs.labels as { label: string; value: string }[]).some((l) => l.label === "dataplatform.tier" && l.value === "druid"));
            assert.deepEqual(druid.map((c) => c.name).sort(), ["druid-zookeeper", "druid-db", ...roleContainers].sort());
            for (const r of druidRoles) {
                assert.deepEqual(b.one(T.container, `druid-${r}`).inputs.command, [r]);
                assert.equal(env(b, `druid-${r}`).druid_host, `druid-${r}`);
            }
            assert.ok(b.ofType(T.image).some((i) => i.inputs.name === "apache/druid:33.0.0"));
            assert.ok(b.ofType(T.image).some((i) => i.inputs.name === "zookeeper:3.9.4"));
            assert.equal(env(b, "druid-coordinator").druid_coordinator_asOverlord_enabled, "true");
            assert.equal(env(b, "druid-coordinator").druid_indexer_runner_type, "remote");
        });

        it("sizes each JVM inside its container: heap + the measured non-heap memory, buffers inside direct memory", () => {
            for (const name of roleContainers) {
                const e = env(b, name);
                const limit = Number(b.one(T.container, name).inputs.memory);
                const heap = mib(e.DRUID_XMX);
                const direct = mib(e.DRUID_MAXDIRECTMEMORYSIZE);
                const nonHeap = measuredNonHeapMiB[name.replace("druid-", "") as DruidRole];
                assert.equal(e.DRUID_XMS, e.DRUID_XMX, `${name}: fixed-size heap`);
                assert.equal(e.JAVA_OPTS, jvmOptions);
                assert.ok(heap + nonHeap <= limit, `${name}: heap ${heap} + measured non-heap ${nonHeap} > limit ${limit}`);
                assert.ok(heap + direct < limit, `${name}: heap ${heap} + direct ${direct} >= limit ${limit}`);
                if (!processingRoles.includes(name.replace("druid-", "") as DruidRole)) {
                    assert.equal(e.druid_processing_buffer_sizeBytes, undefined, `${name} runs no queries: Druid sizes its buffers from direct memory`);
                    continue;
                }
                // Druid refuses to start when direct memory cannot hold its processing buffers.
                const buffers = mib(e.druid_processing_buffer_sizeBytes) * (Number(e.druid_processing_numThreads) + Number(e.druid_processing_numMergeBuffers) + 1);
                assert.ok(buffers <= direct, `${name}: ${buffers} MiB of processing buffers > ${direct} MiB direct`);
            }
            assert.equal(env(b, "druid-zookeeper").ZK_SERVER_HEAP, "48");
            assert.ok(48 + 32 < Number(b.one(T.container, "druid-zookeeper").inputs.memory));
            // The historical's on-heap cache must fit its heap (the image's default is 256 MiB).
            assert.ok(mib(env(b, "druid-historical").druid_cache_sizeInBytes) * 4 <= mib(env(b, "druid-historical").DRUID_XMX));
        });

        it("keeps the whole tier inside the laptop's Druid share of 2048 MiB", () => {
            const names = ["druid-zookeeper", "druid-db", ...roleContainers];
            const total = names.reduce((sum, n) => sum + Number(b.one(T.container, n).inputs.memory), 0);
            assert.ok(total <= profiles.laptop.tierMiB.druid, `${total} MiB`);
            assert.deepEqual(druidMemoryPlan({ profile: "laptop" }), Object.fromEntries(names.map((n) => [n, Number(b.one(T.container, n).inputs.memory)])));
        });

        it("loads the Kafka ingestion, S3 and PostgreSQL extensions on every role", () => {
            for (const name of roleContainers) {
                const list = JSON.parse(env(b, name).druid_extensions_loadList) as string[];
                for (const ext of ["druid-kafka-indexing-service", "druid-s3-extensions", "postgresql-metadata-storage"]) assert.ok(list.includes(ext), `${name}: ${ext}`);
                assert.deepEqual(list, druidExtensions);
            }
        });

        it("renders each role's own settings from druidRoleProperties", () => {
            for (const r of druidRoles) {
                const e = env(b, `druid-${r}`);
                for (const [name, value] of Object.entries(druidEnv(druidRoleProperties(r, "laptop")))) assert.equal(e[name], value, `druid-${r}: ${name}`);
            }
        });

        it("renders each role's whole environment from druidRoleEnvs, the function the test Druid runs, and nothing beside it", () => {
            const envs = druidRoleEnvs<string>({
                profile: "laptop",
                store: { bucket: "druid-deep-storage", endpoint: "http://minio:9000", pathStyle: true, region: "us-east-1" },
                dbPassword: `${SECRET_MARK}db-password`,
                s3: { accessKeyId: "svc-druid", secretAccessKey: `${SECRET_MARK}druid-secret` },
            });
            for (const r of druidRoles) assert.deepEqual(env(b, `druid-${r}`), { ...envs[r].env, ...envs[r].secretEnv }, `druid-${r}`);
        });

        it("frees a task slot within a minute of publishing: segments polled and handoff asked every 15 s", () => {
            assert.equal(env(b, "druid-coordinator").druid_manager_segments_pollDuration, "PT15S");
            assert.equal(env(b, "druid-indexer").druid_segment_handoff_pollDuration, "PT15S");
            assert.equal(env(b, "druid-coordinator").druid_coordinator_period, "PT30S");
            assert.equal(env(b, "druid-indexer").druid_worker_capacity, "2");
        });

        it("keeps segments and task logs in the Druid bucket on MinIO (endpoint, path style, region)", () => {
            for (const name of roleContainers) {
                const e = env(b, name);
                assert.equal(e.druid_storage_type, "s3");
                assert.equal(e.druid_storage_bucket, "druid-deep-storage");
                assert.equal(e.druid_storage_baseKey, "segments");
                assert.equal(e.druid_indexer_logs_type, "s3");
                assert.equal(e.druid_indexer_logs_s3Bucket, "druid-deep-storage");
                assert.equal(e.druid_indexer_logs_s3Prefix, "task-logs");
                assert.equal(e.druid_s3_endpoint_url, "http://minio:9000");
                assert.equal(e.druid_s3_endpoint_signingRegion, "us-east-1");
                assert.equal(e.druid_s3_enablePathStyleAccess, "true");
                assert.equal(e.AWS_REGION, "us-east-1");
                assert.equal(e.druid_s3_accessKey, "svc-druid");
                assert.equal(e.druid_s3_secretKey, `${SECRET_MARK}druid-secret`);
                assert.equal(e.druid_metadata_storage_type, "postgresql");
                assert.equal(e.druid_metadata_storage_connector_connectURI, "jdbc:postgresql://druid-db:5432/druid");
                assert.equal(e.druid_metadata_storage_connector_password, `${SECRET_MARK}db-password`);
                assert.equal(e.druid_zk_service_host, "druid-zookeeper:2181");
            }
            assert.equal(env(b, "druid-db").POSTGRES_PASSWORD, `${SECRET_MARK}db-password`);
        });

        it("checks health with wget (the image has no curl), readiness for broker and historical", () => {
            const health = (n: string) => (b.one(T.container, n).inputs.healthcheck as { tests: string[] }).tests;
            assert.deepEqual(health("druid-broker"), ["CMD", "wget", "-q", "-T", "5", "-O", "/dev/null", "http://localhost:8082/druid/broker/v1/readiness"]);
            assert.match(health("druid-historical").at(-1)!, /^http:\/\/localhost:8083\/druid\/historical\/v1\/readiness$/);
            assert.match(health("druid-coordinator").at(-1)!, /^http:\/\/localhost:8081\/druid\/indexer\/v1\/isLeader$/);
            assert.match(health("druid-indexer").at(-1)!, /:8091\/status\/health$/);
            assert.match(health("druid-router").at(-1)!, /:8888\/status\/health$/);
            assert.equal(health("druid-zookeeper")[1], "bash");
        });

        it("publishes only the router, on 127.0.0.1:8888, and keeps data on volumes the druid user owns", () => {
            const published = (n: string) => (plain(b.one(T.container, n).inputs.ports) as { ip: string; external: number; internal: number }[]).map((p) => `${p.ip}:${p.external}->${p.internal}`);
            assert.deepEqual(published("druid-router"), ["127.0.0.1:8888->8888"]);
            for (const n of ["druid-coordinator", "druid-broker", "druid-historical", "druid-indexer", "druid-zookeeper", "druid-db"]) assert.deepEqual(published(n), []);
            const mounts = (n: string) => (plain(b.one(T.container, n).inputs.volumes) as { containerPath: string }[]).map((v) => v.containerPath);
            // /opt/druid/var exists in the image owned by uid 1000, so a fresh named volume copies that owner.
            assert.deepEqual(mounts("druid-historical"), ["/opt/druid/var"]);
            assert.deepEqual(mounts("druid-indexer"), ["/opt/druid/var"]);
            assert.deepEqual(mounts("druid-zookeeper"), ["/data", "/datalog"]);
            assert.match(env(b, "druid-historical").druid_segmentCache_locations, /"path":"\/opt\/druid\/var\//);
        });

        it("declares the aggregates supervisor: processed topic, internal bootstrap, published router", () => {
            const s = plain(b.one(SUPERVISOR, "supervisor-aggregates").inputs) as Record<string, unknown>;
            assert.deepEqual(s.router, { address: "127.0.0.1:8888" });
            assert.equal(s.dataSource, "viewing_aggregates");
            assert.deepEqual(s.spec, {
                type: "kafka",
                spec: {
                    dataSchema: {
                        dataSource: "viewing_aggregates",
                        timestampSpec: { column: "window_start", format: "iso" },
                        dimensionsSpec: { dimensions: ["title_id", "title", "genre", "country", "device"] },
                        metricsSpec: [
                            { type: "count", name: "input_rows" },
                            { type: "longSum", name: "plays", fieldName: "plays" },
                            { type: "longMax", name: "unique_viewers", fieldName: "unique_viewers" },
                            { type: "doubleSum", name: "watch_seconds", fieldName: "watch_seconds" },
                        ],
                        granularitySpec: { type: "uniform", segmentGranularity: "HOUR", queryGranularity: "MINUTE", rollup: true },
                    },
                    ioConfig: {
                        topic: "viewing-aggregates",
                        inputFormat: { type: "json" },
                        consumerProperties: { "bootstrap.servers": "kafka-1:9092" },
                        useEarliestOffset: true,
                        taskCount: 1,
                        replicas: 1,
                        taskDuration: "PT1H",
                    },
                    tuningConfig: { type: "kafka" },
                },
            });
        });

        it("outputs the router, broker and overlord URLs", async () => {
            const d = (await resolve(b.stack.outputs.druid)) as Record<string, unknown>;
            assert.deepEqual(d, {
                routerUrl: "http://127.0.0.1:8888",
                routerUrlInternal: "http://druid-router:8888",
                brokerUrlInternal: "http://druid-broker:8082",
                brokerSqlAlchemyUri: "druid://druid-broker:8082/druid/v2/sql/",
                overlordUrl: "http://127.0.0.1:8888",
                overlordUrlInternal: "http://druid-coordinator:8081",
                dataSource: "viewing_aggregates",
            });
        });

        it("registers no generated secret outside a secret wrapper", () => {
            const druid = b.all.filter((r) => r.parents.includes("dataplatform:druid:Druid"));
            assert.ok(druid.length > 7);
            assert.deepEqual(druid.flatMap((r) => leakedSecrets(r.inputs).map((p) => `${r.name}${p}`)), []);
        });
    });

    describe("the tier's service descriptions", () => {
        const platform = new RecordingPlatform();
        before(() => {
            const cfg = parse({});
            const store = {
                kind: "minio" as const,
                endpoint: pulumi.output("http://minio:9000"),
                hostEndpoint: pulumi.output("http://127.0.0.1:9000"),
                consoleUrl: pulumi.output(""),
                region: "us-east-1",
                pathStyle: true,
                buckets: { raw: pulumi.output("r"), warehouse: pulumi.output("w"), druid: pulumi.output("d"), checkpoints: pulumi.output("c") },
                credentials: Object.fromEntries(
                    ["flink", "iceberg", "druid", "archiver"].map((k) => [k, { kind: "keys", accessKeyId: pulumi.output(`id-${k}`), secretAccessKey: pulumi.secret(`key-${k}`) }]),
                ) as never,
                ready: [],
                services: [],
            };
            new DruidTier("druid-spec", cfg, platform, { store, kafka: { bootstrapInternal: "kafka-1:9092", topics: { raw: pulumi.output("a"), processed: pulumi.output("b"), deadLetter: pulumi.output("c") }, ready: [] } });
        });
        const spec = (name: string) => platform.specs.find((s) => s.name === name)!;

        it("passes the database password and the S3 keys only as secret env", () => {
            const secretKeys = ["druid_metadata_storage_connector_password", "druid_s3_accessKey", "druid_s3_secretKey"];
            for (const name of roleContainers) {
                assert.deepEqual(Object.keys(spec(name).secretEnv ?? {}).sort(), [...secretKeys].sort());
                for (const k of secretKeys) assert.ok(!(k in (spec(name).env ?? {})), `${name}: ${k} in plain env`);
            }
        });

        it("starts in order of health: ZooKeeper and database, coordinator, the data and query roles, router", () => {
            const deps = (name: string) => (spec(name).dependsOn ?? []).map((d) => d.name).sort();
            assert.deepEqual(deps("druid-coordinator"), ["druid-db", "druid-zookeeper"]);
            for (const r of ["broker", "historical", "indexer"]) assert.deepEqual(deps(`druid-${r}`), ["druid-coordinator", "druid-db", "druid-zookeeper"]);
            assert.deepEqual(deps("druid-router"), ["druid-broker", "druid-coordinator", "druid-historical", "druid-indexer"]);
        });
    });

    it("on AWS S3: no endpoint override, virtual-hosted style, the suffixed bucket, the stack's region", async () => {
        const b = await build(S3);
        for (const name of roleContainers) {
            const e = env(b, name);
            assert.equal(e.druid_s3_endpoint_url, undefined);
            assert.equal(e.druid_s3_endpoint_signingRegion, undefined);
            assert.equal(e.druid_s3_enablePathStyleAccess, "false");
            assert.match(e.druid_storage_bucket, /^druid-deep-storage-\w+$/);
            assert.equal(e.druid_indexer_logs_s3Bucket, e.druid_storage_bucket);
            assert.equal(e.AWS_REGION, "eu-west-1");
        }
    });

    for (const profile of ["workstation", "cluster"] as const) {
        it(`${profile}: larger JVMs, still inside each container and the ${profiles[profile].tierMiB.druid} MiB share`, async () => {
            const b = await build({ profile });
            const plan = druidMemoryPlan({ profile });
            assert.deepEqual(plan, Object.fromEntries(Object.keys(plan).map((n) => [n, Number(b.one(T.container, n).inputs.memory)])));
            const total = Object.values(plan).reduce((a, m) => a + m, 0);
            assert.ok(total <= profiles[profile].tierMiB.druid, `${total} MiB`);
            const size = druidSizes[profile];
            for (const r of druidRoles) {
                const s = size.roles[r];
                // The measurements hold the laptop's buffers; larger buffers add the difference.
                const buffers = (p: typeof druidSizes.laptop.processing) => (processingRoles.includes(r) ? p.bufferMiB * (p.numThreads + p.numMergeBuffers) : 0);
                const resident = s.heapMiB + measuredNonHeapMiB[r] + buffers(size.processing) - buffers(druidSizes.laptop.processing);
                assert.ok(resident <= s.limitMiB, `${r}: ${resident} > ${s.limitMiB}`);
                assert.ok(s.heapMiB + s.directMiB < s.limitMiB, `${r}: heap + direct within the limit`);
                // Druid refuses to start when direct memory cannot hold its processing buffers.
                if (processingRoles.includes(r)) assert.ok(buffers(size.processing) + size.processing.bufferMiB <= s.directMiB, `${r}: buffers within direct memory`);
                for (const name of druidInstances(r, profile)) assert.equal(env(b, name).DRUID_XMX, `${s.heapMiB}m`, name);
            }
            assert.ok(size.cacheMiB * 4 <= size.roles.historical.heapMiB, "the historical's cache fits its heap");
        });
    }

    it("cluster: two brokers and two historicals, each its own service announcing its own host, the same role otherwise", async () => {
        const b = await build({ profile: "cluster" });
        assert.deepEqual(druidInstances("broker", "cluster"), ["druid-broker", "druid-broker-2"]);
        assert.deepEqual(druidInstances("historical", "cluster"), ["druid-historical", "druid-historical-2"]);
        for (const r of druidRoles.filter((x) => x !== "broker" && x !== "historical")) assert.deepEqual(druidInstances(r, "cluster"), [`druid-${r}`]);
        for (const r of ["broker", "historical"] as const) {
            const [first, second] = druidInstances(r, "cluster").map((n) => env(b, n));
            assert.equal(second!.druid_host, `druid-${r}-2`);
            assert.deepEqual({ ...second, druid_host: first!.druid_host }, first);
        }
        const mounts = (plain(b.one(T.container, "druid-historical-2").inputs.volumes) as { volumeName: string }[]).map((v) => v.volumeName);
        assert.deepEqual(mounts, [b.one(T.volume, "druid-historical-2-var").inputs.name], "its own segment cache");
    });

    describe("rejects bad config with the key, the value and what is allowed", () => {
        it("an unknown granularity", () =>
            rejects({ druid: '{"aggregates": {"segmentGranularity": "FORTNIGHT"}}' }, /dataplatform:druid\.aggregates\.segmentGranularity = "FORTNIGHT": .*expected one of "SECOND"\|"MINUTE"/));
        it("a query granularity coarser than the segments", () =>
            rejects({ druid: '{"aggregates": {"queryGranularity": "DAY"}}' }, /dataplatform:druid\.aggregates\.queryGranularity = "DAY": expected a granularity no coarser than segmentGranularity HOUR/));
        it("an unknown metric type", () =>
            rejects({ druid: '{"aggregates": {"metrics": [{"name": "plays", "type": "sum"}]}}' }, /dataplatform:druid\.aggregates\.metrics\.0\.type = "sum": .*"longSum"/));
        it("a column used twice", () =>
            rejects({ druid: '{"aggregates": {"dimensions": ["title", "plays"]}}' }, /dataplatform:druid\.aggregates\.dimensions\.1 = "plays": "plays" is both dimensions\[1\] and metrics\[1\]\.name/));
        it("an unknown key", () => rejects({ druid: '{"aggregates": {"granularity": "HOUR"}}' }, /dataplatform:druid\.aggregates\.granularity = "HOUR": unknown key; allowed: dataSource, topic, timestamp/));
        it("druid without the kafka tier it ingests from", () =>
            rejects({ tiers: '{"kafka": false}' }, /dataplatform:tiers\.druid = .*ingests from the kafka tier's processed topic; enable tiers\.kafka or disable tiers\.druid/));
    });
});
