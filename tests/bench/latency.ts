/**
 * What the system adds to an aggregate's latency, with live events (event time = send time):
 * for each aggregate row, the moment it becomes visible minus (its window's end + the watermark
 * delay), the wait the query's semantics require. Its floor is the wait for the next completed
 * checkpoint (the exactly-once sink commits its Kafka transaction then).
 *
 * Visible in two places, measured on the same rows in the same run:
 * - the processed topic, for a read_committed consumer;
 * - Druid: the row answers Druid SQL, ingested by a supervisor made with the Druid tier's own spec.
 *
 * The same run's raw topic also gives the producer's drift: each record's CreateTime (stamped by
 * kafkajs when it sends) minus the event's event_time. Ahead (negative) would be an event from the
 * future; behind is linger, send and backlog.
 */
import { randomUUID } from "node:crypto";
import { druidConfigSchema } from "../../components/druid/config";
import { terminateSupervisor } from "../../components/druid/overlord";
import { kafkaSupervisorSpec, SupervisorProvider } from "../../components/druid/supervisor";
import { topicsSchema } from "../../components/kafka/config";
import { pipelineConfigSchema } from "../../components/pipeline/config";
import { WINDOW_MINUTES } from "../../pipeline/events";
import { parseProcessorConfig } from "../../pipeline/processor/config";
import { JobManager } from "../../pipeline/processor/flink-api";
import { submitPipeline } from "../../pipeline/processor/submit";
import { registerZstd } from "../../pipeline/producer/compression";
import { createLogger } from "../../pipeline/shared/log";
import { sleep, waitUntil } from "../engines/lib";
import type { EngineHandle } from "../engines/types";
import { startApp } from "../integration/pipeline-apps";
import { createTopics, deleteTopics, kafkaOf, log } from "./common";
import { quantile } from "./results";

/** How long the live producer runs: ten one-minute windows, and long enough for drift to show. */
export const LATENCY_RUN_SECONDS = 600;

/** How often Druid SQL is asked for new rows: a row's Druid figure is late by up to this much. */
export const DRUID_POLL_SECONDS = 0.5;

/** How long the topic consumer's fetch waits on an empty topic: the same bound for the topic figure. */
const TOPIC_FETCH_WAIT_MS = 500;

export interface LatencyFigures {
    seconds: number;
    rate: number;
    checkpointSeconds: number;
    watermarkDelaySeconds: number;
    druidPollSeconds: number;
    /** Added seconds per row, on the topic and in Druid. */
    topic: number[];
    druid: number[];
    drift: { records: number; aheadMaxSeconds: number; behindMaxSeconds: number; behindP99Seconds: number };
    /** Trigger to completion of the run's checkpoints, as Flink counts them: what a window waits beyond the interval's phase. */
    checkpoints: { count: number; p50Seconds: number; maxSeconds: number };
}

interface AggregateKey { window_start: string; window_end: string; title_id: string; country: string; device: string }
const keyOf = (windowStartMs: number, r: { title_id: string; country: string; device: string }) => `${windowStartMs}|${r.title_id}|${r.country}|${r.device}`;

