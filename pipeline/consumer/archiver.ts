/**
 * Archives the processed topic to the object store in batches (rules in batcher.ts). An offset
 * is committed only after the object holding its record is written, so a crash at any point
 * re-reads from the last committed offset and rewrites the same objects: nothing lost, nothing
 * archived twice. A partition's writes and commits run one at a time, in order; partitions write
 * side by side (their offsets are committed apart), while the next records are read: up to
 * MAX_PENDING_OBJECTS complete objects wait for their write. Most of an object's time is the
 * store's and the broker's answer, not this process's CPU, so the overlap is the throughput.
 *
 * Since each write follows the partition's commit before it, the one object an earlier incarnation can have
 * left behind starts at the committed offset this one was assigned; so the object store is asked
 * for such a leftover only for a partition's first batch after an assignment.
 */
import { ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Kafka, type Consumer } from "kafkajs";
import { kafkaLogCreator, kafkaLogLevel, type Logger } from "../shared/log";
import { sleep } from "../shared/sleep";
import { Batcher, batchKeyStart, objectBody, objectKey, offsetsOfKey, type Batch } from "./batcher";
import type { ConsumerConfig } from "./config";

/** Objects that may wait for their write while reading goes on (two per partition of the deployed three, and some): reading and writing overlap, memory stays bounded. */
export const MAX_PENDING_OBJECTS = 8;

export interface ArchiverStatus { healthy: boolean; archivedRecords: number; objects: number; lastCommit?: string }

export function s3Client(c: Pick<ConsumerConfig, "S3_ENDPOINT" | "S3_REGION" | "S3_PATH_STYLE">): S3Client {
    return new S3Client({
        region: c.S3_REGION,
        ...(c.S3_ENDPOINT ? { endpoint: c.S3_ENDPOINT } : {}),
        forcePathStyle: c.S3_PATH_STYLE,
        // MinIO and other S3-compatible stores reject the SDK's newer default CRC checksums on some versions.
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
    });
}

export class Archiver {
    readonly status: ArchiverStatus = { healthy: false, archivedRecords: 0, objects: 0 };
    private readonly consumer: Consumer;
    private readonly batcher: Batcher;
    private readonly s3: S3Client;
    /** Per partition, every write+commit, in order. */
    private readonly chains = new Map<number, Promise<void>>();
    /** One promise per object not yet written and committed, oldest first; eachBatch waits on them, which is the backpressure. */
    private readonly pending = new Set<Promise<void>>();
    private failure?: Error;
    private timer?: NodeJS.Timeout;
    private fatal?: (error: Error) => void;
    /** Per partition: the offset from which every object is this incarnation's own (its last commit since the assignment). */
    private readonly ownFrom = new Map<number, string>();
    private assigned = new Set<number>();

