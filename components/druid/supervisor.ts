import * as pulumi from "@pulumi/pulumi";
import type { Reach } from "../platform/types";
import { withReach } from "../shared/tunnel";
import type { DataSourceConfig } from "./config";
import { druidMessage, overlordCall, terminateSupervisor } from "./overlord";

/**
 * Ingestion as code: a Druid Kafka supervisor as a dynamic provider. Druid's supervisor API is an
 * upsert keyed by the dataSource (POST the spec again and Druid replaces the running supervisor),
 * so create and update are the same call; delete terminates it and waits until its tasks have
 * handed off (the segments it wrote stay).
 */
export interface KafkaSupervisorSpec {
    type: "kafka";
    spec: {
        dataSchema: {
            dataSource: string;
            timestampSpec: { column: string; format: string };
            dimensionsSpec: { dimensions: string[] };
            metricsSpec: { type: string; name: string; fieldName?: string }[];
            granularitySpec: { type: "uniform"; segmentGranularity: string; queryGranularity: string; rollup: boolean };
        };
        ioConfig: {
            topic: string;
            inputFormat: { type: "json" };
            consumerProperties: { "bootstrap.servers": string };
            useEarliestOffset: boolean;
            taskCount: number;
            replicas: number;
            taskDuration: string;
        };
        tuningConfig: { type: "kafka" };
    };
}

/**
 * The supervisor spec for one datasource. `bootstrap` is the Kafka tier's INTERNAL bootstrap:
 * the ingestion tasks run inside Druid (on the platform network), not where `pulumi up` runs.
 */
export function kafkaSupervisorSpec(ds: DataSourceConfig & { topic: string }, bootstrap: string): KafkaSupervisorSpec {
    return {
        type: "kafka",
        spec: {
            dataSchema: {
                dataSource: ds.dataSource,
                timestampSpec: { column: ds.timestamp.column, format: ds.timestamp.format },
                dimensionsSpec: { dimensions: [...ds.dimensions] },
                metricsSpec: ds.metrics.map((m) => (m.type === "count" ? { type: m.type, name: m.name } : { type: m.type, name: m.name, fieldName: m.fieldName ?? m.name })),
                // Rollup merges rows of the same dimensions within a query-granularity bucket.
                granularitySpec: { type: "uniform", segmentGranularity: ds.segmentGranularity, queryGranularity: ds.queryGranularity, rollup: true },
            },
            ioConfig: {
                topic: ds.topic,
                inputFormat: { type: "json" },
                consumerProperties: { "bootstrap.servers": bootstrap },
                useEarliestOffset: ds.useEarliestOffset,
                // One task fits the laptop's single indexer slot budget; replicas need a second indexer.
                taskCount: 1,
                replicas: 1,
                taskDuration: "PT1H",
            },
            tuningConfig: { type: "kafka" },
        },
    };
}

/** An ISO-8601 duration (PT1H, PT3600S, P1D) in seconds: Druid answers durations in seconds. */
function durationSeconds(iso: string | undefined): number {
    const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(iso ?? "");
    return m ? Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0) : NaN;
}

/** Druid writes standard granularities as their name, others as objects ({"type": "none"}, {"type": "period", ...}). */
const periodGranularities: Record<string, string> = {
    PT1S: "SECOND", PT1M: "MINUTE", PT15M: "FIFTEEN_MINUTE", PT30M: "THIRTY_MINUTE", PT1H: "HOUR",
    P1D: "DAY", P1W: "WEEK", P1M: "MONTH", P3M: "QUARTER", P1Y: "YEAR",
};
function granularityName(g: unknown): string {
    if (typeof g === "string") return g.toUpperCase();
    const o = (g ?? {}) as { type?: string; period?: string };
    if (o.type === "period" && o.period) return periodGranularities[o.period] ?? JSON.stringify(g);
    return o.type ? o.type.toUpperCase() : JSON.stringify(g);
}

type Json = Record<string, unknown>;

