/**
 * Flink through the SQL Gateway's REST API only (the way the platform submits SQL): a streaming
 * event-time window job from one Kafka topic to another, and a bounded job that writes an
 * Iceberg table through the REST catalog onto S3 and reads it back. First, that the cluster runs
 * the configuration the Flink tier renders, checkpoints on S3 included.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { parseStackConfig } from "../../components/config";
import { flinkProperties, flinkSettings } from "../../components/flink";
import { icebergCatalogOptions, withClause } from "../../components/iceberg/options";
import { localKeys } from "../engines/flink-rendered";
import { waitUntil } from "../engines/lib";
import { engine } from "../engines/state";
import { flinkDiagnosis, kafkaClient as namedKafkaClient, leavesFlinkAsFound, scratchTopics } from "./fixtures";
import { jsonCall } from "./http";

interface Row { kind: string; fields: unknown[] }
interface ResultPage {
    resultType: "NOT_READY" | "PAYLOAD" | "EOS";
    jobID?: string;
    results: { data: Row[] };
    nextResultUri?: string;
}

const call = jsonCall;

/** One SQL Gateway session: statements run one at a time, each to completion, results fetched in full. */
class GatewaySession {
    private constructor(private readonly base: string, readonly handle: string) {}

    static async open(properties: Record<string, string>): Promise<GatewaySession> {
        const base = engine("flink").endpoints.gateway!;
        const { sessionHandle } = await call<{ sessionHandle: string }>(base, "POST", "/v1/sessions", { properties });
        return new GatewaySession(base, sessionHandle);
    }

    /** Runs a statement and returns its rows and, for INSERT/SELECT, the Flink job id. */
    async execute(statement: string): Promise<{ rows: unknown[][]; jobId?: string }> {
        const prefix = `/v1/sessions/${this.handle}`;
        const { operationHandle } = await call<{ operationHandle: string }>(this.base, "POST", `${prefix}/statements`, { statement });
        const operation = `${prefix}/operations/${operationHandle}`;
        const status = await waitUntil(`statement ${statement.slice(0, 40)}`, async () => {
            const { status } = await call<{ status: string }>(this.base, "GET", `${operation}/status`);
            return ["FINISHED", "ERROR", "CANCELED", "TIMEOUT", "CLOSED"].includes(status) && status;
        }, { timeoutMs: 180_000, intervalMs: 200 });
        // For a failed statement the result endpoint answers 500 with Flink's exception: that is the message we want.
        const rows: unknown[][] = [];
        let jobId: string | undefined;
        let next: string | undefined = `${operation}/result/0?rowFormat=JSON`;
        while (next) {
            const page: ResultPage = await call<ResultPage>(this.base, "GET", next);
            jobId ??= page.jobID;
            rows.push(...page.results.data.map((row) => row.fields));
            if (page.resultType === "EOS") break;
            if (page.resultType === "NOT_READY") await new Promise((resolve) => setTimeout(resolve, 200));
            next = page.nextResultUri ?? (page.resultType === "NOT_READY" ? next : undefined);
        }
        assert.equal(status, "FINISHED", `${statement} ended ${status}`);
        return { rows, jobId };
    }

    async close(): Promise<void> {
        await call(this.base, "DELETE", `/v1/sessions/${this.handle}`);
    }
}

function jobState(jobId: string): Promise<string> {
    return call<{ state: string }>(engine("flink").endpoints.rest!, "GET", `/jobs/${jobId}`).then((job) => job.state);
}

const kafkaClient = () => namedKafkaClient("flink-it");

/** Consumes `topic` from the start until `count` messages arrived (or the timeout). */
async function consume(topic: string, count: number, timeoutMs: number): Promise<unknown[]> {
    const consumer = kafkaClient().consumer({ groupId: `flink-it-${randomUUID()}` });
    const values: unknown[] = [];
    await consumer.connect();
    try {
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({ eachMessage: async ({ message }) => { values.push(JSON.parse(message.value!.toString())); } });
        await waitUntil(`${count} rows on ${topic}`, () => values.length >= count, { timeoutMs, intervalMs: 250, diagnose: flinkDiagnosis });
        return values;
    } finally {
        await consumer.disconnect();
    }
}

