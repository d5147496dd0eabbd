import * as pulumi from "@pulumi/pulumi";
import type { Admin, ISocketFactory } from "kafkajs";
import * as net from "node:net";
import * as tls from "node:tls";
import type { Reach } from "../platform/types";
import { describeReach, withReach } from "../shared/tunnel";

/**
 * Topics as code: a dynamic provider on kafkajs' admin client. Chosen over @pulumi/kafka because
 * it needs no extra provider plugin, uses the client the pipeline already uses, and its create/
 * update/delete can be exercised directly against a real broker in the integration tests.
 */
export interface TopicState {
    /** Every broker's HOST listener: how `pulumi up` reaches it, and what the broker advertises there. */
    brokers: BrokerReach[];
    /**
     * The published bootstrap list, in state written before `brokers` existed. Read (refresh, delete)
     * only when `brokers` is absent; no longer written.
     */
    bootstrap?: string;
    name: string;
    partitions: number;
    replicationFactor: number;
    /** Topic-level configs (retention.ms, min.insync.replicas, ...), the complete set we own. */
    config: Record<string, string>;
}

export interface BrokerReach {
    /** The broker's HOST listener as provisioning reaches it (a tunnel on Kubernetes). */
    reach: Reach;
    /** The address the HOST listener advertises: where Kafka's metadata sends clients next. */
    advertised: string;
}

/** Brokers reached directly at the addresses they advertise, from a bootstrap list `host:port,...`. */
export function directBrokers(bootstrap: string): BrokerReach[] {
    return bootstrap.split(",").map((address) => ({ reach: { address }, advertised: address }));
}

/** The brokers of a state: `brokers`, or the bootstrap list of state written by earlier versions (Docker, reached directly). */
export function brokersOf(state: Pick<TopicState, "brokers" | "bootstrap" | "name">): BrokerReach[] {
    if (state.brokers?.length) return state.brokers;
    if (state.bootstrap) return directBrokers(state.bootstrap);
    throw new Error(`topic ${state.name}: the state has neither brokers nor a bootstrap address to reach Kafka at`);
}

/** Where error messages say Kafka was: each broker's address, and the tunnel to it on Kubernetes. */
const kafkaAt = (brokers: BrokerReach[]) => brokers.map((b) => describeReach(b.reach)).join(", ");

/**
 * Local address by the address kafkajs is asked to connect to: a broker's advertised address (from
 * metadata) and the local address itself (the bootstrap) both lead to that broker's local end.
 */
export function brokerRoutes(brokers: BrokerReach[], locals: string[]): Map<string, string> {
    const routes = new Map<string, string>();
    brokers.forEach((b, i) => {
        routes.set(b.advertised, locals[i]!);
        routes.set(locals[i]!, locals[i]!);
    });
    return routes;
}

/**
 * A kafkajs socket factory that connects each broker address through its route. An address with
 * no route (a broker that joined after the state was written) fails its connection with an error
 * naming it, rather than reaching whatever listens at that address on this machine.
 */
export function routedSocketFactory(routes: Map<string, string>): ISocketFactory {
    return ({ host, port, ssl, onConnect }) => {
        const asked = `${host}:${port}`;
        const local = routes.get(asked);
        if (local === undefined) {
            const socket = new net.Socket();
            // kafkajs listens for errors only once the factory has returned.
            process.nextTick(() => socket.destroy(new Error(`broker ${asked} is not one of the brokers this topic reaches (${[...routes.keys()].join(", ")})`)));
            return socket;
        }
        const at = local.lastIndexOf(":");
        const target = { host: local.slice(0, at), port: Number(local.slice(at + 1)) };
        // As kafkajs' own factory does: TLS when configured, and keep-alive against idle drops.
        const socket = ssl ? tls.connect({ ...target, ...(net.isIP(host) ? {} : { servername: host }), ...ssl }, onConnect) : net.connect(target, onConnect);
        socket.setKeepAlive(true, 60_000);
        return socket;
    };
}

