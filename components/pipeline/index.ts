import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { ProfileName, StackConfig } from "../config";
import { FlinkTier } from "../flink";
import { KafkaTier } from "../kafka";
import { awsKeyEnv, ObjectStoreOutputs, runsAs } from "../objectstore";
import { DeployedService, Platform, ServiceSpec } from "../platform/types";
import { builtImage, pathsDigest } from "../shared/image";

const HEALTH_PORT = 8080;
const repoRoot = path.join(__dirname, "..", "..");

/** Memory limits (MiB) per app and profile; Node's heap is capped inside each. */
const sizes: Record<ProfileName, { producer: number; processor: number; archiver: number }> = {
    laptop: { producer: 128, processor: 96, archiver: 160 },
    workstation: { producer: 256, processor: 192, archiver: 320 },
    cluster: { producer: 256, processor: 192, archiver: 320 },
};

export function pipelineMemoryPlan(cfg: StackConfig): Record<string, number> {
    const s = sizes[cfg.profile];
    return { "pipeline-producer": s.producer, "pipeline-processor": s.processor, "pipeline-archiver": s.archiver };
}

export interface PipelineArgs {
    store: ObjectStoreOutputs;
    kafka: KafkaTier;
    flink: FlinkTier;
}

/**
 * The last layer: the producer of viewing events, the keeper of the Flink SQL job and the
 * archiving consumer, from one image built from pipeline/, configured from the tiers' outputs.
 */
export class Pipeline extends pulumi.ComponentResource {
    readonly services: DeployedService[];

    constructor(name: string, cfg: StackConfig, platform: Platform, args: PipelineArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dataplatform:pipeline:Pipeline", name, {}, opts);
        const { store, kafka, flink } = args;
        const plan = pipelineMemoryPlan(cfg);
        // The files pipeline/Dockerfile copies (see pipeline/Dockerfile.dockerignore): the tag follows them.
        const image = builtImage(
            "pipeline-image",
            {
                context: repoRoot,
                dockerfile: path.join(repoRoot, "pipeline", "Dockerfile"),
                baseArg: "NODE_IMAGE",
                base: cfg.images.node,
                repository: "dataplatform/pipeline",
                contextDigest: pathsDigest(repoRoot, ["package.json", "package-lock.json", "tsconfig.json", "components/iceberg/options.ts", "pipeline"]),
            },
            this,
            platform.registry,
        );
        const app = (name: string, command: string, memoryMiB: number, spec: Partial<ServiceSpec>): DeployedService =>
            platform.deploy(
                {
                    name,
                    tier: "pipeline",
                    image,
                    command: [command],
                    ...spec,
                    env: {
                        KAFKA_BOOTSTRAP_SERVERS: kafka.bootstrapInternal,
                        HEALTH_PORT: String(HEALTH_PORT),
                        LOG_LEVEL: "info",
                        // Node's heap inside the limit; the rest is code, buffers and the runtime.
                        NODE_OPTIONS: `--max-old-space-size=${Math.floor(memoryMiB * 0.6)}`,
                        ...spec.env,
                    },
                    // The slim image has no curl: Node itself asks the app's health endpoint.
                    health: {
                        command: ["node", "-e", `fetch('http://127.0.0.1:${HEALTH_PORT}/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`],
                        http: { port: HEALTH_PORT, path: "/healthz" },
                        startPeriodSeconds: 20,
                    },
                    memoryMiB,
                },
                this,
            );

        const processor = app("pipeline-processor", "processor", plan["pipeline-processor"], {
            env: {
                FLINK_SQL_GATEWAY_URL: flink.sqlGatewayUrl,
                FLINK_REST_URL: flink.jobManagerUrl,
                TOPIC_RAW: kafka.topics.raw,
                TOPIC_PROCESSED: kafka.topics.processed,
                TOPIC_DLQ: kafka.topics.deadLetter,
                ICEBERG_REST_URI: flink.catalog.uri,
                ICEBERG_WAREHOUSE_BUCKET: store.buckets.warehouse,
                S3_PATH_STYLE: String(store.pathStyle),
                S3_REGION: store.region,
                ...(store.kind === "minio" ? { S3_ENDPOINT: store.endpoint } : {}),
                // Stay up as the job's keeper: healthy while the job runs, restarted (and so resubmitted) when it stops.
                WATCH_INTERVAL_SECONDS: "15",
            },
            dependsOn: [...flink.services],
            requires: kafka.ready,
        });
        const archiver = app("pipeline-archiver", "consumer", plan["pipeline-archiver"], {
            env: {
                TOPIC: kafka.topics.processed,
                CONSUMER_GROUP: "viewing-archiver",
                S3_BUCKET: store.buckets.raw,
                S3_PATH_STYLE: String(store.pathStyle),
                S3_REGION: store.region,
                ...(store.kind === "minio" ? { S3_ENDPOINT: store.endpoint } : {}),
                ARCHIVE_PREFIX: "aggregates/",
            },
            // Keys, or the JS SDK v3's default chain (fromHttp reads Pod Identity's token file).
            secretEnv: awsKeyEnv(store.credentials.archiver),
            ...runsAs(store.credentials.archiver),
            requires: [...kafka.ready, ...store.ready],
        });
        // Events flow once the job that reads them runs.
        const producer = app("pipeline-producer", "producer", plan["pipeline-producer"], {
            env: {
                TOPIC: kafka.topics.raw,
                PRODUCER_RATE: String(cfg.pipeline.eventsPerSecond),
                GENERATOR_USERS: String(cfg.pipeline.users),
                SCHEMA_REGISTRY_URL: kafka.schemaRegistryUrl,
            },
            dependsOn: [processor, ...kafka.services.filter((s) => s.name === "schema-registry")],
            requires: kafka.ready,
        });
        this.services = [processor, archiver, producer];
        this.registerOutputs({});
    }
}
