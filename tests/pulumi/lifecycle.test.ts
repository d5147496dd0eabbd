/**
 * `pulumi preview`, `up`, `refresh` and `destroy` of the platform's provisioning resources (the
 * Kafka topics, the Druid supervisor, the Superset dashboard) by the REAL Pulumi CLI, against the
 * real engines they provision. Unlike the integration suites, which call the providers' methods,
 * this is the path of a user's `pulumi up`: each provider serialized into its resource's state,
 * run by the dynamic-provider host process, check/diff/create/update/read/delete driven by the
 * engine, previews computed with unknown values, secrets encrypted in the state.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import * as net from "node:net";
import type { Admin } from "kafkajs";
import type { ConfigMap, EngineEvent, OpType, Stack } from "@pulumi/pulumi/automation";
import { overlordCall, unfinishedTasks } from "../../components/druid/overlord";
import { findIds, login, Session } from "../../components/superset/dashboards";
import { freePort, waitUntil } from "../engines/lib";
import { engine } from "../engines/state";
import { druidDiagnosis, druidUrl, kafkaClient } from "../integration/fixtures";
import { provisioningStack, stateFileText } from "./workspace";

const id = randomUUID().slice(0, 8);
const stackName = `it-${id}`;
const topics = { raw: `viewing-events-${id}`, processed: `viewing-aggregates-${id}`, deadLetter: `viewing-events-dlq-${id}` };
const DEFAULT_DIMENSIONS = ["title_id", "title", "genre", "country", "device"];

interface Settings {
    rawPartitions: number;
    dimensions: string[];
    title: string;
    dataSource: string;
    kafkaBootstrap?: string;
    druidRouter?: string;
    tableWaitSeconds?: number;
}

const initial: Settings = { rawPartitions: 3, dimensions: DEFAULT_DIMENSIONS, title: `Viewing activity ${id}`, dataSource: `viewing_aggregates_${id}` };

/** The product's config keys (validated by the product's schema in the program), plus where the engines are. */
function config(s: Settings): ConfigMap {
    const superset = engine("superset");
    return {
        "dataplatform:kafka": { value: JSON.stringify({ topics: { raw: { name: topics.raw, partitions: s.rawPartitions }, processed: { name: topics.processed, partitions: 1 }, deadLetter: { name: topics.deadLetter, partitions: 1 } } }) },
        "dataplatform:druid": { value: JSON.stringify({ aggregates: { dataSource: s.dataSource, dimensions: s.dimensions } }) },
        "dataplatform:superset": { value: JSON.stringify({ dashboard: { title: s.title } }) },
        "engines:kafkaBootstrap": { value: s.kafkaBootstrap ?? engine("kafka").endpoints.bootstrap! },
        "engines:druidRouter": { value: s.druidRouter ?? druidUrl() },
        "engines:druidBroker": { value: new URL(engine("druid").endpoints.broker!).host },
        "engines:supersetUrl": { value: superset.endpoints.url! },
        "engines:supersetPassword": { value: superset.details.password!, secret: true },
        "engines:tableWaitSeconds": { value: String(s.tableWaitSeconds ?? 180) },
    };
}

async function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = kafkaClient("pulumi-it").admin();
    await admin.connect();
    try {
        return await fn(admin);
    } finally {
        await admin.disconnect();
    }
}

/** Aggregates as the Flink job writes them, for the last minutes: the dashboard needs Druid to serve its table. */
async function produceAggregates(): Promise<void> {
    await waitUntil(`topic ${topics.processed}`, async () => (await withAdmin((a) => a.listTopics())).includes(topics.processed), { timeoutMs: 300_000, intervalMs: 500 });
    const now = Date.now();
    const iso = (ms: number) => new Date(Math.floor(ms / 60_000) * 60_000).toISOString();
    const rows = [0, 1, 2].flatMap((minute) => [["t1", "Dark", "drama"], ["t2", "Narcos", "crime"]].map(([titleId, title, genre], i) => ({
        window_start: iso(now - (minute + 1) * 60_000), window_end: iso(now - minute * 60_000),
        title_id: titleId, title, genre, country: "DE", device: "tv", plays: 10 * (i + 1), unique_viewers: 3, watch_seconds: 600,
    })));
    const producer = kafkaClient("pulumi-it").producer();
    await producer.connect();
    await producer.send({ topic: topics.processed, messages: rows.map((r) => ({ value: JSON.stringify(r) })) });
    await producer.disconnect();
}

