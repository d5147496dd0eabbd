import { z } from "zod";

/** Kafka topic names: what the broker accepts (and no leading dot, which hides tools' output). */
const topicName = z.string().regex(/^[a-zA-Z0-9_-][a-zA-Z0-9._-]{0,248}$/, "expected 1-249 characters of a-z, A-Z, 0-9, '.', '_', '-'");

const topic = (name: string, partitions: number, retentionHours: number) =>
    z
        .strictObject({
            name: topicName.default(name),
            partitions: z.number().int().min(1, "expected 1 to 1000 partitions").max(1000, "expected 1 to 1000 partitions").default(partitions),
            /** Defaults to the cluster's replication factor (3 when there are 3 or more brokers). */
            replicationFactor: z.number().int().min(1, "expected 1 to 5 replicas").max(5, "expected 1 to 5 replicas").optional(),
            retentionHours: z.number().int().min(1, "expected 1 hour to 10 years").max(87600, "expected 1 hour to 10 years").default(retentionHours),
        })
        .prefault({});

/** The pipeline's topics: raw viewing events in, per-minute aggregates out, bad events aside. */
export const topicsSchema = z
    .strictObject({
        raw: topic("viewing-events", 6, 168),
        processed: topic("viewing-aggregates", 3, 720),
        deadLetter: topic("viewing-events-dlq", 1, 720),
    })
    .prefault({});

export const kafkaUis = ["kafbat", "control-center", "none"] as const;

export const kafkaConfigSchema = z
    .strictObject({
        brokers: z.number().int().min(1, "expected 1 to 9 brokers").max(9, "expected 1 to 9 brokers").optional(),
        controllers: z
            .union([z.literal(0), z.literal(1), z.literal(3), z.literal(5)], "expected 0 (combined broker/controller), 1, 3 or 5")
            .optional(),
        ui: z.enum(kafkaUis).default("kafbat"),
        topics: topicsSchema,
    })
    .prefault({});

export type KafkaRawConfig = z.infer<typeof kafkaConfigSchema>;
export type TopicKey = keyof KafkaRawConfig["topics"];

/** Replication for a cluster of `brokers`: 3 copies (2 in sync) once there are enough brokers. */
export function replication(brokers: number): { factor: number; minInSync: number } {
    const factor = Math.min(3, brokers);
    return { factor, minInSync: Math.max(1, factor - 1) };
}