/**
 * The supervisor Druid runs, in the words of our spec: Druid answers with every default filled
 * in (dimension objects, aggregators with expressions, durations in seconds), so only the fields
 * the spec sets are read back, each in the form the spec writes it. Equal to the declared spec
 * when nothing was changed behind Pulumi's back.
 */
export function supervisorSpecFromDruid(live: Json, declared: KafkaSupervisorSpec): KafkaSupervisorSpec {
    const spec = (live.spec ?? live) as Json;
    const d = (spec.dataSchema ?? {}) as Json;
    const io = (spec.ioConfig ?? {}) as Json;
    const timestamp = (d.timestampSpec ?? {}) as Json;
    const granularity = (d.granularitySpec ?? {}) as Json;
    const dimensions = (((d.dimensionsSpec ?? {}) as Json).dimensions ?? []) as (string | { name: string })[];
    const metrics = (d.metricsSpec ?? []) as { type: string; name: string; fieldName?: string }[];
    const taskDuration = String(io.taskDuration ?? "");
    return {
        type: live.type as "kafka",
        spec: {
            dataSchema: {
                dataSource: d.dataSource as string,
                timestampSpec: { column: timestamp.column as string, format: timestamp.format as string },
                dimensionsSpec: { dimensions: dimensions.map((x) => (typeof x === "string" ? x : x.name)) },
                metricsSpec: metrics.map((m) => (m.type === "count" ? { type: m.type, name: m.name } : { type: m.type, name: m.name, fieldName: m.fieldName })),
                granularitySpec: {
                    type: granularity.type as "uniform",
                    segmentGranularity: granularityName(granularity.segmentGranularity),
                    queryGranularity: granularityName(granularity.queryGranularity),
                    rollup: granularity.rollup as boolean,
                },
            },
            ioConfig: {
                topic: io.topic as string,
                inputFormat: { type: ((io.inputFormat ?? {}) as Json).type as "json" },
                consumerProperties: io.consumerProperties as { "bootstrap.servers": string },
                useEarliestOffset: io.useEarliestOffset as boolean,
                taskCount: io.taskCount as number,
                replicas: io.replicas as number,
                // The declared text when it is the same length of time (PT1H, not Druid's PT3600S).
                taskDuration: durationSeconds(taskDuration) === durationSeconds(declared.spec.ioConfig.taskDuration) ? declared.spec.ioConfig.taskDuration : taskDuration,
            },
            tuningConfig: { type: ((spec.tuningConfig ?? {}) as Json).type as "kafka" },
        },
    };
}

export interface SupervisorState {
    /** The router's HTTP port (or the overlord's) as provisioning reaches it: a tunnel on Kubernetes. */
    router: Reach;
    /**
     * The router URL, in state written before `router` existed. Used (refresh, delete) only when
     * `router` is absent; no longer written.
     */
    url?: string;
    /** The supervisor id, which Druid sets to the dataSource. */
    dataSource: string;
    spec: KafkaSupervisorSpec;
}

/** JSON with sorted keys: state read back from Pulumi need not keep the key order it was written in. */
function canonical(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
    if (value !== null && typeof value === "object") {
        const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
    }
    return JSON.stringify(value);
}

/**
 * Runs one provider operation against the router's URL: through the state's reach (tunnelled for
 * the whole operation on Kubernetes), or the URL of state written by earlier versions (Docker).
 */
export async function atRouter<T>(state: Pick<SupervisorState, "router" | "url" | "dataSource">, fn: (url: string) => Promise<T>): Promise<T> {
    if (state.router) return withReach([state.router], ([address]) => fn(`http://${address}`));
    if (state.url) return fn(state.url);
    throw new Error(`supervisor ${state.dataSource}: the state has neither the router's reach nor its URL`);
}

async function submit(state: SupervisorState): Promise<void> {
    await atRouter(state, async (url) => {
        const { status, text } = await overlordCall(url, "POST", "/druid/indexer/v1/supervisor", state.spec);
        if (status < 200 || status >= 300) {
            throw new Error(`Druid rejected the Kafka supervisor for dataSource "${state.dataSource}" (HTTP ${status}): ${druidMessage(text)}`);
        }
    });
}

