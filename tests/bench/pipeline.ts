/**
 * Pipeline benchmarks on real engines: the producer app against Kafka's own producer, the
 * archiving consumer's throughput, and end-to-end latency from event time to the aggregate
 * being readable on the processed topic.
 */
import { randomUUID } from "node:crypto";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { Kafka, logLevel } from "kafkajs";
import { generateEvents } from "../../pipeline/events";
import { parseProcessorConfig } from "../../pipeline/processor/config";
import { submitPipeline } from "../../pipeline/processor/submit";
import { createLogger } from "../../pipeline/shared/log";
import { waitUntil } from "../engines/lib";
import type { EngineHandle } from "../engines/types";
import { startApp } from "../integration/pipeline-apps";

const kafkaOf = (h: EngineHandle) => new Kafka({ clientId: "bench", brokers: [h.endpoints.bootstrap!], logLevel: logLevel.NOTHING });

async function createTopics(kafka: EngineHandle, topics: Array<[string, number]>): Promise<void> {
    const admin = kafkaOf(kafka).admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: topics.map(([topic, numPartitions]) => ({ topic, numPartitions, replicationFactor: 1 })) });
    await admin.disconnect();
}

/** Mean JSON size of an event, so Kafka's reference sends records of the same size. */
export function meanEventBytes(): number {
    const events = generateEvents({ seed: 1, users: 1000, startTime: Date.now() }, 1000);
    return Math.round(events.reduce((n, e) => n + JSON.stringify(e).length, 0) / events.length);
}

/** The producer app at full speed (backfill, PRODUCER_RATE=0): events/s as it reports on exit. */
export async function producerThroughput(kafka: EngineHandle, events = 100_000): Promise<number> {
    const topic = `bench-producer-${randomUUID().slice(0, 8)}`;
    await createTopics(kafka, [[topic, 1]]);
    const app = startApp("producer", {
        KAFKA_BOOTSTRAP_SERVERS: kafka.endpoints.bootstrap!, TOPIC: topic, PRODUCER_RATE: "0", PRODUCER_MAX_EVENTS: String(events),
        BATCH_MAX_EVENTS: "2000", GENERATOR_USERS: "100000", GENERATOR_MODE: "backfill", GENERATOR_START_TIME: new Date(Date.now() - 86_400_000).toISOString(),
    });
    if ((await app.exited) !== 0) throw new Error(app.output());
    return Number(app.logs.find((l) => l.msg === "stopped")!.eventsPerSec);
}

/** Rows/s the consumer archives from a pre-filled topic (from its first to its last object). */
export async function consumerThroughput(kafka: EngineHandle, s3: EngineHandle, rows = 100_000): Promise<number> {
    const id = randomUUID().slice(0, 8);
    const topic = `bench-aggregates-${id}`;
    await createTopics(kafka, [[topic, 3]]);
    const producer = kafkaOf(kafka).producer();
    await producer.connect();
    const row = (i: number) => JSON.stringify({ window_start: "2026-01-01T00:00:00Z", window_end: "2026-01-01T00:01:00Z", title_id: `tt${i % 24}`,
        title: "Dark", genre: "Sci-Fi", country: "DE", device: "tv", plays: i % 7, unique_viewers: i % 11, watch_seconds: 30 * (i % 13) });
    for (let i = 0; i < rows; i += 5000) {
        await producer.send({ topic, messages: Array.from({ length: Math.min(5000, rows - i) }, (_, j) => ({ key: String(i + j), value: row(i + j) })) });
    }
    await producer.disconnect();
    const client = new S3Client({ endpoint: s3.endpoints.url, region: s3.details.region, forcePathStyle: true,
        credentials: { accessKeyId: s3.details.accessKeyId!, secretAccessKey: s3.details.secretAccessKey! } });
    await client.send(new CreateBucketCommand({ Bucket: `bench-${id}` }));
    client.destroy();
    const app = startApp("consumer", {
        KAFKA_BOOTSTRAP_SERVERS: kafka.endpoints.bootstrap!, TOPIC: topic, CONSUMER_GROUP: `bench-${id}`, S3_BUCKET: `bench-${id}`,
        S3_ENDPOINT: s3.endpoints.url!, S3_PATH_STYLE: "true", AWS_ACCESS_KEY_ID: s3.details.accessKeyId!, AWS_SECRET_ACCESS_KEY: s3.details.secretAccessKey!,
        BATCH_MAX_RECORDS: "5000", BATCH_MAX_AGE_SECONDS: "2",
    });
    const archived = () => app.logs.filter((l) => l.msg === "batch archived");
    try {
        await waitUntil("consumer archived everything", () => archived().reduce((n, l) => n + Number(l.records), 0) >= rows, { timeoutMs: 300_000, intervalMs: 200 });
    } finally {
        app.child.kill("SIGTERM");
        await app.exited;
    }
    const times = archived().map((l) => Date.parse(String(l.ts)));
    const first = archived()[0]!;
    // From the first object's start (its rows were already there) to the last object.
    const seconds = (Math.max(...times) - Math.min(...times)) / 1000;
    return (rows - Number(first.records)) / Math.max(seconds, 0.001);
}

