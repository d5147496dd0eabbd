/**
 * The whole pipeline on real engines: producer -> Kafka -> Flink SQL (submitted through the SQL
 * Gateway by the submitter) -> aggregates topic -> archiving consumer -> objects on S3, raw
 * events in the Iceberg table, malformed records in the dead-letter topic. The broker restarts
 * while the producer runs and the consumer is killed (SIGKILL) after its first object; the
 * archive must still hold exactly the aggregates computed here, independently, from the same
 * seeded events.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import type { Admin } from "kafkajs";
import { directBrokers, TopicProvider } from "../../components/kafka/topics";
import { generateEvents, HEARTBEAT_INTERVAL_SECONDS, titlesById, type AggregateRow, type ViewingEvent } from "../../pipeline/events";
import { offsetsOfKey } from "../../pipeline/consumer/batcher";
import { parseProcessorConfig, type ProcessorConfig } from "../../pipeline/processor/config";
import { JobManager, terminalStates } from "../../pipeline/processor/flink-api";
import { submitPipeline } from "../../pipeline/processor/submit";
import { createLogger } from "../../pipeline/shared/log";
import { restartKafka } from "../engines/kafka";
import { waitUntil } from "../engines/lib";
import { engine, saveEngine } from "../engines/state";
import { flinkDiagnosis, kafkaClient as namedKafkaClient, leavesFlinkAsFound, readTopic } from "./fixtures";
import { startApp, type AppProcess } from "./pipeline-apps";

const SEED = 7;
const EVENTS = 4000;
const USERS = 400;
const CONCURRENCY = 150;
const START = "2026-01-01T00:00:00Z";
const RAW_PARTITIONS = 3;

/** The aggregate, computed the obvious way: group by minute, title, country and device. */
function expectedAggregates(events: ViewingEvent[]): AggregateRow[] {
    const groups = new Map<string, { row: AggregateRow; users: Set<string> }>();
    const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");
    for (const e of events) {
        const start = Math.floor(e.event_time / 60_000) * 60_000;
        const key = [start, e.title_id, e.country, e.device].join("|");
        let g = groups.get(key);
        if (!g) {
            const title = titlesById.get(e.title_id)!;
            g = {
                row: { window_start: iso(start), window_end: iso(start + 60_000), title_id: e.title_id, title: title.title, genre: title.genre,
                    country: e.country, device: e.device, plays: 0, unique_viewers: 0, watch_seconds: 0 },
                users: new Set(),
            };
            groups.set(key, g);
        }
        g.users.add(e.user_id);
        if (e.event_type === "play") g.row.plays += 1;
        if (e.event_type === "heartbeat") g.row.watch_seconds += HEARTBEAT_INTERVAL_SECONDS;
    }
    return [...groups.values()].map(({ row, users }) => ({ ...row, unique_viewers: users.size }));
}

const canonical = (rows: unknown[]) => rows.map((r) => JSON.stringify(r, Object.keys(r as object).sort())).sort();

