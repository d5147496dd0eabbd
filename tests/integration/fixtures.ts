/**
 * What a suite borrows from the shared engines, it gives back: its topics are deleted, and it
 * leaves Druid's task slots and Flink's jobs as it found them. The suites run one after another
 * on one set of engines, so anything a suite leaves running is what the next one waits for.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { IHeaders, Kafka, logLevel } from "kafkajs";
import { druidActivity, overlordJson, unfinishedTasks } from "../../components/druid/overlord";
import { JobManager, terminalStates } from "../../pipeline/processor/flink-api";
import { waitUntil } from "../engines/lib";
import { engine } from "../engines/state";

/** Overlord URL of the test Druid (the router, as `pulumi up` reaches it). */
export const druidUrl = () => engine("druid").endpoints.router!;

/** For a wait on Druid: supervisors, unfinished tasks and slots, read from the overlord when the wait times out. */
export const druidDiagnosis = () => druidActivity(druidUrl());

/** For a wait on Flink: slots and every job that is not finished. */
export async function flinkDiagnosis(): Promise<string> {
    const rest = engine("flink").endpoints.rest!;
    const overview = await (await fetch(`${rest}/overview`)).json() as { "slots-total": number; "slots-available": number };
    const jobs = await new JobManager(rest).jobs();
    const live = jobs.filter((j) => !terminalStates.has(j.state));
    return [
        `slots: ${overview["slots-available"]} of ${overview["slots-total"]} free`,
        `unfinished jobs: ${live.length ? "" : "none"}`,
        ...live.map((j) => `  ${j.jid} ${j.name}: ${j.state}`),
    ].join("\n");
}

/**
 * Registers hooks that record what runs on an engine before the suite and, after it, run the
 * suite's clean-up (which also covers a test that failed half-way) and then wait, bounded, until
 * nothing runs that did not run before. Declared first in a suite, so the record comes first.
 */
function leavesAsFound(what: string, running: () => Promise<string[]>, cleanup: () => Promise<unknown>, diagnose: () => Promise<string>, timeoutMs: number): void {
    let found: Set<string>;
    before(async () => { found = new Set(await running()); });
    after(async function () {
        this.timeout(timeoutMs + 120_000);
        await cleanup();
        await waitUntil(`${what} as the suite found it`, async () => (await running()).every((x) => found.has(x)),
            { timeoutMs, intervalMs: 2_000, diagnose });
    });
}

/**
 * Druid: no supervisor and no unfinished task the suite started. A terminated supervisor's
 * tasks must have handed off, or the next suite finds no free slot.
 */
export function leavesDruidAsFound(cleanup: () => Promise<unknown> = async () => undefined, timeoutMs = 180_000): void {
    leavesAsFound("Druid", async () => [
        ...(await overlordJson<string[]>(druidUrl(), "/druid/indexer/v1/supervisor")).map((s) => `supervisor ${s}`),
        ...(await unfinishedTasks(druidUrl())).map((t) => `task ${t.id}`),
    ], cleanup, druidDiagnosis, timeoutMs);
}

/** Flink: every job the suite started has reached a terminal state. */
export function leavesFlinkAsFound(cleanup: () => Promise<unknown> = async () => undefined, timeoutMs = 120_000): void {
    leavesAsFound("Flink", async () => (await new JobManager(engine("flink").endpoints.rest!).jobs()).filter((j) => !terminalStates.has(j.state)).map((j) => j.jid),
        cleanup, flinkDiagnosis, timeoutMs);
}

export function kafkaClient(clientId: string): Kafka {
    return new Kafka({ clientId, brokers: [engine("kafka").endpoints.bootstrap!], logLevel: logLevel.NOTHING });
}

/** Creates the topics before the suite and deletes them after it. */
export function scratchTopics(clientId: string, topics: { topic: string; numPartitions: number }[]): void {
    before(async () => {
        const admin = kafkaClient(clientId).admin();
        await admin.connect();
        try {
            await admin.createTopics({ topics: topics.map((t) => ({ ...t, replicationFactor: 1 })), waitForLeaders: true });
        } finally {
            await admin.disconnect();
        }
    });
    after(async () => {
        const admin = kafkaClient(clientId).admin();
        await admin.connect();
        try {
            await admin.deleteTopics({ topics: topics.map((t) => t.topic) });
        } finally {
            await admin.disconnect();
        }
    });
}

export interface TopicRecord { partition: number; offset: string; key: string | undefined; value: string; headers: IHeaders }

/**
 * Every record committed to `topic` at the time of the call, read by a consumer group of its own
 * (read_committed). Done when each partition's reading reached its end offset, counting the
 * transaction markers an exactly-once producer (the Flink job) leaves there, which carry no
 * record: a fixed wait for "nothing more" is not needed.
 */
export async function readTopic(clientId: string, topic: string, timeoutMs = 60_000, kafka = kafkaClient(clientId)): Promise<TopicRecord[]> {
    const admin = kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
    const unread = new Map(ends.filter((e) => Number(e.high) > 0).map((e) => [e.partition, Number(e.high)]));
    const records: TopicRecord[] = [];
    const consumer = kafka.consumer({ groupId: `${clientId}-${randomUUID()}` });
    // Emitted for batches of records and for batches of markers only, which eachMessage never sees.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        const end = unread.get(payload.partition);
        if (end !== undefined && Number(payload.lastOffset) >= end - 1) unread.delete(payload.partition);
    });
    await consumer.connect();
    try {
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({
            eachMessage: async ({ partition, message }) => {
                records.push({ partition, offset: message.offset, key: message.key?.toString(), value: message.value?.toString() ?? "", headers: message.headers ?? {} });
            },
        });
        await waitUntil(`all of ${topic} read (${[...unread].map(([p, end]) => `partition ${p} to offset ${end}`).join(", ")})`, () => unread.size === 0,
            { timeoutMs, intervalMs: 100 });
    } finally {
        await consumer.disconnect();
    }
    return records;
}

/**
 * Switches the s3 engine's (moto's) IAM checks on (0 unchecked requests left) or off ("inf");
 * returns the previous setting, for the suite to give back.
 */
export async function setUncheckedRequests(count: string): Promise<string> {
    const response = await fetch(`${engine("s3").endpoints.url}/moto-api/reset-auth`, { method: "POST", body: count });
    const text = await response.text();
    assert.equal(response.status, 200, `moto reset-auth: ${text}`);
    return (JSON.parse(text) as { PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT: string }).PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT;
}
