/** The producer's environment-variable interface (see parseProducerConfig for the rules). */
import { z } from "zod";
import { env, parseEnv } from "../shared/env";
import { compressions } from "./compression";
import { generatorModes } from "./pacing";

const startTime = z.string().transform((s, ctx) => {
    const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
    if (!Number.isFinite(ms)) {
        ctx.addIssue({ code: "custom", message: "expected epoch milliseconds or an ISO-8601 time such as 2026-01-01T00:00:00Z" });
        return z.NEVER;
    }
    return ms;
});

export const producerEnvSchema = z.object({
    KAFKA_BOOTSTRAP_SERVERS: env.brokers(),
    KAFKA_CLIENT_ID: env.string().default("viewing-producer"),
    /** The raw topic. */
    TOPIC: env.topic().default("viewing-events"),
    /** Events per second; 0 sends as fast as the broker takes them (benchmarks). */
    PRODUCER_RATE: env.number(0).default(100),
    /** Stop (and exit 0) after this many events; 0 = run until SIGTERM. */
    PRODUCER_MAX_EVENTS: env.int(0, Number.MAX_SAFE_INTEGER).default(0),
    /** Most events in one produce request, and how long the first one may wait for company. */
    BATCH_MAX_EVENTS: env.int(1, 100_000).default(500),
    BATCH_LINGER_MS: env.int(0, 60_000).default(50),
    /** Batch codec (compression.ts says why zstd). */
    PRODUCER_COMPRESSION: z.enum(compressions, `expected ${compressions.join(", ")}`).default("zstd"),
    GENERATOR_SEED: env.int(0, 2 ** 32 - 1).default(42),
    GENERATOR_USERS: env.int(1, 10_000_000).default(10_000),
    /** Sessions at once; default: sized to the rate so simulated time runs about as fast as the clock. */
    GENERATOR_CONCURRENCY: env.int(1, 10_000_000).optional(),
    /**
     * live: each event goes out when the clock reaches its event time (never ahead of real time).
     * backfill: historical events from GENERATOR_START_TIME at PRODUCER_RATE (0: as fast as possible).
     */
    GENERATOR_MODE: z.enum(generatorModes, `expected ${generatorModes.join(" or ")}`).default("live"),
    /** Backfill only: event time of the first simulated event. */
    GENERATOR_START_TIME: startTime.optional(),
    /** Confluent-compatible Schema Registry base URL; when set, the event JSON Schema is registered at start. */
    SCHEMA_REGISTRY_URL: env.url().optional(),
    HEALTH_PORT: env.int(0, 65535).default(8080),
    LOG_LEVEL: env.level().default("info"),
}).superRefine((c, ctx) => {
    if (c.GENERATOR_MODE === "backfill" && c.GENERATOR_START_TIME === undefined) {
        ctx.addIssue({ code: "custom", path: ["GENERATOR_START_TIME"], message: "required when GENERATOR_MODE is backfill (the event time to replay from)" });
    }
    if (c.GENERATOR_MODE === "live" && c.GENERATOR_START_TIME !== undefined) {
        ctx.addIssue({ code: "custom", path: ["GENERATOR_START_TIME"], message: "live mode stamps each event with the time it is sent; set GENERATOR_MODE=backfill to replay from a start time" });
    }
});

export type ProducerConfig = z.infer<typeof producerEnvSchema>;

export function parseProducerConfig(source: NodeJS.ProcessEnv = process.env): ProducerConfig {
    return parseEnv(producerEnvSchema, source);
}