export async function latencyBench(engines: Record<string, EngineHandle>, seconds = LATENCY_RUN_SECONDS): Promise<LatencyFigures> {
    const kafka = engines.kafka!;
    const druidUrl = engines.druid!.endpoints.router!;
    const id = randomUUID().slice(0, 8);
    const topics = { raw: `bench-raw-${id}`, processed: `bench-agg-${id}`, dlq: `bench-dlq-${id}` };
    const deployed = topicsSchema.parse({});
    await createTopics(kafka, [[topics.raw, deployed.raw.partitions], [topics.processed, deployed.processed.partitions], [topics.dlq, deployed.deadLetter.partitions]]);

    // The processor's own defaults for checkpoint interval, watermark delay and idleness: only where things are is given.
    const s3 = engines.s3!;
    const config = parseProcessorConfig({
        FLINK_SQL_GATEWAY_URL: engines.flink!.endpoints.gateway, FLINK_REST_URL: engines.flink!.endpoints.rest,
        KAFKA_BOOTSTRAP_SERVERS: kafka.endpoints.bootstrap, TOPIC_RAW: topics.raw, TOPIC_PROCESSED: topics.processed, TOPIC_DLQ: topics.dlq,
        ICEBERG_REST_URI: engines.iceberg!.endpoints.url, ICEBERG_WAREHOUSE_BUCKET: engines.iceberg!.details.bucket, ICEBERG_DATABASE: `bench_${id}`,
        S3_ENDPOINT: s3.endpoints.url, S3_PATH_STYLE: "true", ICEBERG_S3_ACCESS_KEY_ID: s3.details.accessKeyId, ICEBERG_S3_SECRET_ACCESS_KEY: s3.details.secretAccessKey,
        PIPELINE_NAME: `bench-${id}`,
    });
    const windowMs = WINDOW_MINUTES * 60_000;
    const semanticWaitMs = (windowEndMs: number) => windowEndMs + config.WATERMARK_DELAY_SECONDS * 1000;

    // Druid first, its task reading before the first window can close.
    const ds = druidConfigSchema.parse({ aggregates: { dataSource: `bench_latency_${id}` } }).aggregates;
    const supervisor = { router: { address: new URL(druidUrl).host }, dataSource: ds.dataSource, spec: kafkaSupervisorSpec({ ...ds, topic: topics.processed }, kafka.endpoints.bootstrap!) };
    await new SupervisorProvider().create(supervisor);
    const jobs = new JobManager(config.FLINK_REST_URL);
    let jobId: string | undefined;
    const topicSeen = new Map<string, number>();
    const druidSeen = new Map<string, number>();
    const consumer = kafkaOf(kafka).consumer({ groupId: `bench-latency-${id}`, readUncommitted: false, maxWaitTimeInMs: TOPIC_FETCH_WAIT_MS });
    let polling = true;
    let poller: Promise<void> = Promise.resolve();
    try {
        await waitUntil("the Druid supervisor's task running", async () => {
            const res = await fetch(`${druidUrl}/druid/indexer/v1/supervisor/${ds.dataSource}/status`);
            const status = (await res.json()) as { payload?: { state?: string; activeTasks?: { id: string }[] } };
            const [task] = status.payload?.activeTasks ?? [];
            if (status.payload?.state !== "RUNNING" || !task) return false;
            const taskStatus = (await (await fetch(`${druidUrl}/druid/indexer/v1/task/${encodeURIComponent(task.id)}/status`)).json()) as { status?: { status?: string } };
            return taskStatus.status?.status === "RUNNING";
        }, { timeoutMs: 300_000, intervalMs: 2_000 });

        jobId = (await submitPipeline(config, createLogger("processor", "warn"))).jobId;
        await jobs.waitRunning(jobId);

        await consumer.connect();
        await consumer.subscribe({ topic: topics.processed, fromBeginning: true });
        await consumer.run({
            eachBatch: async ({ batch }) => {
                const now = Date.now();
                for (const m of batch.messages) {
                    const row = JSON.parse(m.value!.toString()) as AggregateKey;
                    const key = keyOf(Date.parse(row.window_start), row);
                    if (!topicSeen.has(key)) topicSeen.set(key, now - semanticWaitMs(Date.parse(row.window_end)));
                }
            },
        });
        poller = (async () => {
            while (polling) {
                const asked = Date.now();
                const rows = await druidSql<{ t: string; title_id: string; country: string; device: string }>(druidUrl,
                    `SELECT __time AS t, title_id, country, device FROM "${ds.dataSource}" WHERE __time >= MILLIS_TO_TIMESTAMP(${asked - 4 * windowMs})`);
                // Seen when the answer came: the row may have been there a little earlier, not later.
                const answered = Date.now();
                for (const r of rows) {
                    const start = Date.parse(r.t);
                    const key = keyOf(start, r);
                    if (!druidSeen.has(key)) druidSeen.set(key, answered - semanticWaitMs(start + windowMs));
                }
                await sleep(Math.max(0, DRUID_POLL_SECONDS * 1000 - (Date.now() - asked)));
            }
        })();

        const rate = pipelineConfigSchema.parse({}).eventsPerSecond;
        log(`latency: ${seconds} s of live events at ${rate}/s (checkpoint ${config.CHECKPOINT_INTERVAL_SECONDS} s, watermark delay ${config.WATERMARK_DELAY_SECONDS} s)`);
        const producer = startApp("producer", { KAFKA_BOOTSTRAP_SERVERS: kafka.endpoints.bootstrap!, TOPIC: topics.raw, PRODUCER_RATE: String(rate) });
        const stopAt = Date.now() + seconds * 1000;
        while (Date.now() < stopAt && producer.child.exitCode === null) await sleep(1_000);
        producer.child.kill("SIGTERM");
        if ((await producer.exited) !== 0) throw new Error(`the producer failed:\n${producer.output()}`);

        // The last window that can close has closed, and its checkpoint has completed, within this.
        const lastWindowEnd = Math.floor((stopAt - config.WATERMARK_DELAY_SECONDS * 1000) / windowMs) * windowMs;
        const settled = semanticWaitMs(lastWindowEnd) + 3 * config.CHECKPOINT_INTERVAL_SECONDS * 1000 + 10_000;
        await sleep(Math.max(0, settled - Date.now()));
        await waitUntil("Druid answering every row the topic has", () => [...topicSeen.keys()].every((k) => druidSeen.has(k)), { timeoutMs: 60_000, intervalMs: 1_000 })
            .catch(() => log(`Druid answered ${druidSeen.size} of the topic's ${topicSeen.size} rows`));
        polling = false;
        await poller;

        const drift = await driftOf(kafka, topics.raw);
        const checkpoints = await checkpointsOf(config.FLINK_REST_URL, jobId);
        return {
            seconds, rate, checkpointSeconds: config.CHECKPOINT_INTERVAL_SECONDS, watermarkDelaySeconds: config.WATERMARK_DELAY_SECONDS, druidPollSeconds: DRUID_POLL_SECONDS,
            topic: [...topicSeen.values()].map((ms) => ms / 1000),
            // Only rows the topic also has: the two figures are about the same rows.
            druid: [...druidSeen.entries()].filter(([k]) => topicSeen.has(k)).map(([, ms]) => ms / 1000),
            drift,
            checkpoints,
        };
    } finally {
        polling = false;
        await poller.catch(() => undefined);
        await consumer.disconnect().catch(() => undefined);
        if (jobId) await fetch(`${config.FLINK_REST_URL}/jobs/${jobId}?mode=cancel`, { method: "PATCH" }).catch(() => undefined);
        // As `pulumi destroy` would: the task publishes and hands off, its slot is free for whoever comes next.
        await terminateSupervisor(druidUrl, ds.dataSource).catch((e: Error) => log(`terminating ${ds.dataSource}: ${e.message}`));
        await deleteTopics(kafka, Object.values(topics));
    }
}

