/**
 * Kafka (the real broker, KRaft, the deployed version) with the project's client library:
 * an idempotent producer, a consumer group, per-key ordering, and durability across a restart.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Kafka, logLevel, Partitioners, type Consumer } from "kafkajs";
import { restartKafka } from "../engines/kafka";
import { waitUntil } from "../engines/lib";
import { engine, saveEngine } from "../engines/state";

const KEYS = 10;
const PER_KEY = 200;

interface Sent { key: string; seq: number; payload: string }

/** kafkajs logs every retried "coordinator loading" as ERROR; real failures still throw or crash. */
function client(): Kafka {
    return new Kafka({ clientId: "integration", brokers: [engine("kafka").endpoints.bootstrap!], logLevel: logLevel.NOTHING });
}

/** Reads the topic from the beginning with a fresh consumer group until `expected` messages arrived. */
async function readAll(kafka: Kafka, topic: string, expected: number): Promise<Array<{ partition: number; key: string; value: Sent }>> {
    const consumer: Consumer = kafka.consumer({ groupId: `it-${randomUUID()}` });
    const received: Array<{ partition: number; key: string; value: Sent }> = [];
    let fatal: Error | undefined;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (!payload.restart) fatal = payload.error;
    });
    await consumer.connect();
    try {
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({
            eachMessage: async ({ partition, message }) => {
                received.push({ partition, key: message.key!.toString(), value: JSON.parse(message.value!.toString()) as Sent });
            },
        });
        await waitUntil(`${expected} messages from ${topic}`, () => {
            if (fatal) throw fatal;
            return received.length >= expected;
        }, { timeoutMs: 60_000 });
        return received;
    } finally {
        await consumer.disconnect();
    }
}

describe("kafka engine", () => {
    const topic = `orders-${randomUUID()}`;
    const sent: Sent[] = [];

    before(async () => {
        const admin = client().admin();
        await admin.connect();
        await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
        await admin.disconnect();
    });

    it("an idempotent producer's keyed messages all come back through a consumer group, in order per key", async () => {
        const kafka = client();
        const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
        await producer.connect();
        for (let seq = 0; seq < PER_KEY; seq++) {
            const batch = Array.from({ length: KEYS }, (_, k) => ({ key: `key-${k}`, seq, payload: `order ${k}/${seq}` }));
            sent.push(...batch);
            await producer.send({ topic, messages: batch.map((m) => ({ key: m.key, value: JSON.stringify(m) })) });
        }
        await producer.disconnect();

        const received = await readAll(kafka, topic, sent.length);
        assert.equal(received.length, sent.length, "exactly once each: no duplicates, nothing lost");

        const byKey = new Map<string, typeof received>();
        for (const r of received) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
        assert.equal(byKey.size, KEYS);
        for (const [key, messages] of byKey) {
            assert.deepEqual(messages.map((m) => m.value.seq), Array.from({ length: PER_KEY }, (_, i) => i), `order of ${key}`);
            assert.equal(new Set(messages.map((m) => m.partition)).size, 1, `${key} stays on one partition`);
            assert.ok(messages.every((m) => m.value.key === key && m.value.payload === `order ${key.slice(4)}/${m.value.seq}`));
        }
        assert.ok(new Set(received.map((r) => r.partition)).size > 1, "keys spread over partitions");
    });

    it("committed messages survive a broker restart", async () => {
        assert.equal(sent.length, KEYS * PER_KEY, "runs after the produce test");
        const restarted = await restartKafka(engine("kafka"));
        saveEngine(restarted);
        const received = await readAll(client(), topic, sent.length);
        assert.deepEqual(
            received.map((r) => `${r.key}:${r.value.seq}`).sort(),
            sent.map((m) => `${m.key}:${m.seq}`).sort(),
        );
    });
});