export class SupervisorProvider implements pulumi.dynamic.ResourceProvider<SupervisorState, SupervisorState> {
    async check(_olds: SupervisorState, news: SupervisorState): Promise<pulumi.dynamic.CheckResult<SupervisorState>> {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        const specDataSource = news.spec?.spec?.dataSchema?.dataSource;
        // Druid names the supervisor after the spec's dataSource; a mismatch would orphan one of them.
        if (specDataSource !== news.dataSource) {
            failures.push({ property: "spec", reason: `spec.dataSchema.dataSource is "${specDataSource}", expected "${news.dataSource}"` });
        }
        return { inputs: news, failures };
    }

    async diff(_id: string, olds: SupervisorState, news: SupervisorState): Promise<pulumi.dynamic.DiffResult> {
        const changed = (["dataSource", "spec"] as const).filter((k) => canonical(olds[k]) !== canonical(news[k]));
        // A new router address or tunnel is the same supervisor reached another way.
        return { changes: changed.length > 0, replaces: changed.includes("dataSource") ? ["dataSource"] : [], deleteBeforeReplace: false };
    }

    async create(inputs: SupervisorState): Promise<pulumi.dynamic.CreateResult<SupervisorState>> {
        await submit(inputs);
        return { id: inputs.dataSource, outs: inputs };
    }

    async update(_id: string, _olds: SupervisorState, news: SupervisorState): Promise<pulumi.dynamic.UpdateResult<SupervisorState>> {
        // Druid hands the running tasks over to the new spec itself (they stop and restart from their offsets).
        await submit(news);
        return { outs: news };
    }

    /**
     * The supervisor Druid runs (`pulumi refresh`): a spec changed through Druid's console or API
     * shows as drift, which the next `pulumi up` reverts; a terminated supervisor is gone from the state.
     */
    async read(id: string, props?: SupervisorState): Promise<pulumi.dynamic.ReadResult<SupervisorState>> {
        if (!props?.router && !props?.url) throw new Error(`supervisor ${id}: reading needs the router's address from the state (import is not supported)`);
        return atRouter(props, async (url) => {
            const { status, text } = await overlordCall(url, "GET", `/druid/indexer/v1/supervisor/${encodeURIComponent(id)}`);
            if (status === 404) return {};
            if (status < 200 || status >= 300) throw new Error(`Druid at ${url} could not read the supervisor "${id}" (HTTP ${status}): ${druidMessage(text)}`);
            return { id, props: { ...props, spec: supervisorSpecFromDruid(JSON.parse(text) as Json, props.spec) } };
        });
    }

    async delete(id: string, props: SupervisorState): Promise<void> {
        // Returns once the supervisor's tasks have published and handed off: their slots are free
        // and their rows are on the historicals. Already gone (terminated by hand, or a cluster
        // that was wiped) is not an error. One tunnel for the whole drain: it starts a new kubectl
        // when the router's pod changes, and the overlord calls retry through it.
        await atRouter(props, (url) => terminateSupervisor(url, id));
    }
}

export interface KafkaSupervisorArgs {
    router: pulumi.Input<Reach>;
    dataSource: pulumi.Input<string>;
    spec: pulumi.Input<KafkaSupervisorSpec>;
}

/** One provider instance for all supervisors: Pulumi serializes it once. */
const supervisorProvider = new SupervisorProvider();

export class KafkaSupervisor extends pulumi.dynamic.Resource {
    declare readonly dataSource: pulumi.Output<string>;
    declare readonly spec: pulumi.Output<KafkaSupervisorSpec>;

    constructor(name: string, args: KafkaSupervisorArgs, opts?: pulumi.CustomResourceOptions) {
        super(supervisorProvider, name, args, opts, "dataplatform", "DruidKafkaSupervisor");
    }
}
