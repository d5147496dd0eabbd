import assert from "node:assert/strict";
import { Partitioners, type Message, type PartitionerArgs, type RecordMetadata } from "kafkajs";
import { sendAcknowledged, trackingPartitioner } from "../../pipeline/producer/acknowledged";
import { murmur2 } from "../../pipeline/producer/generator-thread";

const TOPIC = "viewing-events";
const partitionMetadata = Array.from({ length: 6 }, (_, partitionId) => ({ partitionId, leader: partitionId % 3, partitionErrorCode: 0, replicas: [], isr: [] }));

/** What kafkajs does before a send: ask the partitioner for every message. */
function partitionAll(partitioner: ReturnType<typeof trackingPartitioner>, messages: Message[]): void {
    const partition = partitioner.createPartitioner();
    for (const message of messages) partition({ topic: TOPIC, partitionMetadata, message } as PartitionerArgs);
}

const answer = (partition: number, errorCode = 0) => ({ topicName: TOPIC, partition, errorCode }) as RecordMetadata;

describe("pipeline producer: partitions", () => {
    it("puts a message with its key's hash made beforehand where kafkajs' DefaultPartitioner puts its key; an explicit partition wins", () => {
        const tracked = trackingPartitioner().createPartitioner();
        const reference = Partitioners.DefaultPartitioner();
        for (let k = 0; k < 3000; k++) {
            const key = `user-${String(k).padStart(6, "0")}`;
            const hashed = { key, value: "v", keyHash: murmur2(key) };
            assert.equal(tracked({ topic: TOPIC, partitionMetadata, message: hashed } as PartitionerArgs), reference({ topic: TOPIC, partitionMetadata, message: { key, value: "v" } } as PartitionerArgs), key);
        }
        assert.equal(tracked({ topic: TOPIC, partitionMetadata, message: { key: "user-000001", value: "v", partition: 4, keyHash: murmur2("user-000001") } } as PartitionerArgs), 4);
    });
});

describe("pipeline producer: a send is done when every partition answered (kafkajs#1303)", () => {
    const messages = Array.from({ length: 12 }, (_, k) => ({ key: `user-${k}`, value: `event ${k}` }));

    it("sends once when every partition it used answered", async () => {
        const partitioner = trackingPartitioner();
        const sends: Message[][] = [];
        await sendAcknowledged(async (batch) => {
            sends.push(batch);
            partitionAll(partitioner, batch);
            return [...new Set(batch.map((m) => partitioner.partitionOf(m)!))].map((p) => answer(p));
        }, partitioner, TOPIC, messages);
        assert.equal(sends.length, 1);
    });

    it("sends again exactly the messages of a partition missing from the answer, as kafkajs returns after a leader moved", async () => {
        const partitioner = trackingPartitioner();
        const sends: Message[][] = [];
        const resent: number[][] = [];
        let lost: number | undefined;
        await sendAcknowledged(async (batch) => {
            sends.push(batch);
            partitionAll(partitioner, batch);
            const used = [...new Set(batch.map((m) => partitioner.partitionOf(m)!))];
            lost ??= used[0]!;
            // The first answer lacks one partition: the broker that took it over had answered already.
            return used.filter((p) => sends.length > 1 || p !== lost).map((p) => answer(p));
        }, partitioner, TOPIC, messages, (partitions) => resent.push(partitions));
        assert.equal(sends.length, 2);
        assert.deepEqual(resent, [[lost]]);
        assert.deepEqual(sends[1], messages.filter((m) => partitioner.partitionOf(m) === lost), "only that partition's messages, in order");
    });

    it("treats an error answer as not acknowledged, and gives up after the last round naming the topic", async () => {
        const partitioner = trackingPartitioner();
        await assert.rejects(sendAcknowledged(async (batch) => {
            partitionAll(partitioner, batch);
            return [...new Set(batch.map((m) => partitioner.partitionOf(m)!))].map((p) => answer(p, 6));
        }, partitioner, TOPIC, messages, undefined, 3), /12 messages to viewing-events still unacknowledged after 3 sends/);
    });
});
