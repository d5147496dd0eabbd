import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { ProfileName, profiles, StackConfig } from "../config";
import { KafkaOutputs } from "../kafka";
import { keysOf, ObjectStoreOutputs, runsAs } from "../objectstore";
import { DeployedService, Platform, Reach, ServiceSpec } from "../platform/types";
import { MetadataDatabase, POSTGRES_PORT, postgresService } from "../shared/postgres";
import { druidEnv } from "./env";
import { KafkaSupervisor, KafkaSupervisorArgs, kafkaSupervisorSpec } from "./supervisor";

export { druidConfigSchema } from "./config";
export { druidEnv, druidProperty } from "./env";
export { KafkaSupervisor, kafkaSupervisorSpec, SupervisorProvider } from "./supervisor";

export const druidRoles = ["coordinator", "broker", "historical", "indexer", "router"] as const;
export type DruidRole = (typeof druidRoles)[number];

/** Upstream ports, kept inside the network; only the router is published. */
export const druidPorts: Record<DruidRole, number> = { coordinator: 8081, broker: 8082, historical: 8083, indexer: 8091, router: 8888 };

/**
 * Resident memory outside the heap (metaspace, code cache, threads, GC and malloc arenas, the
 * processing buffers in use), from real Druid 33.0.0 JVMs on Java 17 with the laptop sizes and
 * `jvmOptions`: broker 222 and router 130 after SQL queries, indexer 218 while running a Kafka
 * task, historical 212 serving segments (default JIT, so an upper bound). The coordinator is an
 * estimate: 259 as leader with the default JIT and a 384 MiB heap, 143 as a standby with these
 * options. The unit tests hold heap + this to each role's limit.
 */
export const measuredNonHeapMiB: Record<DruidRole, number> = { coordinator: 230, broker: 222, historical: 212, indexer: 230, router: 130 };

/**
 * C1 only and a smaller code cache: about 35 MiB less per JVM than the default tiered compiler,
 * which a laptop's 2 GiB for seven services cannot spare; glibc's per-thread arenas capped likewise.
 */
export const jvmOptions = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=48m";

interface JvmSize {
    /** Container limit. */
    limitMiB: number;
    heapMiB: number;
    /** -XX:MaxDirectMemorySize: processing buffers plus Netty/Jetty buffers. */
    directMiB: number;
}

/**
 * The one table of Druid memory, per profile (MiB). Each role's heap + measuredNonHeapMiB fits its
 * limit; the sum of limits over every instance is within the profile's Druid share (laptop 2048,
 * workstation 3584, cluster 8320).
 */
export const druidSizes: Record<
    ProfileName,
    {
        zookeeper: { limitMiB: number; heapMiB: number };
        db: number;
        roles: Record<DruidRole, JvmSize>;
        /** Query processing: direct memory needed = bufferMiB x (numThreads + numMergeBuffers + 1). */
        processing: { bufferMiB: number; numThreads: number; numMergeBuffers: number };
        /** Historical's on-heap result cache (the image's default of 256 MiB exceeds a laptop heap). */
        cacheMiB: number;
    }
> = {
    laptop: {
        zookeeper: { limitMiB: 96, heapMiB: 48 },
        db: 96,
        roles: {
            coordinator: { limitMiB: 384, heapMiB: 128, directMiB: 64 },
            broker: { limitMiB: 384, heapMiB: 128, directMiB: 64 },
            historical: { limitMiB: 352, heapMiB: 128, directMiB: 64 },
            indexer: { limitMiB: 480, heapMiB: 192, directMiB: 64 },
            router: { limitMiB: 256, heapMiB: 64, directMiB: 32 },
        },
        processing: { bufferMiB: 16, numThreads: 1, numMergeBuffers: 2 },
        cacheMiB: 16,
    },
    workstation: {
        zookeeper: { limitMiB: 192, heapMiB: 96 },
        db: 192,
        roles: {
            coordinator: { limitMiB: 512, heapMiB: 256, directMiB: 64 },
            broker: { limitMiB: 768, heapMiB: 384, directMiB: 160 },
            historical: { limitMiB: 768, heapMiB: 384, directMiB: 160 },
            indexer: { limitMiB: 896, heapMiB: 512, directMiB: 160 },
            router: { limitMiB: 256, heapMiB: 64, directMiB: 32 },
        },
        processing: { bufferMiB: 32, numThreads: 2, numMergeBuffers: 2 },
        cacheMiB: 64,
    },
    cluster: {
        zookeeper: { limitMiB: 256, heapMiB: 128 },
        db: 256,
        roles: {
            coordinator: { limitMiB: 768, heapMiB: 448, directMiB: 64 },
            broker: { limitMiB: 1280, heapMiB: 768, directMiB: 384 },
            historical: { limitMiB: 1280, heapMiB: 768, directMiB: 384 },
            indexer: { limitMiB: 1536, heapMiB: 1024, directMiB: 384 },
            router: { limitMiB: 384, heapMiB: 128, directMiB: 32 },
        },
        processing: { bufferMiB: 64, numThreads: 2, numMergeBuffers: 2 },
        cacheMiB: 128,
    },
};

