/**
 * Kafka (the real broker, KRaft, the deployed version) with the project's client library:
 * an idempotent producer, a consumer group, per-key ordering, and durability across a restart.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Partitioners } from "kafkajs";
import { restartKafka } from "../engines/kafka";
import { engine, saveEngine } from "../engines/state";
import { kafkaClient, readTopic, scratchTopics } from "./fixtures";

const KEYS = 10;
const PER_KEY = 200;

interface Sent { key: string; seq: number; payload: string }

/** Everything on the topic, read from the beginning by a fresh consumer group. */
async function readAll(topic: string): Promise<Array<{ partition: number; key: string; value: Sent }>> {
    return (await readTopic("kafka-it", topic)).map((r) => ({ partition: r.partition, key: r.key!, value: JSON.parse(r.value) as Sent }));
}

describe("kafka engine", () => {
    const topic = `orders-${randomUUID()}`;
    const sent: Sent[] = [];
    scratchTopics("kafka-it", [{ topic, numPartitions: 3 }]);

    // One produce for both tests, so neither depends on the other having run.
    before(async () => {
        const producer = kafkaClient("kafka-it").producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
        await producer.connect();
        try {
            for (let seq = 0; seq < PER_KEY; seq++) {
                const batch = Array.from({ length: KEYS }, (_, k) => ({ key: `key-${k}`, seq, payload: `order ${k}/${seq}` }));
                await producer.send({ topic, messages: batch.map((m) => ({ key: m.key, value: JSON.stringify(m) })) });
                sent.push(...batch);
            }
        } finally {
            await producer.disconnect();
        }
    });

    it("an idempotent producer's keyed messages all come back through a consumer group, in order per key", async () => {
        const received = await readAll(topic);
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
        const restarted = await restartKafka(engine("kafka"));
        saveEngine(restarted);
        const received = await readAll(topic);
        assert.deepEqual(
            received.map((r) => `${r.key}:${r.value.seq}`).sort(),
            sent.map((m) => `${m.key}:${m.seq}`).sort(),
        );
    });
});
