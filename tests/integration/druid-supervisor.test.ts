/**
 * The Druid tier's supervisor provider (ingestion as code) against the real Druid 33 engine,
 * through the router as `pulumi up` would reach it: create (rows of a produced topic answer Druid
 * SQL), no-op diff, update (a new dimension), a spec Druid rejects, delete (terminated). The spec
 * comes from the tier's own kafkaSupervisorSpec and the config schema's defaults.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import { druidConfigSchema } from "../../components/druid/config";
import { kafkaSupervisorSpec, SupervisorProvider, type SupervisorState } from "../../components/druid/supervisor";
import { waitUntil } from "../engines/lib";
import { engine } from "../engines/state";

async function druid<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${engine("druid").endpoints.router}${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

async function sql<T>(query: string): Promise<T[]> {
    const { status, body } = await druid<T[]>("POST", "/druid/v2/sql", { query });
    // 400 until the first task has announced the datasource: "no such table" is "not yet".
    return status === 200 ? body : [];
}

/** The same JSON with every object's keys in reverse order (as state read back may come). */
function reverseKeys<T>(value: T): T {
    if (Array.isArray(value)) return value.map(reverseKeys) as T;
    if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reverseKeys(v)])) as T;
    return value;
}

type SupervisorStatus = { payload: { state: string; healthy: boolean } };