    constructor(private readonly c: ConsumerConfig, private readonly log: Logger) {
        this.consumer = new Kafka({
            clientId: c.KAFKA_CLIENT_ID,
            brokers: c.KAFKA_BOOTSTRAP_SERVERS,
            logCreator: kafkaLogCreator(log),
            logLevel: kafkaLogLevel(c.LOG_LEVEL === "debug" ? "info" : "warn"),
            retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 20 },
        }).consumer({ groupId: c.CONSUMER_GROUP, readUncommitted: false, allowAutoTopicCreation: false });
        this.batcher = new Batcher(c.BATCH_MAX_RECORDS, c.BATCH_MAX_AGE_SECONDS * 1000);
        this.s3 = s3Client(c);
    }

    /** Runs until stop(); rejects on a fatal error (the process should exit and be restarted). */
    async run(): Promise<void> {
        const failed = new Promise<never>((_, reject) => { this.fatal = reject; });
        this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
            // After every join kafkajs reads each assigned partition again from its committed offset
            // (a fresh offset manager), also the partitions this member keeps: what the open batches
            // hold comes again, and would be doubled. Partitions taken away are re-read by their new owner.
            for (const p of this.batcher.partitions()) this.batcher.drop(p);
            const mine = new Set(payload.memberAssignment[this.c.TOPIC] ?? []);
            // Another member may have held a partition in between, and left an uncommitted object.
            this.ownFrom.clear();
            this.assigned = mine;
            this.log.info("assigned", { partitions: [...mine] });
        });
        this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
            if (!payload.restart) this.fatal?.(payload.error);
        });
        await this.consumer.connect();
        await this.consumer.subscribe({ topic: this.c.TOPIC, fromBeginning: true });
        await this.consumer.run({
            autoCommit: false,
            eachBatch: async ({ batch, heartbeat }) => {
                while (this.pending.size > MAX_PENDING_OBJECTS) await this.pending.values().next().value;
                if (this.failure) throw this.failure; // the process is ending: read nothing more
                for (const m of batch.messages) {
                    const record = { partition: batch.partition, offset: m.offset, value: m.value?.toString("utf8") ?? "null", timestamp: m.timestamp };
                    for (const done of this.batcher.add(record, Date.now())) this.enqueue(done);
                }
                await heartbeat();
            },
        });
        this.status.healthy = true;
        this.timer = setInterval(() => this.batcher.due(Date.now()).forEach((b) => this.enqueue(b)), 500);
        this.log.info("archiving", { topic: this.c.TOPIC, bucket: this.c.S3_BUCKET, prefix: this.c.ARCHIVE_PREFIX });
        await failed;
    }

    /** Writes what is complete and stops without committing the rest (it is re-read on the next start). */
    async stop(): Promise<void> {
        clearInterval(this.timer);
        await Promise.all([...this.chains.values()].map((chain) => chain.catch(() => undefined)));
        await this.consumer.disconnect();
        this.s3.destroy();
        this.fatal?.(new StoppedError());
    }

    private enqueue(batch: Batch): void {
        // After a failure the partition's chain stays rejected: nothing later of it is written.
        const chain = (this.chains.get(batch.partition) ?? Promise.resolve()).then(() => this.archive(batch)).catch((error: Error) => {
            this.status.healthy = false;
            this.failure ??= error;
            this.fatal?.(error);
            throw error;
        });
        this.chains.set(batch.partition, chain);
        // Settles either way (a failure is the chain's to report): nobody is left with an unhandled rejection.
        const settled: Promise<void> = chain.then(() => undefined, () => undefined).then(() => {
            this.pending.delete(settled);
        });
        this.pending.add(settled);
    }

    private async archive(candidate: Batch): Promise<void> {
        const first = candidate.records[0]!.offset;
        // An object starting at this offset exists only if an earlier run wrote it and died before committing.
        const earlier = this.ownFrom.get(candidate.partition) === first ? undefined : await this.leftoverAt(candidate, first);
        let batch: Batch | undefined = candidate;
        if (earlier && earlier.last !== candidate.records[candidate.records.length - 1]!.offset) {
            batch = this.batcher.boundaryAt(candidate, earlier.last, Date.now());
            this.log.info("replaying an uncommitted object's range", { partition: candidate.partition, first, last: earlier.last, ready: batch !== undefined });
            if (!batch) return;
        }
        const key = objectKey(this.c.ARCHIVE_PREFIX, this.c.TOPIC, batch);
        await this.s3.send(new PutObjectCommand({ Bucket: this.c.S3_BUCKET, Key: key, Body: objectBody(batch), ContentType: "application/x-ndjson" }));
        const next = String(BigInt(batch.records[batch.records.length - 1]!.offset) + 1n);
        if (!(await this.commit(batch.partition, next))) return;
        this.ownFrom.set(batch.partition, next);
        this.status.archivedRecords += batch.records.length;
        this.status.objects += 1;
        this.status.lastCommit = `${batch.partition}:${next}`;
        this.log.info("batch archived", { key, records: batch.records.length, partition: batch.partition, committed: next });
    }

    private async leftoverAt(batch: Batch, first: string): Promise<{ last: string } | undefined> {
        const existing = await this.s3.send(new ListObjectsV2Command({
            Bucket: this.c.S3_BUCKET, Prefix: batchKeyStart(this.c.ARCHIVE_PREFIX, this.c.TOPIC, batch, first),
        }));
        return existing.Contents?.map((o) => offsetsOfKey(o.Key ?? "")).find((o) => o !== undefined);
    }

    /**
     * Commits, retrying through a broker restart; gives up (fatal) after about a minute. Returns
     * false, committing nothing, for a partition a rebalance took away while its object was being
     * written: the object is there, and its new owner starts from the older offset and rewrites
     * the same object (a commit now could move that owner's offset back).
     */
    private async commit(partition: number, offset: string): Promise<boolean> {
        for (let attempt = 1; ; attempt++) {
            if (!this.assigned.has(partition)) {
                this.log.info("partition reassigned while its object was written: not committing", { partition, offset });
                return false;
            }
            try {
                await this.consumer.commitOffsets([{ topic: this.c.TOPIC, partition, offset }]);
                return true;
            } catch (error) {
                if (attempt >= 30) throw error;
                this.log.warn("commit failed, retrying", { partition, offset, attempt, error: (error as Error).message });
                await sleep(2_000);
            }
        }
    }
}

export class StoppedError extends Error {}