const serviceName = (role: DruidRole | "zookeeper" | "db") => `druid-${role}`;

/**
 * Roles that run as several instances where the profile says so: the query path. Druid finds these
 * peers itself (each announces itself in ZooKeeper; the router spreads queries over the brokers, and
 * the coordinator's default load rule puts each segment on two historicals), so each instance can
 * be its own service. The rest stays single: clients reach the router by one service name, and a
 * standby coordinator or a second indexer (useful only with task replicas in the supervisor) would
 * still hang on one ZooKeeper and one PostgreSQL.
 */
const replicatedRoles: Partial<Record<DruidRole, keyof (typeof profiles)[ProfileName]["druid"]>> = { broker: "brokers", historical: "historicals" };

/** A role's service names: the first keeps the role's name, so every address a single-instance stack has stays. */
export function druidInstances(role: DruidRole, profile: ProfileName): string[] {
    const key = replicatedRoles[role];
    const count = key ? profiles[profile].druid[key] : 1;
    return Array.from({ length: count }, (_, i) => (i === 0 ? serviceName(role) : `${serviceName(role)}-${i + 1}`));
}

const ZOOKEEPER_PORT = 2181;

/** Where the image keeps Druid (its working directory); each data role's volume is its `var`. */
export const DRUID_HOME = "/opt/druid";
/** The druid user of apache/druid and the zookeeper user of the zookeeper image: both 1000:1000. */
const DRUID_UID_GID = "1000:1000";

/** Druid's metadata store: segments, tasks, supervisors, rules. */
export const druidDatabase: MetadataDatabase = { name: serviceName("db"), database: "druid", user: "druid" };

export function druidMemoryPlan(cfg: Pick<StackConfig, "profile">): Record<string, number> {
    const size = druidSizes[cfg.profile];
    return {
        [serviceName("zookeeper")]: size.zookeeper.limitMiB,
        [serviceName("db")]: size.db,
        ...Object.fromEntries(druidRoles.flatMap((r) => druidInstances(r, cfg.profile).map((name) => [name, size.roles[r].limitMiB]))),
    };
}

/** Extensions every role loads: Kafka ingestion, S3 deep storage, the PostgreSQL metadata store. */
export const druidExtensions = ["druid-kafka-indexing-service", "druid-s3-extensions", "postgresql-metadata-storage"];

export interface DeepStorage<V = pulumi.Input<string>> {
    bucket: V;
    /** MinIO's endpoint; absent on AWS, where the SDK finds the regional endpoint itself. */
    endpoint?: V;
    pathStyle: boolean;
    region: string;
}

/** Deep storage and task logs on the object store. Pure, so tests assert MinIO and S3 alike. */
export function deepStorageProperties<V>(s: DeepStorage<V>): Record<string, V | string> {
    return {
        "druid.storage.type": "s3",
        "druid.storage.bucket": s.bucket,
        "druid.storage.baseKey": "segments",
        // Buckets enforce object ownership (ACLs disabled on S3); Druid must not set or read ACLs.
        "druid.storage.disableAcl": "true",
        "druid.indexer.logs.type": "s3",
        "druid.indexer.logs.s3Bucket": s.bucket,
        "druid.indexer.logs.s3Prefix": "task-logs",
        "druid.indexer.logs.disableAcl": "true",
        "druid.s3.enablePathStyleAccess": String(s.pathStyle),
        ...(s.endpoint ? { "druid.s3.endpoint.url": s.endpoint, "druid.s3.endpoint.signingRegion": s.region } : {}),
    };
}

/** Roles that run queries and so allocate processing buffers; the others leave Druid's defaults, sized from their direct memory. */
export const processingRoles: readonly DruidRole[] = ["broker", "historical", "indexer"];

