/** The archiving consumer's environment-variable interface. S3 credentials: the AWS SDK's default chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...). */
import { z } from "zod";
import { env, parseEnv } from "../shared/env";

export const consumerEnvSchema = z.object({
    KAFKA_BOOTSTRAP_SERVERS: env.brokers(),
    KAFKA_CLIENT_ID: env.string().default("viewing-archiver"),
    /** The processed (aggregates) topic. */
    TOPIC: env.topic().default("viewing-aggregates"),
    CONSUMER_GROUP: env.string().min(1).default("viewing-archiver"),
    S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "expected an S3 bucket name"),
    /** S3-compatible endpoint (MinIO); unset on AWS. */
    S3_ENDPOINT: env.url().optional(),
    S3_REGION: z.string().regex(/^[a-z0-9-]+$/, "expected an AWS region such as us-east-1").default("us-east-1"),
    S3_PATH_STYLE: env.bool().default(false),
    /** Key prefix of the archive; objects go under <prefix>dt=YYYY-MM-DD/hour=HH/. */
    ARCHIVE_PREFIX: z.string().regex(/^([A-Za-z0-9._-]+\/)*$/, "expected empty or path segments ending in '/', e.g. aggregates/").default("aggregates/"),
    /** A batch is written when it holds this many rows ... */
    BATCH_MAX_RECORDS: env.int(1, 1_000_000).default(1000),
    /** ... or has been open this long. */
    BATCH_MAX_AGE_SECONDS: env.number(0.1).default(60),
    HEALTH_PORT: env.int(0, 65535).default(8080),
    LOG_LEVEL: env.level().default("info"),
});

export type ConsumerConfig = z.infer<typeof consumerEnvSchema>;

export function parseConsumerConfig(source: NodeJS.ProcessEnv = process.env): ConsumerConfig {
    return parseEnv(consumerEnvSchema, source);
}