interface Step { op: OpType; diffs: string[] }

/**
 * What the engine decided per resource (by name), from its event stream: the step it planned, or
 * (`outcome`, for a refresh, whose planned step is always "refresh") what the step turned out to be.
 */
function stepRecorder(outcome = false): { onEvent: (e: EngineEvent) => void; steps: Map<string, Step> } {
    const steps = new Map<string, Step>();
    return {
        steps,
        onEvent: (e) => {
            const m = outcome ? e.resOutputsEvent?.metadata : e.resourcePreEvent?.metadata;
            if (m && m.type !== "pulumi:providers:pulumi-nodejs") steps.set(m.urn.split("::").pop()!, { op: m.op, diffs: [...(m.diffs ?? [])].sort() });
        },
    };
}

const RESOURCES = ["topic-raw", "topic-processed", "topic-deadLetter", "supervisor-aggregates", "viewing-dashboard"];

const superset = (): Promise<Session> => login(engine("superset").endpoints.url!, engine("superset").details.username!, engine("superset").details.password!);
const partitionsOf = async (topic: string) => (await withAdmin((a) => a.fetchTopicMetadata({ topics: [topic] }))).topics[0]!.partitions.length;
async function liveSupervisor(dataSource: string): Promise<{ status: number; dimensions?: string[] }> {
    const { status, text } = await overlordCall(druidUrl(), "GET", `/druid/indexer/v1/supervisor/${dataSource}`);
    if (status !== 200) return { status };
    const spec = JSON.parse(text) as { spec: { dataSchema: { dimensionsSpec: { dimensions: (string | { name: string })[] } } } };
    return { status, dimensions: spec.spec.dataSchema.dimensionsSpec.dimensions.map((d) => (typeof d === "string" ? d : d.name)) };
}
const dashboardBySlug = async (s: Session) => (await s.call<{ result?: { id: number; dashboard_title: string } }>("GET", "/api/v1/dashboard/viewing-activity", undefined, [404])).body.result;

/** Somewhere nothing listens: a broker or router that is down. */
async function deadEndpoint(): Promise<number> {
    const port = await freePort();
    await new Promise<void>((resolve, reject) => {
        const probe = net.connect({ host: "127.0.0.1", port });
        probe.once("connect", () => reject(new Error(`port ${port} answered`)));
        probe.once("error", () => resolve());
    });
    return port;
}

