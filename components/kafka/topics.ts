import * as pulumi from "@pulumi/pulumi";
import type { Admin } from "kafkajs";

/**
 * Topics as code: a dynamic provider on kafkajs' admin client. Chosen over @pulumi/kafka because
 * it needs no extra provider plugin, uses the client the pipeline already uses, and its create/
 * update/delete can be exercised directly against a real broker in the integration tests.
 */
export interface TopicState {
    /** Bootstrap servers reachable from where `pulumi up` runs (the published host listeners). */
    bootstrap: string;
    name: string;
    partitions: number;
    replicationFactor: number;
    /** Topic-level configs (retention.ms, min.insync.replicas, ...), the complete set we own. */
    config: Record<string, string>;
}

/**
 * Opens an admin client, runs `fn`, always disconnects. Required lazily: providers are serialized.
 * Silent logger: every failure that matters surfaces as a thrown error with its own message.
 */
async function withAdmin<T>(bootstrap: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Kafka, logLevel } = require("kafkajs") as typeof import("kafkajs");
    const admin = new Kafka({ clientId: "pulumi-topics", brokers: bootstrap.split(","), logLevel: logLevel.NOTHING, retry: { retries: 10 } }).admin();
    await admin.connect();
    try {
        return await fn(admin);
    } finally {
        await admin.disconnect();
    }
}

/**
 * Waits until every partition of a just-created topic has a leader. kafkajs' own wait
 * (`createTopics({ waitForLeaders })`) retries only LEADER_NOT_AVAILABLE, but a busy broker also
 * answers UNKNOWN_TOPIC_OR_PARTITION for a moment after the create: seen in CI under load, where
 * `pulumi up` then failed on a topic that did exist, and the next `up` refused to adopt it.
 */