/** A Flink memory size ("512m", or "134217728b" as the JobManager reports one it derived) in bytes; other values as they are. */
function normalized(value: string | undefined): string | undefined {
    const size = /^(\d+)\s*(b|k|m|g)?$/i.exec(value ?? "");
    if (!size) return value;
    return String(Number(size[1]) * 1024 ** "bkmg".indexOf((size[2] ?? "b").toLowerCase()));
}

describe("flink engine runs what the Flink tier renders (laptop profile)", () => {
    // Built here from components/flink, not read from the engine: the engine must match the product.
    const rendered = () => {
        const cfg = parseStackConfig({ "dataplatform:profile": "laptop" }, "dataplatform", "flink-it");
        return flinkProperties(flinkSettings(cfg, { checkpointsBucket: cfg.buckets.checkpoints, s3Endpoint: engine("s3").endpoints.url!, pathStyle: true }));
    };
    leavesFlinkAsFound();

    it("has every rendered option but hosts and ports in its configuration, and the rendered TaskManager", async () => {
        const rest = engine("flink").endpoints.rest!;
        const expected = rendered();
        const running = Object.fromEntries((await call<{ key: string; value: string }[]>(rest, "GET", "/jobmanager/config")).map((e) => [e.key, e.value]));
        const local = new Set<string>(Object.values(localKeys).flat());
        const compared = Object.keys(expected).filter((key) => !local.has(key));
        // The checkpoint and memory settings are what this proves; a rendering without them would prove nothing.
        for (const key of ["execution.checkpointing.dir", "execution.checkpointing.interval", "jobmanager.memory.process.size", "taskmanager.memory.process.size"]) {
            assert.ok(compared.includes(key), `${key} is compared`);
        }
        for (const key of compared) assert.equal(normalized(running[key]), normalized(expected[key]), key);
        for (const key of Object.keys(expected).filter((k) => localKeys.hosts.some((h) => h === k))) assert.equal(running[key], "127.0.0.1", key);

        const { taskmanagers } = await call<{ taskmanagers: { slotsNumber: number; memoryConfiguration: { totalProcessMemory: number } }[] }>(rest, "GET", "/taskmanagers");
        assert.equal(taskmanagers.length, 1);
        assert.equal(taskmanagers[0]!.slotsNumber, Number(expected["taskmanager.numberOfTaskSlots"]));
        assert.equal(String(taskmanagers[0]!.memoryConfiguration.totalProcessMemory), normalized(expected["taskmanager.memory.process.size"]));
    });

    it("checkpoints a streaming job every 30 s, exactly once, into the checkpoints bucket on S3", async () => {
        const rest = engine("flink").endpoints.rest!;
        const s3 = engine("s3");
        const expected = rendered();
        const [, bucket, prefix] = /^s3:\/\/([^/]+)\/(.+)$/.exec(expected["execution.checkpointing.dir"]!)!;
        // No checkpoint setting in the session: all of it must come from the cluster's configuration.
        const session = await GatewaySession.open({});
        let jobId: string | undefined;
        try {
            await session.execute("CREATE TEMPORARY TABLE ticks (n BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '5')");
            await session.execute("CREATE TEMPORARY TABLE sink (n BIGINT) WITH ('connector' = 'blackhole')");
            ({ jobId } = await session.execute("INSERT INTO sink SELECT n FROM ticks"));
            assert.match(jobId ?? "", /^[0-9a-f]{32}$/);

            const config = await call<{ mode: string; interval: number; externalization: { enabled: boolean; delete_on_cancellation: boolean } }>(
                rest, "GET", `/jobs/${jobId}/checkpoints/config`);
            assert.equal(config.mode, expected["execution.checkpointing.mode"]!.toLowerCase());
            assert.equal(config.interval, Number(/^(\d+)s$/.exec(expected["execution.checkpointing.interval"]!)![1]) * 1000);
            assert.deepEqual(config.externalization, { enabled: true, delete_on_cancellation: false });

            // The first checkpoint comes at a random point within the first interval. One triggered
            // while a busy machine is still deploying the tasks counts as failed ("not all required
            // tasks are currently running") and the next is triggered an interval later, so a
            // failure is not the end: the wait reports the latest one if none completes.
            let lastFailure = "none";
            const completed = await waitUntil("a completed checkpoint", async () => {
                const stats = await call<{ counts: { completed: number; failed: number }; latest: { completed?: { id: number; external_path: string }; failed?: { id: number; failure_message?: string } } }>(
                    rest, "GET", `/jobs/${jobId}/checkpoints`);
                if (stats.latest.failed) lastFailure = `checkpoint ${stats.latest.failed.id}: ${stats.latest.failed.failure_message ?? "(no message)"}`;
                return stats.counts.completed > 0 && stats.latest.completed;
            }, { timeoutMs: 150_000, intervalMs: 1_000, diagnose: async () => `latest failed checkpoint: ${lastFailure}\n${await flinkDiagnosis()}` });
            const chk = `${prefix}/${jobId}/chk-${completed.id}`;
            assert.equal(completed.external_path, `s3://${bucket}/${chk}`);

            // The files are where Flink says: in the bucket on the S3 engine.
            const client = new S3Client({ endpoint: s3.endpoints.url, region: s3.details.region, forcePathStyle: true,
                credentials: { accessKeyId: s3.details.accessKeyId!, secretAccessKey: s3.details.secretAccessKey! } });
            try {
                const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${chk}/` }));
                assert.ok((listed.Contents ?? []).some((o) => o.Key === `${chk}/_metadata` && (o.Size ?? 0) > 0), `${chk}/_metadata in ${JSON.stringify(listed.Contents?.map((o) => o.Key))}`);
            } finally {
                client.destroy();
            }
        } finally {
            if (jobId) {
                await call(rest, "PATCH", `/jobs/${jobId}?mode=cancel`);
                await waitUntil("job CANCELED", async () => (await jobState(jobId!)) === "CANCELED", { timeoutMs: 60_000 });
            }
            await session.close();
        }
    });
});

describe("flink engine (SQL Gateway REST)", () => {
    const id = randomUUID().slice(0, 8);
    const [source, sink] = [`plays-${id}`, `plays-per-10s-${id}`];
    leavesFlinkAsFound();
    // The Kafka source fails the job on a topic that does not exist yet.
    scratchTopics("flink-it", [source, sink].map((topic) => ({ topic, numPartitions: 1 })));

    it("runs a streaming event-time tumbling window from a Kafka topic to a Kafka topic", async () => {
        const bootstrap = engine("kafka").endpoints.bootstrap!;

        // UTC, so window bounds do not depend on the machine's time zone.
        const session = await GatewaySession.open({ "table.local-time-zone": "UTC" });
        let jobId: string | undefined;
        try {
            await session.execute(`CREATE TABLE plays (
                user_id STRING, watch_seconds INT, ts BIGINT,
                event_time AS TO_TIMESTAMP_LTZ(ts, 3),
                WATERMARK FOR event_time AS event_time - INTERVAL '1' SECOND
            ) WITH ('connector' = 'kafka', 'topic' = '${source}', 'properties.bootstrap.servers' = '${bootstrap}',
                'properties.group.id' = 'flink-${id}', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json')`);
            await session.execute(`CREATE TABLE plays_per_window (
                user_id STRING, plays BIGINT, watch_seconds INT, window_start TIMESTAMP(3), window_end TIMESTAMP(3)
            ) WITH ('connector' = 'kafka', 'topic' = '${sink}', 'properties.bootstrap.servers' = '${bootstrap}',
                'format' = 'json', 'json.timestamp-format.standard' = 'ISO-8601')`);
            ({ jobId } = await session.execute(`INSERT INTO plays_per_window
                SELECT user_id, COUNT(*), SUM(watch_seconds), window_start, window_end
                FROM TABLE(TUMBLE(TABLE plays, DESCRIPTOR(event_time), INTERVAL '10' SECOND))
                WHERE watch_seconds > 0
                GROUP BY user_id, window_start, window_end`));
            assert.match(jobId ?? "", /^[0-9a-f]{32}$/);
            await waitUntil("job RUNNING", async () => (await jobState(jobId!)) === "RUNNING", { timeoutMs: 60_000, diagnose: flinkDiagnosis });

            const t0 = Date.parse("2026-01-01T00:00:00Z");
            const events = [
                { user_id: "ana", watch_seconds: 30, ts: t0 + 1_000 },
                { user_id: "bo", watch_seconds: 50, ts: t0 + 2_000 },
                { user_id: "ana", watch_seconds: 0, ts: t0 + 3_000 }, // filtered out
                { user_id: "ana", watch_seconds: 40, ts: t0 + 9_000 },
                { user_id: "ana", watch_seconds: 70, ts: t0 + 12_000 },
                { user_id: "bo", watch_seconds: 10, ts: t0 + 15_000 },
                // Moves the watermark to 00:00:39, closing the first two windows (the one at 00:00:40 stays open).
                { user_id: "cy", watch_seconds: 5, ts: t0 + 40_000 },
            ];
            const producer = kafkaClient().producer();
            await producer.connect();
            await producer.send({ topic: source, messages: events.map((e) => ({ value: JSON.stringify(e) })) });
            await producer.disconnect();

            const rows = await consume(sink, 4, 90_000);
            const key = (r: unknown) => JSON.stringify(r);
            assert.deepEqual(rows.map(key).sort(), [
                { user_id: "ana", plays: 2, watch_seconds: 70, window_start: "2026-01-01T00:00:00", window_end: "2026-01-01T00:00:10" },
                { user_id: "bo", plays: 1, watch_seconds: 50, window_start: "2026-01-01T00:00:00", window_end: "2026-01-01T00:00:10" },
                { user_id: "ana", plays: 1, watch_seconds: 70, window_start: "2026-01-01T00:00:10", window_end: "2026-01-01T00:00:20" },
                { user_id: "bo", plays: 1, watch_seconds: 10, window_start: "2026-01-01T00:00:10", window_end: "2026-01-01T00:00:20" },
            ].map(key).sort());
        } finally {
            if (jobId) {
                // A streaming INSERT outlives its session: cancel it on the JobManager.
                await call(engine("flink").endpoints.rest!, "PATCH", `/jobs/${jobId}?mode=cancel`);
                await waitUntil("job CANCELED", async () => (await jobState(jobId!)) === "CANCELED", { timeoutMs: 60_000 });
            }
            await session.close();
        }
    });

    it("writes an Iceberg table through the REST catalog on S3 and reads it back", async () => {
        const s3 = engine("s3");
        const catalog = engine("iceberg");
        const namespace = `flink_${randomUUID().slice(0, 8)}`;
        // Batch mode, and dml-sync so INSERT returns only once its job finished (Iceberg commits at the end).
        const session = await GatewaySession.open({ "execution.runtime-mode": "batch", "table.dml-sync": "true" });
        try {
            // The options the Flink tier outputs, built by the same function, for these engines; the
            // credentials come from the processes' AWS environment exactly as in the containers.
            const options = icebergCatalogOptions({
                uri: catalog.endpoints.url!,
                warehouseBucket: catalog.details.bucket!,
                s3Endpoint: s3.endpoints.url!,
                pathStyle: true,
                region: s3.details.region!,
            });
            await session.execute(`CREATE CATALOG lake WITH (${withClause(options)})`);
            await session.execute(`CREATE DATABASE lake.${namespace}`);
            await session.execute(`CREATE TABLE lake.${namespace}.titles (title_id BIGINT, title STRING, minutes INT)`);
            const { jobId } = await session.execute(`INSERT INTO lake.${namespace}.titles VALUES
                (1, 'Stranger Things', 51), (2, 'The Crown', 58), (3, 'Dark', 53)`);
            assert.equal(await jobState(jobId!), "FINISHED");

            const { rows } = await session.execute(`SELECT title_id, title, minutes FROM lake.${namespace}.titles ORDER BY title_id`);
            assert.deepEqual(rows, [[1, "Stranger Things", 51], [2, "The Crown", 58], [3, "Dark", 53]]);

            // The catalog itself records the commit: one append snapshot by Flink's job, three records.
            const table = await call<{ metadata: { "current-snapshot-id": number; snapshots: Array<{ summary: Record<string, string> }> } }>(
                catalog.endpoints.url!, "GET", `/v1/namespaces/${namespace}/tables/titles`);
            assert.equal(table.metadata.snapshots.length, 1);
            const summary = table.metadata.snapshots[0]!.summary;
            assert.equal(summary.operation, "append");
            assert.equal(summary["added-records"], "3");
            assert.equal(summary["engine-name"], "flink");
            assert.equal(summary["flink.job-id"], jobId);
        } finally {
            await session.close();
        }
    });
});