describe("the real Pulumi CLI drives the provisioning resources through a user's lifecycle", function () {
    // Each step starts from the state the one before left, as a user's next command does.
    this.bail(true);
    let stack: Stack;
    let settings: Settings = initial;
    const apply = async (next: Settings) => {
        settings = next;
        await stack.setAllConfig(config(next));
    };

    before(async () => {
        stack = await provisioningStack(stackName, config(initial));
    });

    // Whatever a failed test left: destroyed through Pulumi, then the stack removed.
    after(async () => {
        if (!stack) return;
        await apply({ ...settings, kafkaBootstrap: undefined, druidRouter: undefined });
        await stack.destroy();
        await stack.workspace.removeStack(stackName);
    });

    it("previews the creates: three topics, the supervisor, the dashboard", async () => {
        const { onEvent, steps } = stepRecorder();
        const preview = await stack.preview({ onEvent });
        assert.deepEqual(Object.fromEntries(RESOURCES.map((r) => [r, steps.get(r)?.op])), Object.fromEntries(RESOURCES.map((r) => [r, "create"])), preview.stdout);
        assert.ok(!(await withAdmin((a) => a.listTopics())).includes(topics.raw), "a preview creates nothing");
    });

    it("creates them on the real services", async () => {
        const [up] = await Promise.all([stack.up(), produceAggregates()]);
        assert.equal(up.summary.result, "succeeded");
        assert.deepEqual(up.summary.resourceChanges, { create: RESOURCES.length + 1 }); // + the stack itself
        assert.equal(await partitionsOf(topics.raw), 3);
        assert.deepEqual((await liveSupervisor(settings.dataSource)).dimensions, DEFAULT_DIMENSIONS);
        const s = await superset();
        const dashboard = await dashboardBySlug(s);
        assert.equal(dashboard?.dashboard_title, settings.title);
        assert.equal(dashboard!.id, up.outputs.dashboardId!.value);
        const charts = await s.call<{ result: { id: number }[] }>("GET", `/api/v1/dashboard/${dashboard!.id}/charts`);
        assert.equal(charts.body.result.length, 4);
    });

    it("keeps the Superset password encrypted in the state", () => {
        const text = stateFileText(stackName);
        assert.ok(!text.includes(engine("superset").details.password!), "the password is in the state in plain text");
        const dashboard = (JSON.parse(text) as { checkpoint: { latest: { resources: { urn: string; inputs: Record<string, unknown>; outputs: Record<string, unknown> }[] } } })
            .checkpoint.latest.resources.find((r) => r.urn.endsWith("::viewing-dashboard"))!;
        for (const where of [dashboard.inputs, dashboard.outputs]) {
            assert.equal((where.password as Record<string, unknown>)["4dabf18193072939515e22adb298388d"], "1b47061264138c4ac30d75fd1eb44270", "a secret");
            assert.equal(typeof (where.password as Record<string, unknown>).ciphertext, "string");
        }
    });

    it("sees no change afterwards: neither a preview nor a refresh finds a difference", async () => {
        await stack.preview({ expectNoChanges: true });
        const refresh = await stack.refresh();
        assert.deepEqual(refresh.summary.resourceChanges, { same: RESOURCES.length + 1 }, refresh.stdout);
        await stack.preview({ expectNoChanges: true });
    });

    it("previews a config change as exactly that change, and up applies it in place", async () => {
        await apply({ ...settings, rawPartitions: 4, dimensions: [...DEFAULT_DIMENSIONS, "window_end"], title: `Viewing activity ${id} (live)` });
        const { onEvent, steps } = stepRecorder();
        const preview = await stack.preview({ diff: true, onEvent });
        assert.deepEqual(Object.fromEntries(RESOURCES.map((r) => [r, steps.get(r)?.op])), {
            "topic-raw": "update", "topic-processed": "same", "topic-deadLetter": "same", "supervisor-aggregates": "update", "viewing-dashboard": "update",
        }, preview.stdout);
        // What `pulumi preview --diff` prints: every changed value, old => new, and nothing else changed.
        const changed = preview.stdout.split("\n").map((l) => l.trim().replace(/\s+/g, " ")).filter((l) => / => /.test(l) || /^[+-] \[/.test(l));
        assert.deepEqual(changed, ["~ partitions : 3 => 4", '+ [5]: "window_end"', `~ title : "Viewing activity ${id}" => "Viewing activity ${id} (live)"`], preview.stdout);

        const up = await stack.up();
        assert.deepEqual(up.summary.resourceChanges, { same: 3, update: 3 });
        assert.equal(await partitionsOf(topics.raw), 4);
        assert.deepEqual((await liveSupervisor(settings.dataSource)).dimensions, settings.dimensions);
        assert.equal((await dashboardBySlug(await superset()))?.dashboard_title, settings.title);
        await stack.preview({ expectNoChanges: true });
    });

    it("refresh shows changes made with the services' own APIs, and the next up reverts them", async () => {
        // Kafka's admin API, Druid's supervisor API and Superset's REST API, behind Pulumi's back.
        const retention = "60000";
        await withAdmin((a) => a.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: topics.raw,
            configEntries: [{ name: "retention.ms", value: retention }, { name: "cleanup.policy", value: "delete" }, { name: "min.insync.replicas", value: "1" }] }] }));
        const { text } = await overlordCall(druidUrl(), "GET", `/druid/indexer/v1/supervisor/${settings.dataSource}`);
        const edited = JSON.parse(text) as { spec: { dataSchema: { dimensionsSpec: { dimensions: unknown[] } } } };
        edited.spec.dataSchema.dimensionsSpec.dimensions.push("added_in_the_console");
        assert.equal((await overlordCall(druidUrl(), "POST", "/druid/indexer/v1/supervisor", edited)).status, 200);
        const s = await superset();
        const dashboard = (await dashboardBySlug(s))!;
        await s.call("PUT", `/api/v1/dashboard/${dashboard.id}`, { dashboard_title: "Renamed in the UI" });

        const { onEvent, steps } = stepRecorder(true);
        const refresh = await stack.refresh({ onEvent });
        assert.deepEqual(refresh.summary.resourceChanges, { same: 3, update: 3 }, refresh.stdout);
        assert.deepEqual(Object.fromEntries(RESOURCES.map((r) => [r, steps.get(r)?.op])), {
            "topic-raw": "update", "topic-processed": "same", "topic-deadLetter": "same", "supervisor-aggregates": "update", "viewing-dashboard": "update",
        });

        const up = await stack.up();
        assert.deepEqual(up.summary.resourceChanges, { same: 3, update: 3 });
        const [entry] = (await withAdmin((a) => a.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topics.raw, configNames: ["retention.ms"] }] }))).resources[0]!.configEntries;
        assert.notEqual(entry!.configValue, retention);
        assert.deepEqual((await liveSupervisor(settings.dataSource)).dimensions, settings.dimensions);
        assert.equal((await dashboardBySlug(s))?.dashboard_title, settings.title);
        await stack.preview({ expectNoChanges: true });
    });

    it("a broker and a router that are down fail up with errors naming the resource and the endpoint; a later up converges", async () => {
        const [kafkaPort, druidPort] = [await deadEndpoint(), await deadEndpoint()];
        const before = settings;
        await apply({ ...settings, rawPartitions: 5, dimensions: DEFAULT_DIMENSIONS, kafkaBootstrap: `127.0.0.1:${kafkaPort}`, druidRouter: `http://127.0.0.1:${druidPort}` });
        await assert.rejects(() => stack.up(), (e: Error) => {
            assert.match(e.message, new RegExp(`topic-raw[\\s\\S]*updating topic ${topics.raw} through Kafka at 127\\.0\\.0\\.1:${kafkaPort}`));
            assert.match(e.message, new RegExp(`supervisor-aggregates[\\s\\S]*Druid at http://127\\.0\\.0\\.1:${druidPort} did not answer`));
            return true;
        });
        // The state still holds what the services have: nothing half-applied, nothing pending.
        const deployment = (await stack.exportStack()).deployment as { pending_operations?: unknown[]; resources: { urn: string; outputs: Record<string, unknown> }[] };
        assert.deepEqual(deployment.pending_operations ?? [], []);
        const outputsOf = (name: string) => deployment.resources.find((r) => r.urn.endsWith(`::${name}`))!.outputs;
        assert.equal(outputsOf("topic-raw").partitions, before.rawPartitions);
        assert.deepEqual((outputsOf("supervisor-aggregates").spec as { spec: { dataSchema: { dimensionsSpec: { dimensions: string[] } } } }).spec.dataSchema.dimensionsSpec.dimensions, before.dimensions);

        await apply({ ...settings, kafkaBootstrap: undefined, druidRouter: undefined });
        const up = await stack.up();
        assert.deepEqual(up.summary.resourceChanges, { same: 4, update: 2 });
        assert.equal(await partitionsOf(topics.raw), 5);
        assert.deepEqual((await liveSupervisor(settings.dataSource)).dimensions, DEFAULT_DIMENSIONS);
        await stack.preview({ expectNoChanges: true });
    });

    it("takes over state written by the previous version (bootstrap and URLs, no reaches): no change to preview or refresh, an update moves to reaches", async () => {
        // What the resources' state looked like before reaches: the published addresses as plain strings.
        const exported = await stack.exportStack();
        const deployment = exported.deployment as { resources: { urn: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }[] };
        const legacy = (props: Record<string, unknown> | undefined) => {
            if (!props) return;
            const { brokers, router, web } = props as { brokers?: { advertised: string }[]; router?: { address: string }; web?: { address: string } };
            if (brokers) props.bootstrap = brokers.map((b) => b.advertised).join(",");
            if (router) props.url = `http://${router.address}`;
            if (web) props.url = `http://${web.address}`;
            delete props.brokers;
            delete props.router;
            delete props.web;
        };
        for (const r of deployment.resources.filter((r) => RESOURCES.some((name) => r.urn.endsWith(`::${name}`)))) {
            legacy(r.inputs);
            legacy(r.outputs);
        }
        await stack.importStack(exported);
        const imported = JSON.parse(stateFileText(stackName)) as { checkpoint: { latest: { resources: { urn: string; inputs?: object; outputs?: object }[] } } };
        const form = (name: string) => imported.checkpoint.latest.resources.find((r) => r.urn.endsWith(`::${name}`))!.outputs!;
        assert.deepEqual(["topic-raw", "supervisor-aggregates", "viewing-dashboard"].map((name) => ["bootstrap" in form(name) || "url" in form(name), "brokers" in form(name) || "router" in form(name) || "web" in form(name)]),
            [[true, false], [true, false], [true, false]], "the state is in the previous version's form");

        await stack.preview({ expectNoChanges: true });
        const refresh = await stack.refresh();
        assert.deepEqual(refresh.summary.resourceChanges, { same: RESOURCES.length + 1 }, refresh.stdout);
        await stack.preview({ expectNoChanges: true });

        // An update from the old form (the state's bootstrap) to the new (the program's brokers).
        await apply({ ...settings, rawPartitions: settings.rawPartitions + 1 });
        const up = await stack.up();
        assert.deepEqual(up.summary.resourceChanges, { same: RESOURCES.length, update: 1 });
        assert.equal(await partitionsOf(topics.raw), settings.rawPartitions);
        await stack.preview({ expectNoChanges: true });
        // The rest keep the old form: the destroy below deletes them through it.
    });

    it("destroy removes everything from the services: topics, the supervisor and its tasks, the dashboard and what it owns", async () => {
        const s = await superset();
        const dashboardId = (await dashboardBySlug(s))!.id;
        const destroy = await stack.destroy();
        assert.deepEqual(destroy.summary.resourceChanges, { delete: RESOURCES.length + 1 });
        const left = await withAdmin((a) => a.listTopics());
        assert.deepEqual(Object.values(topics).filter((t) => left.includes(t)), []);
        assert.equal((await liveSupervisor(settings.dataSource)).status, 404);
        assert.deepEqual(await unfinishedTasks(druidUrl(), settings.dataSource), [], await druidDiagnosis());
        assert.equal(await dashboardBySlug(s), undefined);
        assert.equal((await s.call("GET", `/api/v1/dashboard/${dashboardId}`, undefined, [404])).status, 404);
        assert.deepEqual(await findIds(s, "database", "database_name", "Druid"), []);
    });

    it("an up interrupted by Ctrl-C leaves a state that the next up completes, with nothing created twice", async () => {
        // A datasource Druid has never seen, and no rows yet: the dashboard waits for its table, and
        // the Ctrl-C comes while it does.
        await apply({ ...initial, dataSource: `viewing_aggregates_${id}_again`, tableWaitSeconds: 30 });
        const interrupt = new AbortController();
        const interrupted = stack.up({ signal: interrupt.signal }).then(() => "completed", (e: Error) => e.message);
        await waitUntil("the supervisor created", async () => (await liveSupervisor(settings.dataSource)).status === 200, { timeoutMs: 300_000, intervalMs: 250 });
        interrupt.abort();
        const outcome = await interrupted;
        assert.notEqual(outcome, "completed");

        const deployment = (await stack.exportStack()).deployment as { pending_operations?: unknown[]; resources?: { urn: string }[] };
        assert.deepEqual(deployment.pending_operations ?? [], [], "no operation left half-done");
        const recorded = (deployment.resources ?? []).map((r) => r.urn.split("::").pop());
        assert.ok(recorded.includes("supervisor-aggregates"), `the supervisor is in the state: ${recorded.join(", ")}`);

        await apply({ ...settings, tableWaitSeconds: 180 });
        const [up] = await Promise.all([stack.up(), produceAggregates()]);
        assert.equal(up.summary.result, "succeeded");
        await stack.preview({ expectNoChanges: true });
        const s = await superset();
        assert.equal((await findIds(s, "database", "database_name", "Druid")).length, 1, "one Druid connection");
        assert.equal((await findIds(s, "dataset", "table_name", settings.dataSource)).length, 1, "one dataset");
        for (const name of ["Plays per minute", "Top titles", "Plays by country", "Plays by device"]) {
            assert.equal((await findIds(s, "chart", "slice_name", name)).length, 1, `one chart ${name}`);
        }
        const { body } = await overlordCall(druidUrl(), "GET", "/druid/indexer/v1/supervisor").then((r) => ({ body: JSON.parse(r.text) as string[] }));
        assert.deepEqual(body.filter((ds) => ds.startsWith(`viewing_aggregates_${id}`)), [settings.dataSource]);
    });
});