export async function untilLed(admin: Admin, topic: string, partitions: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "no answer yet";
    for (;;) {
        try {
            const [metadata] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
            const led = metadata?.partitions.filter((p) => p.leader >= 0).length ?? 0;
            if (led === partitions) return;
            last = `${led} of ${partitions} partitions have a leader`;
        } catch (e) {
            last = e instanceof Error ? e.message : String(e);
        }
        if (Date.now() > deadline) throw new Error(`topic ${topic} was created, but not all its partitions have a leader after ${timeoutMs / 1000} s (${last})`);
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
}

const configEntries = (config: Record<string, string>) => Object.entries(config).map(([name, value]) => ({ name, value }));

/** The same configs in any key order: state read back, or a topic described by the broker, keeps no order. */
const sameConfig = (a: Record<string, string> = {}, b: Record<string, string> = {}) =>
    Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

/** kafkajs' ConfigSource for a config set on the topic itself (not a broker or static default). */
const TOPIC_CONFIG_SOURCE = 1;

/** Kafka errors name neither the topic nor the broker; ours do, so a failed `pulumi up` says where it failed. */
async function onTopic<T>(what: string, bootstrap: string, fn: () => Promise<T>): Promise<T> {
    try {
        return await fn();
    } catch (e) {
        throw new Error(`${what} through Kafka at ${bootstrap}: ${e instanceof Error ? e.message : String(e)}`);
    }
}

export class TopicProvider implements pulumi.dynamic.ResourceProvider<TopicState, TopicState> {
    async check(olds: TopicState, news: TopicState): Promise<pulumi.dynamic.CheckResult<TopicState>> {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (!Number.isInteger(news.partitions) || news.partitions < 1) {
            failures.push({ property: "partitions", reason: `partitions = ${news.partitions}: expected an integer of at least 1` });
        }
        if (olds?.name === news.name && olds.partitions > news.partitions) {
            failures.push({
                property: "partitions",
                reason: `partitions of ${news.name} cannot shrink from ${olds.partitions} to ${news.partitions}: Kafka only adds partitions`,
            });
        }
        if (olds?.name === news.name && olds.replicationFactor !== undefined && olds.replicationFactor !== news.replicationFactor) {
            failures.push({
                property: "replicationFactor",
                reason: `replicationFactor of ${news.name} cannot change in place (${olds.replicationFactor} -> ${news.replicationFactor}): it needs a partition reassignment`,
            });
        }
        return { inputs: news, failures };
    }

    async diff(_id: string, olds: TopicState, news: TopicState): Promise<pulumi.dynamic.DiffResult> {
        const changed = (["name", "partitions", "replicationFactor", "config"] as const).filter((k) =>
            k === "config" ? !sameConfig(olds.config, news.config) : olds[k] !== news[k],
        );
        // A new bootstrap address (say, another host port) is the same topic reached another way.
        return { changes: changed.length > 0, replaces: changed.includes("name") ? ["name"] : [], deleteBeforeReplace: false };
    }

    async create(inputs: TopicState): Promise<pulumi.dynamic.CreateResult<TopicState>> {
        await onTopic(`creating topic ${inputs.name}`, inputs.bootstrap, () => withAdmin(inputs.bootstrap, async (admin) => {
            const created = await admin.createTopics({
                waitForLeaders: false,
                topics: [
                    {
                        topic: inputs.name,
                        numPartitions: inputs.partitions,
                        replicationFactor: inputs.replicationFactor,
                        configEntries: configEntries(inputs.config),
                    },
                ],
            });
            // Adopting an existing topic silently would let `destroy` delete data we never owned.
            if (!created) throw new Error(`topic ${inputs.name} already exists; delete it or choose another name in kafka.topics`);
            await untilLed(admin, inputs.name, inputs.partitions);
        }));
        return { id: inputs.name, outs: inputs };
    }

    async update(id: string, olds: TopicState, news: TopicState): Promise<pulumi.dynamic.UpdateResult<TopicState>> {
        await onTopic(`updating topic ${id}`, news.bootstrap, () => withAdmin(news.bootstrap, async (admin) => {
            if (news.partitions > olds.partitions) {
                await admin.createPartitions({ topicPartitions: [{ topic: id, count: news.partitions }] });
            }
            if (!sameConfig(olds.config, news.config)) {
                // Not incremental: keys we no longer declare fall back to the broker default.
                await admin.alterConfigs({
                    validateOnly: false,
                    resources: [{ type: 2 /* ConfigResourceTypes.TOPIC */, name: id, configEntries: configEntries(news.config) }],
                });
            }
        }));
        return { outs: news };
    }

    /**
     * What the broker has (`pulumi refresh`): partitions, replication and the configs set on the
     * topic itself, so a change made with Kafka's own tools shows as drift. A deleted topic is gone
     * from the state.
     */
    async read(id: string, props?: TopicState): Promise<pulumi.dynamic.ReadResult<TopicState>> {
        // Only ever called on refresh, with the state's own props: import by id is not supported.
        if (!props?.bootstrap) throw new Error(`topic ${id}: reading needs the bootstrap address from the state (import is not supported)`);
        return onTopic(`reading topic ${id}`, props.bootstrap, () => withAdmin(props.bootstrap, async (admin) => {
            if (!(await admin.listTopics()).includes(id)) return {};
            const [metadata] = (await admin.fetchTopicMetadata({ topics: [id] })).topics;
            const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2 /* ConfigResourceTypes.TOPIC */, name: id }] });
            const config = Object.fromEntries(
                described.resources[0]!.configEntries.filter((e) => e.configSource === TOPIC_CONFIG_SOURCE).map((e) => [e.configName, e.configValue]),
            );
            const partitions = metadata!.partitions;
            return { id, props: { ...props, name: id, partitions: partitions.length, replicationFactor: partitions[0]?.replicas.length ?? props.replicationFactor, config } };
        }));
    }

    async delete(id: string, props: TopicState): Promise<void> {
        await onTopic(`deleting topic ${id}`, props.bootstrap, () => withAdmin(props.bootstrap, async (admin) => {
            const existing = await admin.listTopics();
            if (existing.includes(id)) await admin.deleteTopics({ topics: [id], timeout: 30_000 });
        }));
    }
}

export interface TopicArgs {
    bootstrap: pulumi.Input<string>;
    name: pulumi.Input<string>;
    partitions: pulumi.Input<number>;
    replicationFactor: pulumi.Input<number>;
    config: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** One provider instance for all topics: Pulumi serializes it once and reuses the result. */
const topicProvider = new TopicProvider();

export class Topic extends pulumi.dynamic.Resource {
    declare readonly name: pulumi.Output<string>;
    declare readonly partitions: pulumi.Output<number>;
    declare readonly replicationFactor: pulumi.Output<number>;
    declare readonly config: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: TopicArgs, opts?: pulumi.CustomResourceOptions) {
        super(topicProvider, name, args, opts, "dataplatform", "KafkaTopic");
    }
}
