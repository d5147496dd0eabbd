/**
 * Druid's streaming ingestion end to end, through the router only (the single URL the platform
 * exposes): a Kafka supervisor on a fresh topic, events produced with kafkajs, and the rows
 * visible to Druid SQL while the indexing task is still running (real-time segments). First, that
 * every role runs the settings the tier renders, on PostgreSQL metadata.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { druidDatabase, druidExtensions, druidRoles, druidSizes } from "../../components/druid";
import { terminateSupervisor } from "../../components/druid/overlord";
import { imageLaunch, renderedDruid, S3_EXTENSION } from "../engines/druid";
import { waitUntil } from "../engines/lib";
import { engine } from "../engines/state";
import { druidDiagnosis, druidUrl, kafkaClient, leavesDruidAsFound, scratchTopics } from "./fixtures";
import { jsonCall } from "./http";

const call = <T>(method: string, path: string, body?: unknown) => jsonCall<T>(druidUrl(), method, path, body);

function sql<T>(query: string, parameters: Array<{ type: string; value: unknown }> = []): Promise<T[]> {
    return call<T[]>("POST", "/druid/v2/sql", { query, parameters });
}

const MiB = 1024 * 1024;

/** Settings the engine substitutes (hosts, ports, folders, the database address) or replaces (deep storage): checked on their own. */
const LOCAL = /^druid\.(zk\.service\.host|host|plaintextPort|segmentCache\.locations|metadata\.storage\.connector\.(connectURI|password)|extensions\.loadList|storage\.|indexer\.logs\.|s3\.)/;

describe("druid engine runs the tier's rendered roles", () => {
    const rendered = renderedDruid("");

    it("every role has its rendered properties, heap and direct memory in effect, its metadata on the postgres engine's druid-db", async () => {
        for (const role of druidRoles) {
            const url = engine("druid").endpoints[role]!;
            const running = await jsonCall<Record<string, string>>(url, "GET", "/status/properties");
            const { properties } = imageLaunch(rendered[role]);
            for (const [key, value] of Object.entries(properties)) if (!LOCAL.test(key)) assert.equal(running[key], value, `${role}: ${key}`);
            assert.equal(running["druid.metadata.storage.type"], "postgresql");
            assert.equal(running["druid.metadata.storage.connector.connectURI"], `jdbc:postgresql://${engine("postgres").endpoints[druidDatabase.name]}/${druidDatabase.database}`);
            assert.deepEqual(JSON.parse(running["druid.extensions.loadList"]!), druidExtensions.filter((e) => e !== S3_EXTENSION));
            const status = await jsonCall<{ memory: { maxMemory: number; directMemory: number }; modules: { name: string }[] }>(url, "GET", "/status");
            const size = druidSizes.laptop.roles[role];
            assert.deepEqual([status.memory.maxMemory / MiB, status.memory.directMemory / MiB], [size.heapMiB, size.directMiB], `${role}: heap and direct memory`);
            assert.ok(status.modules.some((m) => m.name.endsWith(".PostgreSQLMetadataStorageModule")), `${role} loaded the PostgreSQL metadata extension`);
        }
    });
});

describe("druid engine (Kafka ingestion, SQL through the router)", () => {
    const id = randomUUID().slice(0, 8);
    const topic = `druid-plays-${id}`;
    const dataSource = `plays_${id}`;
    scratchTopics("druid-it", [{ topic, numPartitions: 1 }]);
    // Terminated as `pulumi destroy` terminates a supervisor: its task hands off and frees its slot.
    leavesDruidAsFound(() => terminateSupervisor(druidUrl(), dataSource));

    it("ingests a Kafka topic through a supervisor and answers SQL over the rows", async () => {
        const spec = {
            type: "kafka",
            spec: {
                dataSchema: {
                    dataSource,
                    timestampSpec: { column: "ts", format: "millis" },
                    dimensionsSpec: { dimensions: ["user_id", "title", { type: "long", name: "watch_seconds" }] },
                    granularitySpec: { segmentGranularity: "hour", queryGranularity: "none", rollup: false },
                },
                ioConfig: {
                    topic,
                    inputFormat: { type: "json" },
                    consumerProperties: { "bootstrap.servers": engine("kafka").endpoints.bootstrap },
                    useEarliestOffset: true,
                    taskCount: 1,
                    replicas: 1,
                    taskDuration: "PT1H",
                },
                tuningConfig: { type: "kafka" },
            },
        };
        const created = await call<{ id: string }>("POST", "/druid/indexer/v1/supervisor", spec);
        assert.equal(created.id, dataSource);
        const t0 = Date.parse("2026-01-01T10:00:00Z");
        const events = [
            { user_id: "ana", title: "Dark", watch_seconds: 30, ts: t0 },
            { user_id: "bo", title: "Dark", watch_seconds: 50, ts: t0 + 1_000 },
            { user_id: "ana", title: "The Crown", watch_seconds: 40, ts: t0 + 2_000 },
            { user_id: "cy", title: "Dark", watch_seconds: 5, ts: t0 + 3_000 },
        ];
        const producer = kafkaClient("druid-it").producer();
        await producer.connect();
        await producer.send({ topic, messages: events.map((e) => ({ value: JSON.stringify(e) })) });
        await producer.disconnect();

        // Until the task has read the topic, the table does not exist (400) or has fewer rows.
        type Row = { title: string; plays: number; watch_seconds: number };
        const query = `SELECT title, COUNT(*) AS plays, SUM(watch_seconds) AS watch_seconds FROM "${dataSource}" GROUP BY title ORDER BY title`;
        const rows = await waitUntil(`4 rows in ${dataSource}`, async () => {
            const result = await sql<Row>(query);
            return result.reduce((n, r) => n + r.plays, 0) === events.length && result;
        }, { timeoutMs: 180_000, intervalMs: 1_000, diagnose: druidDiagnosis });
        assert.deepEqual(rows, [
            { title: "Dark", plays: 3, watch_seconds: 85 },
            { title: "The Crown", plays: 1, watch_seconds: 40 },
        ]);

        // __time is the event time from the message, not the ingestion time.
        const [first] = await sql<{ t: string }>(`SELECT MIN(__time) AS t FROM "${dataSource}"`);
        assert.equal(first!.t, "2026-01-01T10:00:00.000Z");

        const status = await call<{ payload: { state: string; healthy: boolean; aggregateLag: number } }>(
            "GET", `/druid/indexer/v1/supervisor/${dataSource}/status`);
        assert.equal(status.payload.state, "RUNNING");
        assert.equal(status.payload.healthy, true);

        // The supervisor's spec as the overlord stored it in the metadata database (PostgreSQL, above).
        const history = await call<{ spec: { spec: { ioConfig: { topic: string } } } }[]>("GET", `/druid/indexer/v1/supervisor/${dataSource}/history`);
        assert.deepEqual(history.map((h) => h.spec.spec.ioConfig.topic), [topic]);
    });
});