/** Properties that only one role needs (by profile). */
export function druidRoleProperties(role: DruidRole, profile: ProfileName): Record<string, string> {
    const size = druidSizes[profile];
    const processing: Record<string, string> = processingRoles.includes(role)
        ? {
              "druid.processing.buffer.sizeBytes": `${size.processing.bufferMiB}MiB`,
              "druid.processing.numThreads": String(size.processing.numThreads),
              "druid.processing.numMergeBuffers": String(size.processing.numMergeBuffers),
          }
        : {};
    return { ...processing, ...roleOnly(role, profile) };
}

/**
 * How often the coordinator reads newly published segments from the metadata store, and how often
 * an ingestion task asks whether the historicals serve its segments yet. Druid's default (1 min
 * each) keeps a finished task in its slot for up to 2.5 minutes after it published; the indexer
 * has two slots (one task reading, one handing off), so a slow handoff is what a compaction or
 * batch task would wait for. At this scale a poll every 15 s costs nothing.
 */
export const handoffPoll = "PT15S";

function roleOnly(role: DruidRole, profile: ProfileName): Record<string, string> {
    const size = druidSizes[profile];
    switch (role) {
        case "coordinator":
            return {
                "druid.service": "druid/coordinator",
                // One JVM for coordinator and overlord: a laptop cannot spare a second.
                "druid.coordinator.asOverlord.enabled": "true",
                "druid.coordinator.asOverlord.overlordService": "druid/overlord",
                "druid.indexer.runner.type": "remote",
                "druid.indexer.storage.type": "metadata",
                "druid.indexer.queue.startDelay": "PT5S",
                "druid.coordinator.startDelay": "PT10S",
                "druid.coordinator.period": "PT30S",
                "druid.manager.segments.pollDuration": handoffPoll,
            };
        case "broker":
            // Fewer connections than the historical's and indexer's HTTP threads, so queries never queue on them.
            return { "druid.service": "druid/broker", "druid.broker.http.numConnections": "8" };
        case "historical":
            return {
                "druid.service": "druid/historical",
                // In the volume: after a restart segments load from local disk, not again from the object store.
                "druid.segmentCache.locations": JSON.stringify([{ path: `${DRUID_HOME}/var/druid/segment-cache`, maxSize: "20g" }]),
                "druid.server.maxSize": "20g",
                "druid.cache.type": "caffeine",
                "druid.cache.sizeInBytes": `${size.cacheMiB}MiB`,
            };
        case "indexer":
            // Tasks run as threads of this JVM (no peon forks): one Kafka task plus one handing off.
            return { "druid.service": "druid/indexer", "druid.worker.capacity": "2", "druid.segment.handoff.pollDuration": handoffPoll };
        case "router":
            return {
                "druid.service": "druid/router",
                // The overlord API (supervisors) through the one published URL.
                "druid.router.managementProxy.enabled": "true",
                "druid.router.defaultBrokerServiceName": "druid/broker",
                "druid.router.coordinatorServiceName": "druid/coordinator",
                "druid.router.http.numConnections": "8",
                "druid.router.http.numMaxThreads": "16",
            };
    }
}

/** What a role's container environment is rendered from; generic so the tier passes Pulumi inputs and the test engine plain strings. */
export interface DruidRenderArgs<V> {
    profile: ProfileName;
    /** Deep storage and task logs, and the region the S3 client signs for. */
    store: DeepStorage<V>;
    /** The metadata database user's password. */
    dbPassword: V;
    /**
     * Druid's own keys for the object store. Absent with a workload identity: Druid's provider
     * chain (AWSCredentialsUtils) then reaches its web identity step (IRSA). Its SDK (v1 1.12.638)
     * predates EKS Pod Identity, which needs 1.12.746.
     */
    s3?: { accessKeyId: V; secretAccessKey: V };
}

export interface DruidRoleEnv<V> {
    env: Record<string, V | string>;
    secretEnv: Record<string, V>;
}

/**
 * Each role's container environment: the `druid_*` properties the image's druid.sh writes into
 * the role's runtime.properties, and its launcher variables (heap, direct memory, JAVA_OPTS). Pure:
 * the tier deploys exactly this, and the test engine runs it on real JVMs.
 */
