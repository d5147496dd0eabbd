/**
 * The Druid tier's supervisor provider (ingestion as code) against the real Druid 33 engine,
 * through the router as `pulumi up` would reach it: create (rows of a produced topic answer Druid
 * SQL), no-op diff, update (a new dimension), a spec Druid rejects, the hand-off at a task's
 * rollover, delete (terminated, its tasks handed off, their slots free), and a delete that comes
 * right after the supervisor started its task. The spec comes from the tier's own
 * kafkaSupervisorSpec and the config schema's defaults; the engine runs the tier's role settings.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { druidConfigSchema } from "../../components/druid/config";
import { overlordJson, terminateSupervisor, unfinishedTasks } from "../../components/druid/overlord";
import { kafkaSupervisorSpec, SupervisorProvider, type SupervisorState } from "../../components/druid/supervisor";
import { GiveUp, waitUntil } from "../engines/lib";
import { engine } from "../engines/state";
import { druidDiagnosis, druidUrl, kafkaClient, leavesDruidAsFound, scratchTopics } from "./fixtures";

async function druid<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${druidUrl()}${path}`, {
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

type SupervisorStatus = { payload: { state: string; healthy: boolean; activeTasks: { id: string }[] } };
type Segment = { segment_id: string; is_published: number; is_available: number; is_realtime: number };

/** A row as the Flink job writes it: rows of the same minute and dimensions roll up into one. */
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

async function produce(topic: string, rows: object[]): Promise<void> {
    const producer = kafkaClient("druid-supervisor-it").producer();
    await producer.connect();
    await producer.send({ topic, messages: rows.map((r) => ({ value: JSON.stringify(r) })) });
    await producer.disconnect();
}

/** Input rows Druid answers for, once it answers for `expected` of them. */
const inputRows = (dataSource: string, expected: number) => waitUntil(`${expected} input rows in ${dataSource}`, async () => {
    const [r] = await sql<{ n: number }>(`SELECT SUM(input_rows) AS n FROM "${dataSource}"`);
    return r?.n === expected;
}, { timeoutMs: 240_000, intervalMs: 2_000, diagnose: druidDiagnosis });

const segmentsOf = (dataSource: string) =>
    sql<Segment>(`SELECT segment_id, is_published, is_available, is_realtime FROM sys.segments WHERE datasource = '${dataSource}'`);

/** Slots of the indexer held by tasks of `dataSource`, as the worker itself reports them. */
async function slotsHeldBy(dataSource: string): Promise<string[]> {
    const ours = new Set((await overlordJson<{ id: string }[]>(druidUrl(), `/druid/indexer/v1/tasks?datasource=${dataSource}`)).map((t) => t.id));
    const workers = await overlordJson<{ runningTasks: string[] }[]>(druidUrl(), "/druid/indexer/v1/workers");
    return workers.flatMap((w) => w.runningTasks).filter((t) => ours.has(t));
}

/** After a delete: nothing of the supervisor runs, and every segment it wrote is published and served by the historical. */
async function assertHandedOff(dataSource: string, inputRowCount: number): Promise<void> {
    const { body: active } = await druid<string[]>("GET", "/druid/indexer/v1/supervisor");
    assert.ok(!active.includes(dataSource), `${dataSource} still active: ${active.join(", ")}`);
    assert.deepEqual(await unfinishedTasks(druidUrl(), dataSource), [], "no task of the datasource is left");
    assert.deepEqual(await slotsHeldBy(dataSource), [], "no slot is held for the datasource");
    const segments = await segmentsOf(dataSource);
    assert.ok(segments.length > 0, `${dataSource} has segments`);
    for (const s of segments) assert.deepEqual([s.is_published, s.is_available, s.is_realtime], [1, 1, 0], `segment ${s.segment_id} published and on the historical`);
    const [r] = await sql<{ n: number }>(`SELECT SUM(input_rows) AS n FROM "${dataSource}"`);
    assert.equal(r?.n, inputRowCount, "every row read before the delete is still answered");
}

/** A state as the version before reaches wrote it: the router's URL, no `router`. */
function legacy(state: SupervisorState): SupervisorState {
    const { router, ...rest } = state;
    return { ...rest, url: `http://${router.address}` } as SupervisorState;
}

