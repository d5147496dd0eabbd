import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { ProfileName, StackConfig } from "../config";
import { heapOpts } from "../platform/jvm";
import { DeployedService, Platform, ServiceSpec } from "../platform/types";
import { replication, TopicKey } from "./config";
import { apacheKafkaEnv, confluentEnv, springEnv } from "./env";
import { BrokerReach, Topic, TopicArgs } from "./topics";

export { replication } from "./config";
export { Topic, TopicProvider } from "./topics";

const INTERNAL_PORT = 9092;
const CONTROLLER_PORT = 9093;
const CONNECT_PORT = 8083;
/** Container side of the host listener; published on ports.kafka (+1 per further broker). */
const HOST_LISTENER_PORT = 19092;

/** Memory limits (MiB) per service and profile; heaps are derived from them. */
const sizes: Record<ProfileName, Record<"controller" | "broker" | "schemaRegistry" | "connect" | "ksqldb" | "kafbat" | "controlCenter", number>> = {
    laptop: { controller: 256, broker: 832, schemaRegistry: 256, connect: 512, ksqldb: 448, kafbat: 256, controlCenter: 1024 },
    workstation: { controller: 224, broker: 896, schemaRegistry: 320, connect: 640, ksqldb: 512, kafbat: 192, controlCenter: 1024 },
    cluster: { controller: 384, broker: 2048, schemaRegistry: 384, connect: 1024, ksqldb: 768, kafbat: 256, controlCenter: 1024 },
};

export interface KafkaNode {
    id: number;
    name: string;
    broker: boolean;
    controller: boolean;
}

/** Combined nodes when there are no dedicated controllers; otherwise controllers first, then brokers. */
export function kafkaNodes(cfg: Pick<StackConfig, "kafka">): KafkaNode[] {
    const { brokers, controllers } = cfg.kafka;
    const ctrl = Array.from({ length: controllers }, (_, i) => ({ id: i + 1, name: `kafka-controller-${i + 1}`, broker: false, controller: true }));
    const brk = Array.from({ length: brokers }, (_, i) => ({ id: controllers + i + 1, name: `kafka-${i + 1}`, broker: true, controller: controllers === 0 }));
    return [...ctrl, ...brk];
}

/**
 * One pipeline topic as the tier declares it, from `kafka.topics.<key>`: replicated like the
 * cluster unless the key says otherwise, and always one in-sync replica short of all of them, so
 * a broker can restart under acks=all.
 */
export function topicArgs(cfg: Pick<StackConfig, "kafka">, key: TopicKey, brokers: pulumi.Input<BrokerReach[]>): TopicArgs {
    const t = cfg.kafka.topics[key];
    const rf = replication(cfg.kafka.brokers);
    const factor = t.replicationFactor ?? rf.factor;
    return {
        brokers,
        name: t.name,
        partitions: t.partitions,
        replicationFactor: factor,
        config: {
            "retention.ms": String(t.retentionHours * 3_600_000),
            "min.insync.replicas": String(Math.max(1, Math.min(rf.minInSync, factor - 1))),
            "cleanup.policy": "delete",
        },
    };
}

/** Every container this tier would run, with its memory: checked against the profile before anything is created. */
export function kafkaMemoryPlan(cfg: StackConfig): Record<string, number> {
    const size = sizes[cfg.profile];
    const plan: Record<string, number> = {};
    for (const n of kafkaNodes(cfg)) plan[n.name] = n.broker ? size.broker : size.controller;
    Object.assign(plan, { "schema-registry": size.schemaRegistry, "kafka-connect": size.connect, ksqldb: size.ksqldb });
    if (cfg.kafka.ui === "kafbat") plan["kafka-ui"] = size.kafbat;
    if (cfg.kafka.ui === "control-center") plan["control-center"] = size.controlCenter;
    return plan;
}

export interface KafkaOutputs {
    /** For containers on the platform network. */
    bootstrapInternal: string;
    /** For the machine that runs `pulumi up` (and the topic provider). */
    bootstrapHost: string;
    schemaRegistryUrl: string;
    schemaRegistryHostUrl: string;
    connectUrl: string;
    ksqldbUrl: string;
    uiUrl?: string;
    uiLogin?: { user: string; password: pulumi.Output<string> };
    topics: Record<TopicKey, pulumi.Output<string>>;
    brokers: DeployedService[];
    services: DeployedService[];
    /** Dependents wait for these: brokers healthy, topics created. */
    ready: pulumi.Resource[];
}

/**
 * Each KRaft node's settings as apache/kafka's environment (`KAFKA_*`, read into
 * server.properties by the image), with its heap, in start order, and the host port its host
 * listener is published on. Exported because the test engines run Kafka from exactly this.
 */
