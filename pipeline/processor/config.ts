/** The processor submitter's environment-variable interface. */
import { z } from "zod";
import { env, parseEnv } from "../shared/env";

const identifier = () => z.string().regex(/^[a-z_][a-z0-9_]{0,63}$/, "expected a lower-case SQL identifier (a-z, 0-9, _)");

export const processorEnvSchema = z.object({
    FLINK_SQL_GATEWAY_URL: env.url(),
    /** JobManager REST API: finds, stops and watches the job. */
    FLINK_REST_URL: env.url(),
    /** Bootstrap servers as the Flink cluster reaches them. */
    KAFKA_BOOTSTRAP_SERVERS: env.brokers(),
    TOPIC_RAW: env.topic().default("viewing-events"),
    TOPIC_PROCESSED: env.topic().default("viewing-aggregates"),
    TOPIC_DLQ: env.topic().default("viewing-events-dlq"),
    /** Iceberg REST catalog URI as the Flink cluster reaches it. */
    ICEBERG_REST_URI: env.url(),
    ICEBERG_WAREHOUSE_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "expected an S3 bucket name"),
    ICEBERG_DATABASE: identifier().default("streaming"),
    ICEBERG_TABLE: identifier().default("viewing_events"),
    /** S3-compatible endpoint (MinIO); unset on AWS. */
    S3_ENDPOINT: env.url().optional(),
    S3_PATH_STYLE: env.bool().default(false),
    S3_REGION: z.string().regex(/^[a-z0-9-]+$/, "expected an AWS region such as us-east-1").default("us-east-1"),
    /**
     * Keys for S3FileIO, only for a cluster whose processes lack them in their AWS environment
     * (the platform's Flink containers have them). They end up in the job's configuration.
     */
    ICEBERG_S3_ACCESS_KEY_ID: z.string().optional(),
    ICEBERG_S3_SECRET_ACCESS_KEY: z.string().optional(),
    /** Job name (pipeline.name) and the Kafka consumer group / transactional-id prefix. */
    PIPELINE_NAME: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,100}$/, "expected letters, digits, '_' and '-'").default("viewing-pipeline"),
    CHECKPOINT_INTERVAL_SECONDS: env.int(1, 3600).default(10),
    WATERMARK_DELAY_SECONDS: env.int(0, 3600).default(5),
    /** A partition without records for this long stops holding the watermark back; 0 = never. */
    SOURCE_IDLE_TIMEOUT_SECONDS: env.int(0, 86_400).default(60),
    /** Where stop-with-savepoint writes when the SQL changed; else the cluster's state.savepoints.dir. */
    SAVEPOINT_DIR: z.string().optional(),
    /** Job parallelism; default: the cluster's parallelism.default. */
    PARALLELISM: env.int(1, 1024).optional(),
    /**
     * 0: submit and exit (a one-shot job). Otherwise stay up after submitting, check the job this
     * often and serve /healthz while it runs; exit 1 when it stops, so a restart resubmits.
     */
    WATCH_INTERVAL_SECONDS: env.int(0, 3600).default(0),
    HEALTH_PORT: env.int(0, 65535).default(8080),
    LOG_LEVEL: env.level().default("info"),
}).refine((c) => (c.ICEBERG_S3_ACCESS_KEY_ID === undefined) === (c.ICEBERG_S3_SECRET_ACCESS_KEY === undefined), {
    path: ["ICEBERG_S3_SECRET_ACCESS_KEY"],
    message: "set both ICEBERG_S3_ACCESS_KEY_ID and ICEBERG_S3_SECRET_ACCESS_KEY, or neither",
});

export type ProcessorConfig = z.infer<typeof processorEnvSchema>;

export function parseProcessorConfig(source: NodeJS.ProcessEnv = process.env): ProcessorConfig {
    return parseEnv(processorEnvSchema, source);
}