describe("pipeline (producer -> Kafka -> Flink SQL -> consumer -> S3, Iceberg, DLQ)", () => {
    const id = randomUUID().slice(0, 8);
    const topics = { raw: `viewing-events-${id}`, processed: `viewing-aggregates-${id}`, dlq: `viewing-events-dlq-${id}` };
    const bucket = `archive-${id}`;
    const apps: AppProcess[] = [];
    const submitterLog: string[] = [];
    let config: ProcessorConfig;
    let jobId: string | undefined;

    const kafkaClient = () => namedKafkaClient("pipeline-it");
    const withAdmin = async <T>(fn: (admin: Admin) => Promise<T>): Promise<T> => {
        const admin = kafkaClient().admin();
        await admin.connect();
        try {
            return await fn(admin);
        } finally {
            await admin.disconnect();
        }
    };
    /** Records on a topic written without transactions: offsets count them. */
    const eventsOn = async (topic: string) => (await withAdmin((admin) => admin.fetchTopicOffsets(topic))).reduce((n, p) => n + Number(p.high), 0);
    const s3 = () => {
        const h = engine("s3");
        return new S3Client({ endpoint: h.endpoints.url, region: h.details.region, forcePathStyle: true,
            credentials: { accessKeyId: h.details.accessKeyId!, secretAccessKey: h.details.secretAccessKey! } });
    };
    const consumerEnv = () => {
        const h = engine("s3");
        return {
            KAFKA_BOOTSTRAP_SERVERS: engine("kafka").endpoints.bootstrap!, TOPIC: topics.processed, CONSUMER_GROUP: `archiver-${id}`,
            S3_BUCKET: bucket, S3_ENDPOINT: h.endpoints.url!, S3_PATH_STYLE: "true", S3_REGION: h.details.region!,
            AWS_ACCESS_KEY_ID: h.details.accessKeyId!, AWS_SECRET_ACCESS_KEY: h.details.secretAccessKey!,
            // Small, quick batches: many objects, so the kill lands between batches and inside one.
            BATCH_MAX_RECORDS: "40", BATCH_MAX_AGE_SECONDS: "2",
        };
    };

    // The suite's own clean-up, also after a failure: its apps and its Flink jobs stop.
    leavesFlinkAsFound(async () => {
        for (const app of apps) if (app.child.exitCode === null) app.child.kill("SIGKILL");
        if (!config) return;
        const jm = new JobManager(engine("flink").endpoints.rest!);
        for (const job of (await jm.jobs()).filter((j) => j.name.startsWith(config.PIPELINE_NAME) && !terminalStates.has(j.state))) {
            await fetch(`${jm.base}/jobs/${job.jid}?mode=cancel`, { method: "PATCH" });
        }
    });
    after(async () => {
        const bootstrap = engine("kafka").endpoints.bootstrap!;
        for (const name of Object.values(topics)) await new TopicProvider().delete(name, { brokers: directBrokers(bootstrap), name, partitions: 1, replicationFactor: 1, config: {} });
    });

    before(async () => {
        const bootstrap = engine("kafka").endpoints.bootstrap!;
        const provider = new TopicProvider();
        for (const [name, partitions] of [[topics.raw, RAW_PARTITIONS], [topics.processed, 2], [topics.dlq, 1]] as const) {
            await provider.create({ brokers: directBrokers(bootstrap), name, partitions, replicationFactor: 1, config: {} });
        }
        const client = s3();
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
        client.destroy();
        const s3h = engine("s3");
        const catalog = engine("iceberg");
        config = parseProcessorConfig({
            FLINK_SQL_GATEWAY_URL: engine("flink").endpoints.gateway, FLINK_REST_URL: engine("flink").endpoints.rest,
            KAFKA_BOOTSTRAP_SERVERS: bootstrap,
            TOPIC_RAW: topics.raw, TOPIC_PROCESSED: topics.processed, TOPIC_DLQ: topics.dlq,
            ICEBERG_REST_URI: catalog.endpoints.url, ICEBERG_WAREHOUSE_BUCKET: catalog.details.bucket,
            ICEBERG_DATABASE: `pipeline_${id}`, S3_ENDPOINT: s3h.endpoints.url, S3_PATH_STYLE: "true", S3_REGION: s3h.details.region,
            ICEBERG_S3_ACCESS_KEY_ID: s3h.details.accessKeyId, ICEBERG_S3_SECRET_ACCESS_KEY: s3h.details.secretAccessKey,
            PIPELINE_NAME: `pipeline-${id}`, CHECKPOINT_INTERVAL_SECONDS: "3",
            // Every raw partition gets a final far-future event below, so no partition is idle at the end.
            SOURCE_IDLE_TIMEOUT_SECONDS: "0",
            SAVEPOINT_DIR: `file://${fs.mkdtempSync(path.join(os.tmpdir(), "pipeline-savepoints-"))}`,
        });
    });

    it("submits the Flink job once: a second run with the same SQL leaves it running", async () => {
        const log = createLogger("processor", "info", (line) => submitterLog.push(line));
        const first = await submitPipeline(config, log);
        assert.equal(first.action, "submitted", submitterLog.join("\n"));
        jobId = first.jobId;
        const second = await submitPipeline(config, log);
        assert.deepEqual({ action: second.action, jobId: second.jobId }, { action: "unchanged", jobId: first.jobId });
    });

    it("aggregates, archives, lands in Iceberg and dead-letters exactly, through a broker restart and a consumer kill", async () => {
        assert.ok(jobId, "the job was submitted");
        const events = generateEvents({ seed: SEED, users: USERS, concurrency: CONCURRENCY, startTime: Date.parse(START) }, EVENTS);
        const expected = expectedAggregates(events);

        let consumer = startApp("consumer", consumerEnv());
        apps.push(consumer);
        const producer = startApp("producer", {
            KAFKA_BOOTSTRAP_SERVERS: engine("kafka").endpoints.bootstrap!, TOPIC: topics.raw,
            PRODUCER_RATE: "400", PRODUCER_MAX_EVENTS: String(EVENTS), GENERATOR_SEED: String(SEED),
            GENERATOR_USERS: String(USERS), GENERATOR_CONCURRENCY: String(CONCURRENCY), GENERATOR_MODE: "backfill", GENERATOR_START_TIME: START,
        });
        apps.push(producer);

        // The broker goes away while the producer is sending (it sends for about 10 s): once a fifth is on the topic.
        await waitUntil("a fifth of the events on the raw topic", async () => (await eventsOn(topics.raw)) >= EVENTS / 5, { timeoutMs: 60_000, intervalMs: 100 });
        assert.equal(producer.child.exitCode, null, `producer still running before the restart\n${producer.output()}`);
        saveEngine(await restartKafka(engine("kafka")));
        assert.equal(await producer.exited, 0, producer.output());
        const producerDone = producer.logs.find((l) => l.msg === "stopped");
        assert.equal(producerDone?.sent, EVENTS);
        // The image's bundle loads kafkajs from node_modules, after the linear grouping is in place.
        assert.equal(producer.logs.find((l) => l.msg === "producing")?.linearGrouping, true, "kafkajs' grouping fix is in effect in the bundle");

        // Malformed records (one per way to be wrong), then one valid far-future event per partition:
        // every partition's watermark passes the last minute, so every window of the run closes.
        const malformed = [
            "not json at all",
            JSON.stringify({ ...events[0], event_type: "rewind", event_id: "11111111-1111-4111-8111-111111111111" }),
            JSON.stringify({ event_id: "22222222-2222-4222-8222-222222222222", user_id: "user-000001" }),
        ];
        const flush: ViewingEvent = { ...events[events.length - 1]!, event_type: "heartbeat", event_time: Date.parse(START) + 24 * 3600_000 };
        const kafkaProducer = kafkaClient().producer();
        await kafkaProducer.connect();
        await kafkaProducer.send({ topic: topics.raw, messages: malformed.map((value) => ({ value })) });
        await kafkaProducer.send({ topic: topics.raw, messages: Array.from({ length: RAW_PARTITIONS }, (_, partition) => ({
            partition, value: JSON.stringify({ ...flush, event_id: randomUUID() }) })) });
        await kafkaProducer.disconnect();

        // Kill the consumer hard once it has archived something, then start it again.
        await waitUntil("consumer archived a batch", () => consumer.logs.some((l) => l.msg === "batch archived"), { timeoutMs: 180_000, intervalMs: 100 });
        consumer.child.kill("SIGKILL");
        await consumer.exited;
        consumer = startApp("consumer", consumerEnv());
        apps.push(consumer);

        const client = s3();
        const readArchive = async () => {
            const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "aggregates/" }));
            const objects = listed.Contents ?? [];
            const rows: unknown[] = [];
            for (const o of objects) {
                const body = await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }))).Body!.transformToString();
                rows.push(...body.split("\n").filter(Boolean).map((l) => JSON.parse(l)));
            }
            return { keys: objects.map((o) => o.Key!), rows };
        };
        await waitUntil(`${expected.length} aggregate rows archived`, async () => (await readArchive()).rows.length >= expected.length,
            { timeoutMs: 180_000, intervalMs: 2_000, diagnose: async () => `${await flinkDiagnosis()}\nconsumer:\n${consumer.output()}` });
        // Anything duplicated would show up in a later batch: wait until the archiver has committed past
        // the last aggregate of every partition (it commits after the write), then stop it cleanly.
        const last = new Map<number, number>();
        for (const r of await readTopic("pipeline-it", topics.processed)) last.set(r.partition, Math.max(last.get(r.partition) ?? -1, Number(r.offset)));
        await waitUntil("the archiver committed past the last aggregate", async () => {
            const [committed] = await withAdmin((admin) => admin.fetchOffsets({ groupId: `archiver-${id}`, topics: [topics.processed] }));
            return [...last].every(([partition, offset]) => Number(committed!.partitions.find((p) => p.partition === partition)?.offset ?? -1) > offset);
        }, { timeoutMs: 60_000, intervalMs: 500, diagnose: () => consumer.output() });
        consumer.child.kill("SIGTERM");
        assert.equal(await consumer.exited, 0, consumer.output());
        const archive = await readArchive();
        client.destroy();

        assert.deepEqual(canonical(archive.rows), canonical(expected), "archived aggregates = expected aggregates, no row lost or doubled");
        for (const key of archive.keys) assert.match(key, new RegExp(`^aggregates/dt=\\d{4}-\\d{2}-\\d{2}/hour=\\d{2}/${topics.processed}-\\d+-\\d+-\\d+\\.jsonl$`));
        // Objects of a partition cover disjoint offset ranges.
        const ranges = archive.keys.map((k) => offsetsOfKey(k)!).sort((a, b) => a.partition - b.partition || Number(a.first) - Number(b.first));
        for (let i = 1; i < ranges.length; i++) {
            if (ranges[i]!.partition === ranges[i - 1]!.partition) assert.ok(Number(ranges[i]!.first) > Number(ranges[i - 1]!.last), `overlapping objects ${JSON.stringify(ranges)}`);
        }

        // The dead letters: exactly the malformed records, with their reason. They were written before
        // the last aggregates (same checkpoint or an earlier one), so the topic is complete by now.
        const dead = (await readTopic("pipeline-it", topics.dlq)).map((r) => ({ value: r.value, reason: String(r.headers["dlq.reason"]) }));
        assert.deepEqual(dead.map((d) => d.value).sort(), [...malformed].sort());
        assert.deepEqual(dead.map((d) => d.reason).sort(), ["invalid-event", "invalid-event", "not-a-json-object"]);

        // The lake: every valid record (the run's events and the flush events) in the table's current snapshot.
        const catalog = engine("iceberg").endpoints.url!;
        const totalRecords = async () => {
            const response = await fetch(`${catalog}/v1/namespaces/${config.ICEBERG_DATABASE}/tables/${config.ICEBERG_TABLE}`);
            const table = (await response.json()) as { metadata: { "current-snapshot-id"?: number; snapshots?: Array<{ "snapshot-id": number; summary: Record<string, string> }> } };
            const current = table.metadata.snapshots?.find((s) => s["snapshot-id"] === table.metadata["current-snapshot-id"]);
            return Number(current?.summary["total-records"] ?? 0);
        };
        await waitUntil("iceberg rows", async () => (await totalRecords()) >= EVENTS + RAW_PARTITIONS, { timeoutMs: 60_000, intervalMs: 1_000 });
        assert.equal(await totalRecords(), EVENTS + RAW_PARTITIONS);
    });

    it("redeploys a changed job by stopping it with a savepoint and resuming from it: never two jobs", async () => {
        assert.ok(jobId, "the job was submitted");
        const log = createLogger("processor", "info", (line) => submitterLog.push(line));
        const changed = { ...config, WATERMARK_DELAY_SECONDS: config.WATERMARK_DELAY_SECONDS + 1 };
        const upgraded = await submitPipeline(changed, log);
        assert.equal(upgraded.action, "upgraded", submitterLog.join("\n"));
        assert.notEqual(upgraded.jobId, jobId);
        assert.match(upgraded.savepoint ?? "", /^file:\/.*savepoint-/);
        const rest = engine("flink").endpoints.rest!;
        const jobs = (await (await fetch(`${rest}/jobs/overview`)).json()) as { jobs: Array<{ jid: string; name: string; state: string }> };
        const ours = jobs.jobs.filter((j) => j.name.startsWith(`${config.PIPELINE_NAME}@`));
        assert.deepEqual(ours.filter((j) => j.state === "RUNNING").map((j) => j.jid), [upgraded.jobId]);
        assert.equal(ours.find((j) => j.jid === jobId)?.state, "FINISHED", "the old job ended with its savepoint");
        jobId = upgraded.jobId;
        // And the new version is itself left alone on the next deploy.
        assert.equal((await submitPipeline(changed, log)).action, "unchanged");
    });
});