export function kafkaNodeEnvs(cfg: StackConfig, hostAddress: string): { node: KafkaNode; env: Record<string, string>; hostPort?: number }[] {
    const plan = kafkaMemoryPlan(cfg);
    const rf = replication(cfg.kafka.brokers);
    const nodes = kafkaNodes(cfg);
    const voters = nodes.filter((n) => n.controller).map((n) => `${n.id}@${n.name}:${CONTROLLER_PORT}`).join(",");
    const brokerNodes = nodes.filter((n) => n.broker);
    return nodes.map((node) => {
        const hostPort = node.broker ? cfg.ports.kafka + brokerNodes.indexOf(node) : undefined;
        const listeners = [
            ...(node.broker ? [`INTERNAL://:${INTERNAL_PORT}`, `HOST://:${HOST_LISTENER_PORT}`] : []),
            ...(node.controller ? [`CONTROLLER://:${CONTROLLER_PORT}`] : []),
        ];
        const props: Record<string, string> = {
            "node.id": String(node.id),
            "process.roles": [node.broker && "broker", node.controller && "controller"].filter(Boolean).join(","),
            "controller.quorum.voters": voters,
            "controller.listener.names": "CONTROLLER",
            listeners: listeners.join(","),
            "listener.security.protocol.map": "INTERNAL:PLAINTEXT,HOST:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": "/var/lib/kafka/data",
        };
        if (node.broker) {
            Object.assign(props, {
                "advertised.listeners": `INTERNAL://${node.name}:${INTERNAL_PORT},HOST://${hostAddress}:${hostPort}`,
                "inter.broker.listener.name": "INTERNAL",
                "default.replication.factor": String(rf.factor),
                "min.insync.replicas": String(rf.minInSync),
                "offsets.topic.replication.factor": String(rf.factor),
                "transaction.state.log.replication.factor": String(rf.factor),
                "transaction.state.log.min.isr": String(rf.minInSync),
                "share.coordinator.state.topic.replication.factor": String(rf.factor),
                "share.coordinator.state.topic.min.isr": String(rf.minInSync),
                // Topics are code: a typo in a client must not create a stray topic.
                "auto.create.topics.enable": "false",
            });
        }
        return { node, hostPort, env: { ...apacheKafkaEnv(props), KAFKA_HEAP_OPTS: heapOpts(plan[node.name]!) } };
    });
}

/**
 * The distributed Connect worker's settings as cp-kafka-connect's environment: its group, its
 * three storage topics, converters and plugin path. Exported because the test engine starts
 * Apache Kafka's own worker from exactly this.
 */
export function connectWorkerEnv(bootstrap: string, replicationFactor: number): Record<string, string> {
    return confluentEnv("CONNECT", {
        "bootstrap.servers": bootstrap,
        "group.id": "dataplatform-connect",
        "config.storage.topic": "_connect-configs",
        "offset.storage.topic": "_connect-offsets",
        "status.storage.topic": "_connect-status",
        "config.storage.replication.factor": String(replicationFactor),
        "offset.storage.replication.factor": String(replicationFactor),
        "status.storage.replication.factor": String(replicationFactor),
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "rest.advertised.host.name": "kafka-connect",
        listeners: `http://0.0.0.0:${CONNECT_PORT}`,
        // Connector plugins dropped into the volume survive container re-creation.
        "plugin.path": "/usr/share/java,/usr/share/confluent-hub-components,/opt/connect-plugins",
    });
}

/** KRaft brokers/controllers, Schema Registry, Connect, ksqlDB, a web UI and the pipeline's topics. */
export class KafkaTier extends pulumi.ComponentResource implements KafkaOutputs {
    readonly bootstrapInternal: string;
    readonly bootstrapHost: string;
    readonly schemaRegistryUrl: string;
    readonly schemaRegistryHostUrl: string;
    readonly connectUrl: string;
    readonly ksqldbUrl: string;
    readonly uiUrl?: string;
    readonly uiLogin?: { user: string; password: pulumi.Output<string> };
    readonly topics: Record<TopicKey, pulumi.Output<string>>;
    readonly brokers: DeployedService[];
    readonly services: DeployedService[];
    readonly ready: pulumi.Resource[];