/**
 * Opens an admin client through the brokers' reaches, runs `fn`, always disconnects. Every broker
 * is reached up front: kafkajs' socket factory is synchronous, so it cannot open a tunnel on demand.
 * kafkajs required lazily: providers are serialized. Silent logger: every failure that matters
 * surfaces as a thrown error with its own message.
 */
async function withAdmin<T>(brokers: BrokerReach[], fn: (admin: Admin) => Promise<T>): Promise<T> {
    return withReach(brokers.map((b) => b.reach), async (locals) => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { Kafka, logLevel } = require("kafkajs") as typeof import("kafkajs");
        const routes = brokerRoutes(brokers, locals);
        const admin = (retries: number) =>
            new Kafka({ clientId: "pulumi-topics", brokers: locals, socketFactory: routedSocketFactory(routes), logLevel: logLevel.NOTHING, retry: { retries } }).admin();
        await assertRouted(admin(0), routes, brokers);
        const client = admin(10);
        await client.connect();
        try {
            return await fn(client);
        } finally {
            await client.disconnect();
        }
    });
}

/**
 * Fails at once when the cluster lists a broker the state has no route to (say, one added since
 * the state was written). Found by the retrying client, it would take minutes of retries to
 * surface. Any other failure here is left to that client, whose retries may see it pass.
 */
async function assertRouted(probe: Admin, routes: Map<string, string>, brokers: BrokerReach[]): Promise<void> {
    let listed: { nodeId: number; host: string; port: number }[];
    try {
        await probe.connect();
        listed = (await probe.describeCluster()).brokers;
    } catch (e) {
        if (e instanceof Error && /is not one of the brokers this topic reaches/.test(e.message)) throw e;
        return;
    } finally {
        await probe.disconnect();
    }
    const unrouted = listed.filter((b) => !routes.has(`${b.host}:${b.port}`));
    if (unrouted.length) {
        throw new Error(`broker ${unrouted.map((b) => `${b.nodeId} at ${b.host}:${b.port}`).join(", ")} is not one of the brokers this topic reaches (${brokers.map((b) => b.advertised).join(", ")})`);
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
async function onTopic<T>(what: string, brokers: BrokerReach[], fn: () => Promise<T>): Promise<T> {
    try {
        return await fn();
    } catch (e) {
        throw new Error(`${what} through Kafka at ${kafkaAt(brokers)}: ${e instanceof Error ? e.message : String(e)}`);
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
        // New broker addresses or tunnels (another host port, another platform) are the same topic reached another way.
        return { changes: changed.length > 0, replaces: changed.includes("name") ? ["name"] : [], deleteBeforeReplace: false };
    }

    async create(inputs: TopicState): Promise<pulumi.dynamic.CreateResult<TopicState>> {
        const brokers = brokersOf(inputs);
        await onTopic(`creating topic ${inputs.name}`, brokers, () => withAdmin(brokers, async (admin) => {
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
        const brokers = brokersOf(news);
        await onTopic(`updating topic ${id}`, brokers, () => withAdmin(brokers, async (admin) => {
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
        if (!props?.brokers?.length && !props?.bootstrap) throw new Error(`topic ${id}: reading needs the brokers' addresses from the state (import is not supported)`);
        const brokers = brokersOf(props);
        return onTopic(`reading topic ${id}`, brokers, () => withAdmin(brokers, async (admin) => {
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
        const brokers = brokersOf(props);
        await onTopic(`deleting topic ${id}`, brokers, () => withAdmin(brokers, async (admin) => {
            const existing = await admin.listTopics();
            if (existing.includes(id)) await admin.deleteTopics({ topics: [id], timeout: 30_000 });
        }));
    }
}

export interface TopicArgs {
    brokers: pulumi.Input<BrokerReach[]>;
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