async function checkpointsOf(rest: string, jobId: string): Promise<LatencyFigures["checkpoints"]> {
    type Stats = { counts: { completed: number }; summary: { end_to_end_duration: { p50: number; max: number } } };
    const stats = (await (await fetch(`${rest}/jobs/${jobId}/checkpoints`)).json()) as Stats;
    const d = stats.summary.end_to_end_duration;
    return { count: stats.counts.completed, p50Seconds: d.p50 / 1000, maxSeconds: d.max / 1000 };
}

async function druidSql<T>(url: string, query: string): Promise<T[]> {
    const res = await fetch(`${url}/druid/v2/sql`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query }) });
    const text = await res.text();
    // Until the task announces its first segment the table does not exist: no rows yet.
    return res.ok ? (JSON.parse(text) as T[]) : [];
}

/** CreateTime minus event_time of every record of the raw topic. */
async function driftOf(kafka: EngineHandle, topic: string): Promise<LatencyFigures["drift"]> {
    registerZstd(); // the producer's default codec, which kafkajs cannot read by itself
    const client = kafkaOf(kafka);
    const admin = client.admin();
    await admin.connect();
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
    await admin.disconnect();
    const total = [...ends.values()].reduce((n, x) => n + x, 0n);
    const lags: number[] = [];
    const consumer = client.consumer({ groupId: `bench-drift-${randomUUID().slice(0, 8)}`, maxWaitTimeInMs: TOPIC_FETCH_WAIT_MS });
    await consumer.connect();
    try {
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({
            eachBatch: async ({ batch }) => {
                for (const m of batch.messages) lags.push(Number(m.timestamp) - (JSON.parse(m.value!.toString()) as { event_time: number }).event_time);
            },
        });
        await waitUntil(`all ${total} records of ${topic}`, () => BigInt(lags.length) >= total, { timeoutMs: 300_000, intervalMs: 200 });
    } finally {
        await consumer.disconnect();
    }
    const lowest = lags.reduce((a, b) => Math.min(a, b), Infinity);
    const highest = lags.reduce((a, b) => Math.max(a, b), -Infinity);
    return {
        records: lags.length,
        aheadMaxSeconds: Math.max(0, -lowest) / 1000,
        behindMaxSeconds: Math.max(0, highest) / 1000,
        behindP99Seconds: Math.max(0, quantile(lags, 0.99)) / 1000,
    };
}