/**
 * Live events (event time = now) at `rate` through the Flink job; for each aggregate row, the
 * time from its window's end (the last event time it can contain) to the row being readable on
 * the processed topic. Dominated by the watermark delay and the checkpoint interval (exactly-once).
 */
export async function endToEndLatency(engines: Record<string, EngineHandle>, seconds = 150, rate = 200): Promise<{ p50: number; p99: number; rows: number; checkpointSeconds: number; watermarkDelaySeconds: number }> {
    const id = randomUUID().slice(0, 8);
    const topics = { raw: `bench-raw-${id}`, processed: `bench-agg-${id}`, dlq: `bench-dlq-${id}` };
    await createTopics(engines.kafka!, [[topics.raw, 3], [topics.processed, 1], [topics.dlq, 1]]);
    const s3 = engines.s3!;
    const config = parseProcessorConfig({
        FLINK_SQL_GATEWAY_URL: engines.flink!.endpoints.gateway, FLINK_REST_URL: engines.flink!.endpoints.rest,
        KAFKA_BOOTSTRAP_SERVERS: engines.kafka!.endpoints.bootstrap, TOPIC_RAW: topics.raw, TOPIC_PROCESSED: topics.processed, TOPIC_DLQ: topics.dlq,
        ICEBERG_REST_URI: engines.iceberg!.endpoints.url, ICEBERG_WAREHOUSE_BUCKET: engines.iceberg!.details.bucket, ICEBERG_DATABASE: `bench_${id}`,
        S3_ENDPOINT: s3.endpoints.url, S3_PATH_STYLE: "true", ICEBERG_S3_ACCESS_KEY_ID: s3.details.accessKeyId, ICEBERG_S3_SECRET_ACCESS_KEY: s3.details.secretAccessKey,
        PIPELINE_NAME: `bench-${id}`, CHECKPOINT_INTERVAL_SECONDS: "5", WATERMARK_DELAY_SECONDS: "5", SOURCE_IDLE_TIMEOUT_SECONDS: "10",
    });
    const { jobId } = await submitPipeline(config, createLogger("processor", "warn"));
    const visible: number[] = [];
    const consumer = kafkaOf(engines.kafka!).consumer({ groupId: `bench-latency-${id}` });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.processed, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => {
        visible.push(Date.now() - Date.parse((JSON.parse(message.value!.toString()) as { window_end: string }).window_end));
    } });
    const producer = startApp("producer", {
        KAFKA_BOOTSTRAP_SERVERS: engines.kafka!.endpoints.bootstrap!, TOPIC: topics.raw, PRODUCER_RATE: String(rate),
        PRODUCER_MAX_EVENTS: String(rate * seconds), GENERATOR_USERS: "20000",
    });
    try {
        if ((await producer.exited) !== 0) throw new Error(producer.output());
        await new Promise((resolve) => setTimeout(resolve, 15_000)); // the last closed windows' checkpoint
    } finally {
        await consumer.disconnect();
        await fetch(`${engines.flink!.endpoints.rest}/jobs/${jobId}?mode=cancel`, { method: "PATCH" });
    }
    if (visible.length === 0) throw new Error("no aggregate became visible");
    const sorted = [...visible].sort((a, b) => a - b);
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! / 1000;
    return { p50: q(0.5), p99: q(0.99), rows: sorted.length, checkpointSeconds: 5, watermarkDelaySeconds: 5 };
}
