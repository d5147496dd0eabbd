/**
 * The archiver against the two bounds it cannot beat, both measured in the same run on the same
 * topic: reading it (Kafka's own ConsumerPerformance) and writing objects of the archiver's size to
 * the same S3 one after another, as the archiver writes them (PutObject). The lower one binds.
 */
import { randomUUID } from "node:crypto";
import * as path from "node:path";
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { topicsSchema } from "../../components/kafka/config";
import { WINDOW_MINUTES } from "../../pipeline/events";
import { s3Client } from "../../pipeline/consumer/archiver";
import { objectBody, type ArchiveRecord } from "../../pipeline/consumer/batcher";
import { waitUntil } from "../engines/lib";
import { stateFile } from "../engines/state";
import type { EngineHandle } from "../engines/types";
import { startApp } from "../integration/pipeline-apps";
import { cpuSeconds, createTopics, deleteTopics, kafkaOf } from "./common";
import { kafkaConsumerReference } from "./kafka-reference";

/** Rows per object: the bench's batch (the deployed default is 1000 rows or 60 s, whichever comes first). */
export const ARCHIVE_BATCH = 5000;

/**
 * A row as the Flink job writes it to the processed topic. Every window lies in one hour: an
 * hour's end would cut a short object, which then waits for the age limit, and that wait is not
 * the archiver's speed.
 */
function aggregateRow(i: number): string {
    const start = Date.parse("2026-01-01T10:00:00Z") + (Math.floor(i / 2000) % (60 / WINDOW_MINUTES)) * WINDOW_MINUTES * 60_000;
    return JSON.stringify({
        window_start: new Date(start).toISOString().replace(".000", ""), window_end: new Date(start + WINDOW_MINUTES * 60_000).toISOString().replace(".000", ""),
        title_id: `tt${1000 + (i % 24)}`, title: "Dark", genre: "Sci-Fi", country: ["DE", "US", "JP"][i % 3], device: ["tv", "web"][i % 2],
        plays: i % 7, unique_viewers: i % 11, watch_seconds: 30 * (i % 13),
    });
}

export interface ArchiverFigures {
    rowsPerSec: number;
    consumerReferenceRowsPerSec: number;
    s3PutRowsPerSec: number;
    objectRows: number;
    objectBytes: number;
    cpuUsPerRow: number;
    s3ServerCpuUsPerRow: number;
}

export async function archiverBench(kafka: EngineHandle, s3: EngineHandle, atLeastRows: number): Promise<ArchiverFigures> {
    const id = randomUUID().slice(0, 8);
    const topic = `bench-aggregates-${id}`;
    const bucket = `bench-${id}`;
    // The processed topic's layout, as deployed, with the rows spread evenly and a whole number of
    // objects in each partition: every object is full, none waits for the age limit.
    const partitions = topicsSchema.parse({}).processed.partitions;
    const rows = Math.ceil(atLeastRows / (partitions * ARCHIVE_BATCH)) * partitions * ARCHIVE_BATCH;
    await createTopics(kafka, [[topic, partitions]]);
    const producer = kafkaOf(kafka).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let i = 0; i < rows; i += 5000) {
        await producer.send({ topic, acks: -1, messages: Array.from({ length: Math.min(5000, rows - i) }, (_, j) => ({ partition: (i + j) % partitions, value: aggregateRow(i + j) })) });
    }
    await producer.disconnect();
    // The archiver's own client settings; like the archiver, it takes its keys from the environment.
    process.env.AWS_ACCESS_KEY_ID = s3.details.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3.details.secretAccessKey;
    const client = s3Client({ S3_ENDPOINT: s3.endpoints.url, S3_REGION: s3.details.region!, S3_PATH_STYLE: true });
    try {
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
        const reference = await kafkaConsumerReference(kafka, topic, rows, path.join(path.dirname(stateFile()), "bench"));

        // Objects as the archiver writes them: ARCHIVE_BATCH consecutive rows, one after another.
        const records: ArchiveRecord[] = Array.from({ length: ARCHIVE_BATCH }, (_, i) => ({ partition: 0, offset: String(i), value: aggregateRow(i), timestamp: "0" }));
        const body = objectBody({ partition: 0, dt: "2026-01-01", hour: "10", records });
        const puts = Math.max(10, Math.ceil(rows / ARCHIVE_BATCH));
        const t0 = performance.now();
        for (let i = 0; i < puts; i++) {
            await client.send(new PutObjectCommand({ Bucket: bucket, Key: `ceiling/${i}.jsonl`, Body: body, ContentType: "application/x-ndjson" }));
        }
        const s3PutRowsPerSec = (puts * ARCHIVE_BATCH) / ((performance.now() - t0) / 1000);

        const app = startApp("consumer", {
            KAFKA_BOOTSTRAP_SERVERS: kafka.endpoints.bootstrap!, TOPIC: topic, CONSUMER_GROUP: `bench-${id}`, S3_BUCKET: bucket,
            S3_ENDPOINT: s3.endpoints.url!, S3_PATH_STYLE: "true", AWS_ACCESS_KEY_ID: s3.details.accessKeyId!, AWS_SECRET_ACCESS_KEY: s3.details.secretAccessKey!,
            // Objects end by size only (see above); an age limit could only cut one short.
            BATCH_MAX_RECORDS: String(ARCHIVE_BATCH), BATCH_MAX_AGE_SECONDS: "600",
        });
        const archived = () => app.logs.filter((l) => l.msg === "batch archived");
        const moto = s3.pids[0]!;
        let cpu = { app: 0, moto: 0 };
        try {
            // From the first object on: the rows were all there before, so the start-up (join, first fetch) is left out.
            await waitUntil("the archiver's first object", () => archived().length > 0, { timeoutMs: 120_000, intervalMs: 20 });
            cpu = { app: -cpuSeconds(app.child.pid!), moto: -cpuSeconds(moto) };
            await waitUntil("the archiver archived every row", () => archived().reduce((n, l) => n + Number(l.records), 0) >= rows, { timeoutMs: 600_000, intervalMs: 20 });
            cpu = { app: cpu.app + cpuSeconds(app.child.pid!), moto: cpu.moto + cpuSeconds(moto) };
        } finally {
            app.child.kill("SIGTERM");
            await app.exited;
        }
        const logs = archived();
        const times = logs.map((l) => Date.parse(String(l.ts)));
        const measured = rows - Number(logs[0]!.records);
        const seconds = Math.max((Math.max(...times) - Math.min(...times)) / 1000, 0.001);
        return {
            rowsPerSec: measured / seconds,
            consumerReferenceRowsPerSec: reference.recordsPerSec,
            s3PutRowsPerSec,
            objectRows: ARCHIVE_BATCH,
            objectBytes: Buffer.byteLength(body),
            cpuUsPerRow: (cpu.app * 1e6) / measured,
            s3ServerCpuUsPerRow: (cpu.moto * 1e6) / measured,
        };
    } finally {
        await emptyBucket(client, bucket);
        client.destroy();
        await deleteTopics(kafka, [topic]);
    }
}

async function emptyBucket(client: ReturnType<typeof s3Client>, bucket: string): Promise<void> {
    for (;;) {
        const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket })).catch(() => undefined);
        const keys = listed?.Contents?.map((o) => ({ Key: o.Key! })) ?? [];
        if (keys.length === 0) break;
        await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
    }
    await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
}