    constructor(name: string, cfg: StackConfig, platform: Platform, opts?: pulumi.ComponentResourceOptions) {
        super("dataplatform:kafka:Kafka", name, {}, opts);
        const plan = kafkaMemoryPlan(cfg);
        const deploy = (spec: Omit<ServiceSpec, "tier" | "memoryMiB">) => platform.deploy({ ...spec, tier: "kafka", memoryMiB: plan[spec.name] }, this);
        const rf = replication(cfg.kafka.brokers);

        // The cluster id is fixed at first deploy and kept in state: re-created containers find their
        // log dirs formatted for the same cluster instead of failing with "invalid cluster.id".
        const clusterId = new random.RandomId("cluster-id", { byteLength: 16 }, { parent: this }).b64Url;

        const nodes = kafkaNodes(cfg);
        const deployed = new Map<string, DeployedService>();
        // Controllers first: brokers register with a quorum that is already up.
        for (const { node, env, hostPort } of kafkaNodeEnvs(cfg, platform.hostAddress)) {
            const healthCommand = node.broker
                ? `/opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server localhost:${INTERNAL_PORT}`
                : `/opt/kafka/bin/kafka-metadata-quorum.sh --bootstrap-controller localhost:${CONTROLLER_PORT} describe --status`;
            deployed.set(
                node.name,
                deploy({
                    name: node.name,
                    image: cfg.images.kafka,
                    env: { ...env, CLUSTER_ID: clusterId },
                    ports: [
                        ...(node.broker ? [{ name: "internal", containerPort: INTERNAL_PORT }, { name: "host", containerPort: HOST_LISTENER_PORT, hostPort, protocol: "tcp" as const }] : []),
                        ...(node.controller ? [{ name: "controller", containerPort: CONTROLLER_PORT }] : []),
                    ],
                    volumes: [{ name: "data", mountPath: "/var/lib/kafka/data" }],
                    // The image's appuser: named, so a fresh Kubernetes claim (root's) gets its group.
                    user: "1000:1000",
                    // The probe is a JVM too: keep its heap small and off the broker's JMX port.
                    health: { command: ["sh", "-c", `KAFKA_HEAP_OPTS=-Xmx64m KAFKA_JMX_OPTS= JMX_PORT= ${healthCommand} >/dev/null`], startPeriodSeconds: 30 },
                    dependsOn: node.broker ? nodes.filter((n) => n.controller && !n.broker).map((n) => deployed.get(n.name)!) : [],
                    // Combined nodes (no dedicated controllers) are one set of peers, named for their broker role.
                    group: node.broker ? "kafka-broker" : "kafka-controller",
                }),
            );
        }
        this.brokers = nodes.filter((n) => n.broker).map((n) => deployed.get(n.name)!);
        this.bootstrapInternal = this.brokers.map((b) => b.internal.internal).join(",");
        this.bootstrapHost = this.brokers.map((b) => b.published.host).join(",");

        const schemaRegistry = deploy({
            name: "schema-registry",
            image: cfg.images.schemaRegistry,
            env: {
                ...confluentEnv("SCHEMA_REGISTRY", {
                    "host.name": "schema-registry",
                    listeners: "http://0.0.0.0:8081",
                    "kafkastore.bootstrap.servers": this.bootstrapInternal,
                    "kafkastore.topic.replication.factor": String(rf.factor),
                }),
                SCHEMA_REGISTRY_HEAP_OPTS: heapOpts(plan["schema-registry"]),
            },
            ports: [{ name: "http", containerPort: 8081, hostPort: cfg.ports.schemaRegistry }],
            health: { command: ["curl", "-fsS", "-o", "/dev/null", "http://localhost:8081/subjects"], http: { port: 8081, path: "/subjects" } },
            dependsOn: this.brokers,
        });

        const connect = deploy({
            name: "kafka-connect",
            image: cfg.images.kafkaConnect,
            env: {
                ...connectWorkerEnv(this.bootstrapInternal, rf.factor),
                KAFKA_HEAP_OPTS: heapOpts(plan["kafka-connect"]),
            },
            ports: [{ name: "http", containerPort: CONNECT_PORT, hostPort: cfg.ports.kafkaConnect }],
            volumes: [{ name: "plugins", mountPath: "/opt/connect-plugins", sizeGiB: 1 }],
            health: { command: ["curl", "-fsS", "-o", "/dev/null", `http://localhost:${CONNECT_PORT}/connectors`], http: { port: CONNECT_PORT, path: "/connectors" }, startPeriodSeconds: 60 },
            dependsOn: this.brokers,
        });

        const ksqldb = deploy({
            name: "ksqldb",
            image: cfg.images.ksqldb,
            env: {
                ...confluentEnv("KSQL", {
                    "bootstrap.servers": this.bootstrapInternal,
                    listeners: "http://0.0.0.0:8088",
                    "ksql.service.id": "dataplatform_",
                    "ksql.schema.registry.url": `http://${schemaRegistry.internal.http}`,
                    "ksql.connect.url": `http://${connect.internal.http}`,
                    "ksql.internal.topic.replicas": String(rf.factor),
                    "ksql.streams.replication.factor": String(rf.factor),
                    "ksql.logging.processing.topic.replication.factor": String(rf.factor),
                }),
                KSQL_HEAP_OPTS: heapOpts(plan.ksqldb),
            },
            ports: [{ name: "http", containerPort: 8088, hostPort: cfg.ports.ksqldb }],
            health: { command: ["curl", "-fsS", "-o", "/dev/null", "http://localhost:8088/info"], http: { port: 8088, path: "/info" }, startPeriodSeconds: 60 },
            dependsOn: [...this.brokers, schemaRegistry, connect],
        });

        const services = [...deployed.values(), schemaRegistry, connect, ksqldb];
        if (cfg.kafka.ui === "kafbat") {
            const password = new random.RandomPassword("ui-password", { length: 24, special: false }, { parent: this });
            this.uiLogin = { user: "dataplatform", password: pulumi.secret(password.result) };
            const ui = deploy({
                name: "kafka-ui",
                image: cfg.images.kafkaUi,
                env: {
                    ...springEnv({
                        "kafka.clusters[0].name": cfg.stack,
                        "kafka.clusters[0].bootstrapServers": this.bootstrapInternal,
                        "kafka.clusters[0].schemaRegistry": `http://${schemaRegistry.internal.http}`,
                        "kafka.clusters[0].kafkaConnect[0].name": "connect",
                        "kafka.clusters[0].kafkaConnect[0].address": `http://${connect.internal.http}`,
                        "kafka.clusters[0].ksqldbServer": `http://${ksqldb.internal.http}`,
                        "auth.type": "LOGIN_FORM",
                        "spring.security.user.name": this.uiLogin.user,
                        "dynamic.config.enabled": "false",
                    }),
                    JAVA_OPTS: heapOpts(plan["kafka-ui"]),
                },
                secretEnv: { SPRING_SECURITY_USER_PASSWORD: this.uiLogin.password },
                ports: [{ name: "http", containerPort: 8080, hostPort: cfg.ports.kafkaUi }],
                // The image has busybox wget, no curl; the health endpoint needs no login.
                health: { command: ["wget", "-q", "-O", "/dev/null", "http://localhost:8080/actuator/health"], http: { port: 8080, path: "/actuator/health" }, startPeriodSeconds: 30 },
                dependsOn: [...this.brokers, schemaRegistry, connect, ksqldb],
            });
            services.push(ui);
            this.uiUrl = `http://${ui.published.http}`;
        } else if (cfg.kafka.ui === "control-center") {
            const c3 = deploy({
                name: "control-center",
                image: cfg.images.controlCenter,
                env: {
                    ...confluentEnv("CONTROL_CENTER", {
                        "bootstrap.servers": this.bootstrapInternal,
                        "replication.factor": String(rf.factor),
                        "internal.topics.replication": String(rf.factor),
                        "command.topic.replication": String(rf.factor),
                        "monitoring.interceptor.topic.replication": String(rf.factor),
                        "internal.topics.partitions": "1",
                        "monitoring.interceptor.topic.partitions": "1",
                        "schema.registry.url": `http://${schemaRegistry.internal.http}`,
                        "connect.connect-default.cluster": `http://${connect.internal.http}`,
                        "ksql.ksqldb.url": `http://${ksqldb.internal.http}`,
                    }),
                    CONFLUENT_METRICS_TOPIC_REPLICATION: String(rf.factor),
                    CONTROL_CENTER_HEAP_OPTS: heapOpts(plan["control-center"]),
                    PORT: "9021",
                },
                ports: [{ name: "http", containerPort: 9021, hostPort: cfg.ports.kafkaUi }],
                health: { command: ["curl", "-fsS", "-o", "/dev/null", "http://localhost:9021/"], http: { port: 9021, path: "/" }, startPeriodSeconds: 120 },
                dependsOn: [...this.brokers, schemaRegistry, connect, ksqldb],
            });
            services.push(c3);
            this.uiUrl = `http://${c3.published.http}`;
        }
        this.services = services;
        this.schemaRegistryUrl = `http://${schemaRegistry.internal.http}`;
        this.schemaRegistryHostUrl = `http://${schemaRegistry.published.http}`;
        this.connectUrl = `http://${connect.internal.http}`;
        this.ksqldbUrl = `http://${ksqldb.internal.http}`;

        // Topics are created through the host listener once every broker is healthy.
        const topics = (Object.keys(cfg.kafka.topics) as TopicKey[]).map((key) => {
            const topic = new Topic(`topic-${key}`, topicArgs(cfg, key, this.brokers.map((b) => ({ reach: b.reach.host!, advertised: b.published.host! }))), { parent: this, dependsOn: this.brokers.map((b) => b.ready) });
            return [key, topic] as const;
        });
        this.topics = Object.fromEntries(topics.map(([k, t]) => [k, t.name])) as Record<TopicKey, pulumi.Output<string>>;
        this.ready = [...this.brokers.map((b) => b.ready), ...topics.map(([, t]) => t)];
        this.registerOutputs({ bootstrapInternal: this.bootstrapInternal, bootstrapHost: this.bootstrapHost, topics: this.topics });
    }
}