describe("Druid Kafka supervisor provider against a real Druid", () => {
    const provider = new SupervisorProvider();
    const id = randomUUID().slice(0, 8);
    const dataSources = [`viewing_aggregates_${id}`, `viewing_aggregates_${id}_early`, `viewing_aggregates_${id}_orphan`];
    // Nothing to do when every test passed; after a failure, what a failed test left running.
    leavesDruidAsFound(() => Promise.all(dataSources.map((ds) => terminateSupervisor(druidUrl(), ds))));
    const topic = `druid-aggregates-${id}`;
    scratchTopics("druid-supervisor-it", [{ topic, numPartitions: 1 }]);
    let state: SupervisorState;
    let inputRowCount = 0;

    before(async () => {
        const rows = [row(0, "Dark", 3, 2, 120.5), row(0, "Dark", 2, 2, 60), row(1, "Dark", 1, 1, 30), row(0, "The Crown", 4, 3, 200)];
        await produce(topic, rows);
        inputRowCount = rows.length;
        const ds = druidConfigSchema.parse({ aggregates: { dataSource: dataSources[0]! } }).aggregates;
        // Druid runs on this host, so the broker's host listener is also what its tasks reach.
        state = { router: { address: new URL(druidUrl()).host }, dataSource: ds.dataSource, spec: kafkaSupervisorSpec({ ...ds, topic }, engine("kafka").endpoints.bootstrap!) };
    });

    it("creates the supervisor: the topic's rows answer Druid SQL, rolled up per minute", async () => {
        assert.deepEqual((await provider.check({} as SupervisorState, state)).failures, []);
        const created = await provider.create(state);
        assert.equal(created.id, state.dataSource);
        type Row = { t: string; title: string; plays: number; unique_viewers: number; watch_seconds: number; input_rows: number };
        const query = `SELECT __time AS t, title, SUM(plays) AS plays, MAX(unique_viewers) AS unique_viewers, SUM(watch_seconds) AS watch_seconds, SUM(input_rows) AS input_rows
            FROM "${state.dataSource}" GROUP BY 1, 2 ORDER BY 1, 2`;
        await inputRows(state.dataSource, inputRowCount);
        assert.deepEqual(await sql<Row>(query), [
            { t: "2026-01-01T10:00:00.000Z", title: "Dark", plays: 5, unique_viewers: 2, watch_seconds: 180.5, input_rows: 2 },
            { t: "2026-01-01T10:00:00.000Z", title: "The Crown", plays: 4, unique_viewers: 3, watch_seconds: 200, input_rows: 1 },
            { t: "2026-01-01T10:01:00.000Z", title: "Dark", plays: 1, unique_viewers: 1, watch_seconds: 30, input_rows: 1 },
        ]);
    });

    it("sees no change for the same spec (keys in another order, the router reached another way)", async () => {
        const shuffled = { ...state, router: { address: "druid-router:8888", via: { namespace: "elsewhere", context: "prod" } }, spec: reverseKeys(state.spec) };
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
        }, { timeoutMs: 120_000, intervalMs: 2_000, diagnose: druidDiagnosis });
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

    it("reads what Druid runs: the declared spec reads back unchanged, a change made through Druid's API shows as drift", async () => {
        const unchanged = await provider.read(state.dataSource, state);
        assert.equal(unchanged.id, state.dataSource);
        assert.equal((await provider.diff(state.dataSource, unchanged.props!, state)).changes, false, JSON.stringify(unchanged.props!.spec));
        // State written before `router` existed holds the router's URL instead: read through it alike.
        const previous = await provider.read(state.dataSource, legacy(state));
        assert.deepEqual(previous.props, { ...legacy(state), spec: unchanged.props!.spec });
        assert.equal((await provider.diff(state.dataSource, previous.props!, state)).changes, false);

        // Someone adds a dimension in Druid's console: POST of the changed spec, as the console does.
        const edited = structuredClone(state.spec);
        edited.spec.dataSchema.dimensionsSpec.dimensions.push("window_start_text");
        assert.equal((await druid("POST", "/druid/indexer/v1/supervisor", edited)).status, 200);
        const drifted = await provider.read(state.dataSource, state);
        assert.deepEqual(drifted.props!.spec.spec.dataSchema.dimensionsSpec.dimensions, edited.spec.dataSchema.dimensionsSpec.dimensions);
        assert.equal((await provider.diff(state.dataSource, drifted.props!, state)).changes, true);
        // `pulumi up` after the refresh puts the declared spec back.
        await provider.update(state.dataSource, drifted.props!, state);
        assert.equal((await provider.diff(state.dataSource, (await provider.read(state.dataSource, state)).props!, state)).changes, false);
    });

    it("hands off at a task's rollover: the finished task frees its slot, the historical serves its rows", async () => {
        // The tier rolls a task over every hour (taskDuration PT1H); a one-minute task takes the same path.
        const next = structuredClone(state);
        next.spec.spec.ioConfig.taskDuration = "PT1M";
        await provider.update(state.dataSource, state, next);
        state = next;
        // A row for the task of the new spec to read, so it has a segment to hand off when its minute is up.
        await produce(topic, [row(2, "Dark", 7, 4, 90)]);
        inputRowCount += 1;
        await inputRows(state.dataSource, inputRowCount);
        const [reader] = await waitUntil("the task of the new spec", async () => {
            const { body } = await druid<SupervisorStatus>("GET", `/druid/indexer/v1/supervisor/${state.dataSource}/status`);
            return body.payload.activeTasks.length === 1 && body.payload.activeTasks.map((t) => t.id);
        }, { timeoutMs: 120_000, intervalMs: 2_000, diagnose: druidDiagnosis });

        await waitUntil(`task ${reader} handed off after its minute`, async () => {
            const { body } = await druid<{ status: { statusCode: string; errorMsg?: string } }>("GET", `/druid/indexer/v1/task/${encodeURIComponent(reader!)}/status`);
            if (body.status.statusCode === "FAILED") throw new GiveUp(`task ${reader} FAILED: ${body.status.errorMsg}`);
            return body.status.statusCode === "SUCCESS";
        }, { timeoutMs: 300_000, intervalMs: 2_000, diagnose: druidDiagnosis });
        // Its slot is free: only a successor, reading, holds one (a successor that rolled over in the
        // meantime, with nothing to hand off, leaves its slot within seconds).
        assert.ok(!(await slotsHeldBy(state.dataSource)).includes(reader!), `${reader} still holds a slot`);
        await waitUntil(`one slot held for ${state.dataSource}`, async () => (await slotsHeldBy(state.dataSource)).length === 1,
            { timeoutMs: 60_000, intervalMs: 1_000, diagnose: druidDiagnosis });
        const segments = await segmentsOf(state.dataSource);
        for (const s of segments) assert.deepEqual([s.is_published, s.is_available, s.is_realtime], [1, 1, 0], `segment ${s.segment_id} on the historical`);
        const [r] = await sql<{ n: number }>(`SELECT SUM(input_rows) AS n FROM "${state.dataSource}"`);
        assert.equal(r?.n, inputRowCount);
    });

    it("deletes by terminating the supervisor: its tasks hand off and free their slots; a second delete finds nothing to do", async () => {
        await provider.delete(state.dataSource, state);
        await assertHandedOff(state.dataSource, inputRowCount);
        await provider.delete(state.dataSource, state);
        assert.equal((await provider.read(state.dataSource, state)).id, undefined, "a terminated supervisor reads as gone");
    });

    it("a delete right after the supervisor started its task leaves no task behind and keeps the rows it read", async () => {
        // The supervisor learns of a task it started only on its next run (30 s later); Druid's own
        // terminate in between left that task reading for ever, in a slot nothing freed.
        const ds = druidConfigSchema.parse({ aggregates: { dataSource: dataSources[1]! } }).aggregates;
        const early: SupervisorState = { ...state, dataSource: ds.dataSource, spec: kafkaSupervisorSpec({ ...ds, topic }, state.spec.spec.ioConfig.consumerProperties["bootstrap.servers"]) };
        await provider.create(early);
        await inputRows(early.dataSource, inputRowCount);
        // Deleted through state in the previous version's form (the router's URL, no reach).
        await provider.delete(early.dataSource, legacy(early));
        await assertHandedOff(early.dataSource, inputRowCount);
    });

    it("a delete shuts down an ingestion task its supervisor never knew, which nothing else would ever stop", async () => {
        // What Druid's own terminate left behind when it came too early, made on purpose: a Kafka
        // task with no supervisor, reading up to the largest offset there is.
        const dataSource = dataSources[2]!;
        const end = "9223372036854775807"; // Long.MAX_VALUE, beyond a JS number: spliced into the JSON text
        const task = {
            type: "index_kafka",
            dataSchema: { ...state.spec.spec.dataSchema, dataSource },
            tuningConfig: { type: "kafka" },
            ioConfig: {
                type: "kafka", taskGroupId: 0, baseSequenceName: dataSource, useTransaction: true, inputFormat: { type: "json" },
                consumerProperties: state.spec.spec.ioConfig.consumerProperties,
                startSequenceNumbers: { type: "start", stream: topic, partitionSequenceNumberMap: { 0: 0 } },
                endSequenceNumbers: { type: "end", stream: topic, partitionSequenceNumberMap: { 0: "END" } },
            },
        };
        const res = await fetch(`${druidUrl()}/druid/indexer/v1/task`, {
            method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(task).replace('"END"', end),
        });
        assert.equal(res.status, 200, await res.text());
        await waitUntil("the orphan reading", async () => (await unfinishedTasks(druidUrl(), dataSource)).some((t) => t.runnerStatusCode === "RUNNING"),
            { timeoutMs: 120_000, intervalMs: 1_000, diagnose: druidDiagnosis });

        await provider.delete(dataSource, { ...state, dataSource });
        assert.deepEqual(await unfinishedTasks(druidUrl(), dataSource), []);
        assert.deepEqual(await slotsHeldBy(dataSource), []);
    });
});
