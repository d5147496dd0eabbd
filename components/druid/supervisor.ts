import * as pulumi from "@pulumi/pulumi";
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

export interface SupervisorState {
    /** Router (or overlord) URL reachable from where `pulumi up` runs: the published router. */
    url: string;
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

async function submit(state: SupervisorState): Promise<void> {
    const { status, text } = await overlordCall(state.url, "POST", "/druid/indexer/v1/supervisor", state.spec);
    if (status < 200 || status >= 300) {
        throw new Error(`Druid rejected the Kafka supervisor for dataSource "${state.dataSource}" (HTTP ${status}): ${druidMessage(text)}`);
    }
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
        // A new router address is the same supervisor reached another way.
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

    async delete(id: string, props: SupervisorState): Promise<void> {
        // Returns once the supervisor's tasks have published and handed off: their slots are free
        // and their rows are on the historicals. Already gone (terminated by hand, or a cluster
        // that was wiped) is not an error.
        await terminateSupervisor(props.url, id);
    }
}

export interface KafkaSupervisorArgs {
    url: pulumi.Input<string>;
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