describe("Druid Kafka supervisor provider against a real Druid", () => {
    const provider = new SupervisorProvider();
    const id = randomUUID().slice(0, 8);
    const topic = `druid-aggregates-${id}`;
    let state: SupervisorState;

    before(async () => {
        const bootstrap = engine("kafka").endpoints.bootstrap!;
        const kafka = new Kafka({ clientId: "druid-supervisor-it", brokers: [bootstrap], logLevel: logLevel.NOTHING });
        const admin = kafka.admin();
        await admin.connect();
        await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
        await admin.disconnect();
        // Rows as the Flink job writes them: two of the same minute and dimensions roll up into one.
        const row = (minute: number, title: string, plays: number, viewers: number, seconds: number) => ({
            window_start: `2026-01-01T10:0${minute}:00Z`,
            window_end: `2026-01-01T10:0${minute + 1}:00Z`,
            title_id: title.toLowerCase().replace(/\W/g, "-"),
            title,
            genre: "drama",
            country: "DE",
            device: "tv",
            plays,
            unique_viewers: viewers,
            watch_seconds: seconds,
        });
        const producer = kafka.producer();
        await producer.connect();
        await producer.send({
            topic,
            messages: [row(0, "Dark", 3, 2, 120.5), row(0, "Dark", 2, 2, 60), row(1, "Dark", 1, 1, 30), row(0, "The Crown", 4, 3, 200)].map((r) => ({ value: JSON.stringify(r) })),
        });
        await producer.disconnect();

        const ds = druidConfigSchema.parse({ aggregates: { dataSource: `viewing_aggregates_${id}` } }).aggregates;
        // Druid runs on this host, so the broker's host listener is also what its tasks reach.
        state = { url: engine("druid").endpoints.router!, dataSource: ds.dataSource, spec: kafkaSupervisorSpec({ ...ds, topic }, bootstrap) };
    });

    it("creates the supervisor: the topic's rows answer Druid SQL, rolled up per minute", async () => {
        assert.deepEqual((await provider.check({} as SupervisorState, state)).failures, []);
        const created = await provider.create(state);
        assert.equal(created.id, state.dataSource);
        type Row = { t: string; title: string; plays: number; unique_viewers: number; watch_seconds: number; input_rows: number };
        const query = `SELECT __time AS t, title, SUM(plays) AS plays, MAX(unique_viewers) AS unique_viewers, SUM(watch_seconds) AS watch_seconds, SUM(input_rows) AS input_rows
            FROM "${state.dataSource}" GROUP BY 1, 2 ORDER BY 1, 2`;
        const rows = await waitUntil(`4 input rows in ${state.dataSource}`, async () => {
            const r = await sql<Row>(query);
            return r.reduce((n, x) => n + x.input_rows, 0) === 4 && r;
        }, { timeoutMs: 240_000, intervalMs: 2_000 });
        assert.deepEqual(rows, [
            { t: "2026-01-01T10:00:00.000Z", title: "Dark", plays: 5, unique_viewers: 2, watch_seconds: 180.5, input_rows: 2 },
            { t: "2026-01-01T10:00:00.000Z", title: "The Crown", plays: 4, unique_viewers: 3, watch_seconds: 200, input_rows: 1 },
            { t: "2026-01-01T10:01:00.000Z", title: "Dark", plays: 1, unique_viewers: 1, watch_seconds: 30, input_rows: 1 },
        ]);
    });

    it("sees no change for the same spec (keys in another order, another router address)", async () => {
        const shuffled = { ...state, url: "http://elsewhere:8888", spec: reverseKeys(state.spec) };
        assert.notEqual(JSON.stringify(shuffled.spec), JSON.stringify(state.spec));
        const diff = await provider.diff(state.dataSource, state, shuffled);
        assert.equal(diff.changes, false);
    });

    it("updates in place: a new dimension reaches the running supervisor", async () => {
        const ds = druidConfigSchema.parse({ aggregates: { dataSource: state.dataSource, dimensions: ["title_id", "title", "genre", "country", "device", "window_end"] } }).aggregates;
        const next: SupervisorState = { ...state, spec: kafkaSupervisorSpec({ ...ds, topic }, state.spec.spec.ioConfig.consumerProperties["bootstrap.servers"]) };
        const diff = await provider.diff(state.dataSource, state, next);
        assert.equal(diff.changes, true);
        assert.deepEqual(diff.replaces, []);
        await provider.update(state.dataSource, state, next);
        const { body: spec } = await druid<{ spec: { dataSchema: { dimensionsSpec: { dimensions: (string | { name: string })[] } } } }>(
            "GET", `/druid/indexer/v1/supervisor/${state.dataSource}`);
        const names = spec.spec.dataSchema.dimensionsSpec.dimensions.map((d) => (typeof d === "string" ? d : d.name));
        assert.deepEqual(names, ["title_id", "title", "genre", "country", "device", "window_end"]);
        await waitUntil("the supervisor running with the new spec", async () => {
            const { body } = await druid<SupervisorStatus>("GET", `/druid/indexer/v1/supervisor/${state.dataSource}/status`);
            return body.payload.state === "RUNNING" && body.payload.healthy;
        }, { timeoutMs: 120_000, intervalMs: 2_000 });
        state = next;
    });

    it("surfaces a spec Druid rejects as an error naming the dataSource and Druid's reason", async () => {
        // Past the config schema (which would refuse it first): what Druid itself says.
        const bad = structuredClone(state);
        bad.spec.spec.dataSchema.granularitySpec.queryGranularity = "FORTNIGHT";
        await assert.rejects(() => provider.update(state.dataSource, state, bad), (e: Error) => {
            assert.match(e.message, new RegExp(`^Druid rejected the Kafka supervisor for dataSource "${state.dataSource}" \\(HTTP 400\\): `));
            assert.match(e.message, /FORTNIGHT/);
            return true;
        });
        // The running supervisor keeps the last good spec.
        const { body } = await druid<SupervisorStatus>("GET", `/druid/indexer/v1/supervisor/${state.dataSource}/status`);
        assert.equal(body.payload.state, "RUNNING");
    });

    it("deletes by terminating the supervisor; a second delete finds nothing to do", async () => {
        await provider.delete(state.dataSource, state);
        const { body: active } = await druid<string[]>("GET", "/druid/indexer/v1/supervisor");
        assert.ok(!active.includes(state.dataSource), `${state.dataSource} still active: ${active.join(", ")}`);
        await provider.delete(state.dataSource, state);
    });
});
