import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { ProfileName, StackConfig } from "../config";
import { IcebergCatalog, icebergDatabase } from "../iceberg";
import { awsKeyEnv, ObjectStoreOutputs, runsAs } from "../objectstore";
import { heapOpts } from "../platform/jvm";
import { DeployedService, Platform, ServiceSpec } from "../platform/types";
import { jarImage } from "../shared/image";

const REST_PORT = 8081;
const GATEWAY_PORT = 8083;
/** The JobManager's service name, which every other Flink process reaches it by. */
export const JOBMANAGER = "flink-jobmanager";

/** Memory limits (MiB) per service and profile; Flink's own memory model is sized inside them. */
const sizes: Record<ProfileName, { jobmanager: number; taskmanager: number; sqlGateway: number; icebergRest: number; icebergDb: number }> = {
    laptop: { jobmanager: 512, taskmanager: 960, sqlGateway: 256, icebergRest: 192, icebergDb: 128 },
    workstation: { jobmanager: 768, taskmanager: 1280, sqlGateway: 384, icebergRest: 256, icebergDb: 128 },
    cluster: { jobmanager: 1024, taskmanager: 2048, sqlGateway: 384, icebergRest: 256, icebergDb: 128 },
};

export function flinkMemoryPlan(cfg: StackConfig): Record<string, number> {
    const size = sizes[cfg.profile];
    const plan: Record<string, number> = { [JOBMANAGER]: size.jobmanager };
    for (let i = 1; i <= cfg.flink.taskManagers; i++) plan[`flink-taskmanager-${i}`] = size.taskmanager;
    return { ...plan, "flink-sql-gateway": size.sqlGateway, "iceberg-rest": size.icebergRest, [icebergDatabase.name]: size.icebergDb };
}

/** The object store as Flink's configuration names it, resolved. */
export interface FlinkStore {
    checkpointsBucket: string;
    /** S3 endpoint for MinIO; absent on AWS. */
    s3Endpoint?: string;
    pathStyle: boolean;
    /**
     * The region the S3 filesystem signs for. Its Hadoop (3.3.4, shaded in flink-s3-fs-hadoop)
     * ignores AWS_REGION and would fall back to us-east-1.
     */
    region?: string;
}

export interface FlinkSettings extends FlinkStore {
    slots: number;
    jobManagerMiB: number;
    taskManagerMiB: number;
}

/**
 * Flink configuration shared by every Flink process of the stack. Pure, so tests assert it and the
 * real-engine Flink can run with the same settings. Values must not contain whitespace: the
 * image's entrypoint strips it from FLINK_PROPERTIES.
 */
export function flinkProperties(s: FlinkSettings): Record<string, string> {
    const props: Record<string, string> = {
        "jobmanager.rpc.address": JOBMANAGER,
        "rest.address": JOBMANAGER,
        "taskmanager.numberOfTaskSlots": String(s.slots),
        "parallelism.default": "1",
        "state.backend.type": "hashmap",
        "execution.checkpointing.interval": "30s",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.dir": `s3://${s.checkpointsBucket}/checkpoints`,
        "execution.checkpointing.savepoint-dir": `s3://${s.checkpointsBucket}/savepoints`,
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "restart-strategy.type": "exponential-delay",
        "s3.path.style.access": String(s.pathStyle),
        // Small processes: shrink Flink's fixed overheads so the heaps are not squeezed to nothing.
        "jobmanager.memory.process.size": `${s.jobManagerMiB}m`,
        "jobmanager.memory.jvm-metaspace.size": "128m",
        "jobmanager.memory.jvm-overhead.min": "64m",
        "taskmanager.memory.process.size": `${s.taskManagerMiB}m`,
        "taskmanager.memory.jvm-metaspace.size": "192m",
        "taskmanager.memory.jvm-overhead.min": "96m",
        "taskmanager.memory.managed.fraction": "0.15",
        ...(s.s3Endpoint ? { "s3.endpoint": s.s3Endpoint } : {}),
        // Hadoop's own name, which Flink passes on like its s3. keys: "s3.endpoint.region" would sit
        // under "s3.endpoint" when Flink nests the keys into config.yaml, and break its parsing.
        ...(s.region ? { "fs.s3a.endpoint.region": s.region } : {}),
    };
    for (const [k, v] of Object.entries(props)) {
        if (/\s/.test(v)) throw new Error(`Flink property ${k} = "${v}" contains whitespace, which the Flink image would strip`);
    }
    return props;
}

/** The settings the tier renders for a stack: the profile's sizes and the configured slots, on `store`. */
export function flinkSettings(cfg: StackConfig, store: FlinkStore): FlinkSettings {
    const size = sizes[cfg.profile];
    return { ...store, slots: cfg.flink.slotsPerTaskManager, jobManagerMiB: size.jobmanager, taskManagerMiB: size.taskmanager };
}

/** How the tier runs the SQL Gateway in the Flink image: its command and its JVM_ARGS (a heap sized to its container). */
export function sqlGatewayProcess(cfg: StackConfig): { command: string[]; jvmArgs: string } {
    return {
        command: [
            "/opt/flink/bin/sql-gateway.sh",
            "start-foreground",
            "-Dsql-gateway.endpoint.rest.address=0.0.0.0",
            `-Dsql-gateway.endpoint.rest.port=${GATEWAY_PORT}`,
            // The image pins rest.address to the container; the gateway must submit to the JobManager.
            `-Drest.address=${JOBMANAGER}`,
        ],
        jvmArgs: heapOpts(flinkMemoryPlan(cfg)["flink-sql-gateway"]),
    };
}