export function druidRoleEnvs<V>(args: DruidRenderArgs<V>): Record<DruidRole, DruidRoleEnv<V>> {
    const size = druidSizes[args.profile];
    const common: Record<string, V | string> = {
        "druid.extensions.loadList": JSON.stringify(druidExtensions),
        "druid.zk.service.host": `${serviceName("zookeeper")}:${ZOOKEEPER_PORT}`,
        "druid.zk.paths.base": "/druid",
        "druid.metadata.storage.type": "postgresql",
        "druid.metadata.storage.connector.connectURI": `jdbc:postgresql://${druidDatabase.name}:${POSTGRES_PORT}/${druidDatabase.database}`,
        "druid.metadata.storage.connector.user": druidDatabase.user,
        ...deepStorageProperties(args.store),
        "druid.server.http.numThreads": "16",
    };
    const secretEnv = druidEnv({
        "druid.metadata.storage.connector.password": args.dbPassword,
        ...(args.s3 ? { "druid.s3.accessKey": args.s3.accessKeyId, "druid.s3.secretKey": args.s3.secretAccessKey } : {}),
    });
    const role = (r: DruidRole): DruidRoleEnv<V> => {
        const jvm = size.roles[r];
        return {
            env: {
                // Each property its own variable, so `pulumi preview --diff` shows exactly which setting changed.
                ...druidEnv({ ...common, "druid.host": serviceName(r), "druid.plaintextPort": String(druidPorts[r]), ...druidRoleProperties(r, args.profile) }),
                DRUID_XMX: `${jvm.heapMiB}m`,
                DRUID_XMS: `${jvm.heapMiB}m`,
                DRUID_MAXDIRECTMEMORYSIZE: `${jvm.directMiB}m`,
                // The S3 client of deep storage and of in-JVM ingestion tasks resolves its region from here.
                AWS_REGION: args.store.region,
                JAVA_OPTS: jvmOptions,
                MALLOC_ARENA_MAX: "2",
            },
            secretEnv,
        };
    };
    return Object.fromEntries(druidRoles.map((r) => [r, role(r)])) as Record<DruidRole, DruidRoleEnv<V>>;
}

/** Health per role: readiness where Druid has it, leadership for the overlord (supervisors need a leader). */
const healthPath: Record<DruidRole, string> = {
    coordinator: "/druid/indexer/v1/isLeader",
    broker: "/druid/broker/v1/readiness",
    historical: "/druid/historical/v1/readiness",
    indexer: "/status/health",
    router: "/status/health",
};

/**
 * The aggregates supervisor as the tier declares it, from `druid.aggregates`: it reads the
 * configured topic, else the Kafka tier's processed topic. `bootstrap` is the Kafka tier's
 * internal listener (the tasks run inside Druid); `router` is how `pulumi up` reaches the overlord.
 */
export function aggregatesSupervisorArgs(cfg: Pick<StackConfig, "druid">, router: pulumi.Input<Reach>, processedTopic: pulumi.Input<string>, bootstrap: string): KafkaSupervisorArgs {
    const ds = cfg.druid.aggregates;
    return {
        router,
        dataSource: ds.dataSource,
        spec: pulumi.output(ds.topic ?? processedTopic).apply((topic) => kafkaSupervisorSpec({ ...ds, topic }, bootstrap)),
    };
}

export interface DruidTierArgs {
    store: ObjectStoreOutputs;
    kafka: Pick<KafkaOutputs, "bootstrapInternal" | "topics" | "ready">;
}

/** ZooKeeper, a PostgreSQL metadata store and the five Druid roles, with Kafka ingestion as code. */
export class DruidTier extends pulumi.ComponentResource {
    readonly services: DeployedService[];
    /** From the machine running `pulumi up` (published on 127.0.0.1). */
    readonly routerUrl: string;
    readonly routerUrlInternal: string;
    readonly brokerUrlInternal: string;
    /** SQLAlchemy URI for Superset (pydruid) inside the platform network. */
    readonly brokerSqlAlchemyUri: string;
    readonly overlordUrlInternal: string;
    readonly supervisor: KafkaSupervisor;
    /** The datasource the supervisor fills: the table the dashboards read. */
    readonly aggregatesDataSource: string;

    constructor(name: string, cfg: StackConfig, platform: Platform, args: DruidTierArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dataplatform:druid:Druid", name, {}, opts);
        const { store, kafka } = args;
        const size = druidSizes[cfg.profile];
        const plan = druidMemoryPlan(cfg);
        const deploy = (spec: Omit<ServiceSpec, "tier" | "memoryMiB">) => platform.deploy({ ...spec, tier: "druid", memoryMiB: plan[spec.name] }, this);

        const zookeeper = deploy({
            name: serviceName("zookeeper"),
            image: cfg.images.zookeeper,
            env: { ZK_SERVER_HEAP: String(size.zookeeper.heapMiB), ZOO_4LW_COMMANDS_WHITELIST: "ruok,srvr", ZOO_ADMINSERVER_ENABLED: "false" },
            ports: [{ name: "client", containerPort: ZOOKEEPER_PORT }],
            // Paths the image creates and owns (uid 1000 zookeeper), so the volumes inherit that owner.
            volumes: [{ name: "data", mountPath: "/data", sizeGiB: 1 }, { name: "datalog", mountPath: "/datalog", sizeGiB: 1 }],
            // Started as the image's user, the image skips its root start (chown, then gosu), which a
            // Kubernetes pod without capabilities cannot do; and fresh claims get its group.
            user: DRUID_UID_GID,
            // bash's /dev/tcp instead of a JVM client: a second JVM would not fit the container.
            health: { command: ["bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${ZOOKEEPER_PORT} && echo ruok >&3 && grep -q imok <&3`], startPeriodSeconds: 20 },
        });

        const dbPassword = pulumi.secret(new random.RandomPassword("db-password", { length: 32, special: false }, { parent: this }).result);
        const db = deploy(postgresService({ ...druidDatabase, tier: "druid", image: cfg.images.postgres, password: dbPassword, memoryMiB: size.db }));

        const envs = druidRoleEnvs<pulumi.Input<string>>({
            profile: cfg.profile,
            store: { bucket: store.buckets.druid, endpoint: store.kind === "minio" ? store.endpoint : undefined, pathStyle: store.pathStyle, region: store.region },
            dbPassword,
            s3: keysOf(store.credentials.druid),
        });

        const instances = {} as Record<DruidRole, DeployedService[]>;
        const role = (r: DruidRole, dependsOn: DeployedService[], volume: boolean) => {
            const port = druidPorts[r];
            const group = replicatedRoles[r] ? serviceName(r) : undefined;
            instances[r] = druidInstances(r, cfg.profile).map((name) =>
                deploy({
                    name,
                    group,
                    image: cfg.images.druid,
                    command: [r],
                    // Each instance announces its own address in ZooKeeper, where its peers and the router find it.
                    env: { ...envs[r].env, ...druidEnv({ "druid.host": name }) },
                    secretEnv: envs[r].secretEnv,
                    ...runsAs(store.credentials.druid),
                    ports: [{ name: "http", containerPort: port, ...(r === "router" ? { hostPort: cfg.ports.druidRouter } : {}) }],
                    // The image's var exists, owned by uid 1000 (druid): a new named volume copies that owner.
                    // Room for the 20g segment cache (druid.segmentCache.locations) and task files.
                    volumes: volume ? [{ name: "var", mountPath: `${DRUID_HOME}/var`, sizeGiB: 25 }] : [],
                    // The image's druid user: named, so a fresh Kubernetes claim (root's) gets its group.
                    user: DRUID_UID_GID,
                    // The image has busybox wget, no curl.
                    health: {
                        command: ["wget", "-q", "-T", "5", "-O", "/dev/null", `http://localhost:${port}${healthPath[r]}`],
                        http: { port, path: healthPath[r] },
                        startPeriodSeconds: 90,
                        intervalSeconds: 10,
                        retries: 12,
                    },
                    dependsOn,
                    requires: store.ready,
                }),
            );
        };
        role("coordinator", [zookeeper, db], false);
        for (const r of ["broker", "historical", "indexer"] as const) role(r, [zookeeper, db, ...instances.coordinator], r === "historical" || r === "indexer");
        role("router", [...instances.coordinator, ...instances.broker, ...instances.historical, ...instances.indexer], false);
        // The instances the tier's fixed addresses name.
        const deployed = Object.fromEntries(druidRoles.map((r) => [r, instances[r][0]!])) as Record<DruidRole, DeployedService>;

        this.services = [zookeeper, db, ...druidRoles.flatMap((r) => instances[r])];
        this.routerUrl = `http://${deployed.router.published.http}`;
        this.routerUrlInternal = `http://${deployed.router.internal.http}`;
        this.brokerUrlInternal = `http://${deployed.broker.internal.http}`;
        this.brokerSqlAlchemyUri = `druid://${deployed.broker.internal.http}/druid/v2/sql/`;
        this.overlordUrlInternal = `http://${deployed.coordinator.internal.http}`;

        this.aggregatesDataSource = cfg.druid.aggregates.dataSource;
        // Through the router: its published port on Docker, a tunnel through the API server on Kubernetes.
        this.supervisor = new KafkaSupervisor("supervisor-aggregates", aggregatesSupervisorArgs(cfg, deployed.router.reach.http!, kafka.topics.processed, kafka.bootstrapInternal), {
            parent: this,
            dependsOn: [deployed.router.ready, deployed.indexer.ready, ...kafka.ready],
        });
        this.registerOutputs({ routerUrl: this.routerUrl, brokerSqlAlchemyUri: this.brokerSqlAlchemyUri });
    }
}