/** The `key: value` lines the Flink image merges into its config.yaml. */
export function flinkPropertiesText(props: Record<string, string>): string {
    return Object.entries(props)
        .map(([k, v]) => `${k}: ${v}`)
        .join("\n");
}

export interface FlinkTierArgs {
    store: ObjectStoreOutputs;
}

/** JobManager, TaskManagers and the SQL Gateway on an image with the manifest's connector jars, plus the Iceberg catalog. */
export class FlinkTier extends pulumi.ComponentResource {
    readonly services: DeployedService[];
    readonly catalog: IcebergCatalog;
    readonly jobManagerUrl: string;
    readonly jobManagerHostUrl: string;
    readonly sqlGatewayUrl: string;
    readonly sqlGatewayHostUrl: string;

    constructor(name: string, cfg: StackConfig, platform: Platform, args: FlinkTierArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dataplatform:flink:Flink", name, {}, opts);
        const { store } = args;
        const plan = flinkMemoryPlan(cfg);
        const size = sizes[cfg.profile];

        this.catalog = new IcebergCatalog("iceberg", cfg, platform, { store, memoryMiB: { rest: size.icebergRest, db: size.icebergDb } }, { parent: this });

        const image = jarImage(
            "flink-image",
            { jars: "flink", dockerfile: path.join(__dirname, "Dockerfile"), baseArg: "FLINK_IMAGE", base: cfg.images.flink, repository: "dataplatform/flink" },
            this,
            platform.registry,
        );
        const properties = pulumi.all([store.buckets.checkpoints, store.endpoint]).apply(([bucket, endpoint]) =>
            flinkPropertiesText(
                flinkProperties(flinkSettings(cfg, { checkpointsBucket: bucket, s3Endpoint: store.kind === "minio" ? endpoint : undefined, pathStyle: store.pathStyle, region: store.region })),
            ),
        );
        // Checkpoints (S3 filesystem) and Iceberg data files (S3FileIO) both read the Flink user's
        // keys from the standard AWS variables; with an identity instead, the S3 filesystem's default
        // providers end in the container provider (SDK v1 1.12.779) and S3FileIO's default chain
        // (SDK v2 2.33.0) has it too: both take EKS Pod Identity's credentials.
        const common = {
            tier: "flink",
            image,
            env: { FLINK_PROPERTIES: properties, AWS_REGION: store.region },
            secretEnv: awsKeyEnv(store.credentials.flink),
            ...runsAs(store.credentials.flink),
            // The image's flink user. Started as it, the entrypoint skips its switch from root (gosu),
            // which a Kubernetes pod without capabilities cannot do.
            user: "9999:9999",
        } satisfies Partial<ServiceSpec>;

        const jobmanager = platform.deploy(
            {
                ...common,
                name: JOBMANAGER,
                command: ["jobmanager"],
                ports: [
                    { name: "rest", containerPort: REST_PORT, hostPort: cfg.ports.flinkUi },
                    { name: "rpc", containerPort: 6123 },
                ],
                health: { command: ["curl", "-fsS", "-o", "/dev/null", `http://localhost:${REST_PORT}/overview`], http: { port: REST_PORT, path: "/overview" }, startPeriodSeconds: 30 },
                memoryMiB: plan[JOBMANAGER],
                requires: store.ready,
            },
            this,
        );
        const taskmanagers = Array.from({ length: cfg.flink.taskManagers }, (_, i) =>
            platform.deploy(
                {
                    ...common,
                    name: `flink-taskmanager-${i + 1}`,
                    command: ["taskmanager"],
                    // Healthy once the JobManager lists this TaskManager (its id starts with the container's address).
                    health: {
                        command: ["sh", "-c", `curl -fsS http://${JOBMANAGER}:${REST_PORT}/taskmanagers | grep -q "$(hostname -i | cut -d' ' -f1)"`],
                        startPeriodSeconds: 30,
                    },
                    memoryMiB: plan[`flink-taskmanager-${i + 1}`],
                    dependsOn: [jobmanager],
                    group: "flink-taskmanager",
                },
                this,
            ),
        );
        const gatewayProcess = sqlGatewayProcess(cfg);
        const gateway = platform.deploy(
            {
                ...common,
                name: "flink-sql-gateway",
                command: gatewayProcess.command,
                env: { ...common.env, JVM_ARGS: gatewayProcess.jvmArgs },
                ports: [{ name: "rest", containerPort: GATEWAY_PORT, hostPort: cfg.ports.sqlGateway }],
                health: { command: ["curl", "-fsS", "-o", "/dev/null", `http://localhost:${GATEWAY_PORT}/v1/info`], http: { port: GATEWAY_PORT, path: "/v1/info" }, startPeriodSeconds: 30 },
                memoryMiB: plan["flink-sql-gateway"],
                dependsOn: [jobmanager, ...taskmanagers, this.catalog.service],
            },
            this,
        );
        this.services = [jobmanager, ...taskmanagers, gateway, ...this.catalog.services];
        this.jobManagerUrl = `http://${jobmanager.internal.rest}`;
        this.jobManagerHostUrl = `http://${jobmanager.published.rest}`;
        this.sqlGatewayUrl = `http://${gateway.internal.rest}`;
        this.sqlGatewayHostUrl = `http://${gateway.published.rest}`;
        this.registerOutputs({ jobManagerUrl: this.jobManagerHostUrl, sqlGatewayUrl: this.sqlGatewayHostUrl });
    }
}
