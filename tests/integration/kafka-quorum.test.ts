/**
 * The workstation profile's Kafka as the tier renders it: 3 KRaft controllers and 3 brokers on
 * 127.0.0.1 (six JVMs, started for this suite only), the pipeline's raw topic declared by the
 * tier's own `topicArgs` through its topic provider (RF 3, min ISR 2). A broker and a controller
 * are killed (SIGKILL) while an idempotent acks=all producer writes through the pipeline
 * producer's send (`sendAcknowledged`): nothing is lost or doubled, and the topic keeps its
 * replication rules throughout. (A plain kafkajs send lost 3 of 1800 acknowledged messages here:
 * tulios/kafkajs#1303.)
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigResourceTypes, Kafka, logLevel, type Admin } from "kafkajs";
import { parseStackConfig } from "../../components/config";
import { topicArgs } from "../../components/kafka";
import { sendAcknowledged, trackingPartitioner } from "../../pipeline/producer/acknowledged";
import { directBrokers, TopicProvider, type TopicState } from "../../components/kafka/topics";
import { startKafkaCluster, waitForBroker, spawnBroker, type KafkaCluster, type RunningNode } from "../engines/kafka";
import { isAlive, stopPids, waitUntil } from "../engines/lib";
import { engine } from "../engines/state";
import { readTopic } from "./fixtures";

const KEYS = 12;
const ROUNDS = 150;

function kill(node: RunningNode): void {
    process.kill(-node.pid, "SIGKILL");
}

async function waitDead(node: RunningNode): Promise<void> {
    await waitUntil(`${node.name} gone`, () => !isAlive(node.pid), { timeoutMs: 30_000, intervalMs: 100 });
}

describe("Kafka quorum as rendered for the workstation profile (3 controllers, 3 brokers)", () => {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-quorum-"));
    const cfg = parseStackConfig({ "dataplatform:profile": "workstation" }, "dataplatform", "quorum-it");
    let cluster: KafkaCluster;
    let kafka: Kafka;
    let admin: Admin;
    let topic: TopicState;

    before(async () => {
        cluster = await startKafkaCluster("workstation", engine("kafka").details.libDir!, workDir);
        kafka = new Kafka({ clientId: "quorum-it", brokers: cluster.bootstrap.split(","), logLevel: logLevel.NOTHING, retry: { retries: 12, maxRetryTime: 5_000 } });
        admin = kafka.admin();
        await admin.connect();
        topic = { ...(topicArgs(cfg, "raw", directBrokers(cluster.bootstrap)) as TopicState), name: "viewing-events-quorum" };
        await new TopicProvider().create(topic);
    });

    after(async () => {
        await admin?.disconnect();
        await stopPids(cluster?.nodes.map((n) => n.pid) ?? []);
        fs.rmSync(workDir, { recursive: true, force: true });
    });

    const isr = async () => (await admin.fetchTopicMetadata({ topics: [topic.name] })).topics[0]!.partitions;

    it("runs the rendered quorum: three voters, three brokers, the topic at RF 3 and min ISR 2", async () => {
        assert.equal(cluster.nodes.filter((n) => n.controller && !n.broker).length, 3);
        assert.equal((await admin.describeCluster()).brokers.length, 3);
        const partitions = await isr();
        assert.equal(partitions.length, topic.partitions);
        assert.ok(partitions.every((p) => p.replicas.length === 3 && p.isr.length === 3), JSON.stringify(partitions));
        const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic.name, configNames: ["min.insync.replicas"] }] });
        assert.equal(described.resources[0]!.configEntries[0]!.configValue, "2");
    });

    it("loses nothing and doubles nothing when a broker and a controller die during an idempotent acks=all produce", async () => {
        const partitioner = trackingPartitioner();
        const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: partitioner.createPartitioner });
        await producer.connect();
        const sent: string[] = [];
        let resends = 0;
        // The leader of partition 0 and the first controller: a partition must move, and the quorum loses a voter.
        const leaderId = (await isr()).find((p) => p.partitionId === 0)!.leader;
        const victimBroker = cluster.nodes.find((n) => n.broker && n.id === leaderId)!;
        const victimController = cluster.nodes.find((n) => n.controller && !n.broker)!;
        try {
            for (let round = 0; round < ROUNDS; round++) {
                if (round === ROUNDS / 3) {
                    kill(victimBroker);
                    kill(victimController);
                }
                const batch = Array.from({ length: KEYS }, (_, k) => `user-${k}:${round}`);
                await sendAcknowledged((messages) => producer.send({ topic: topic.name, acks: -1, messages }), partitioner, topic.name,
                    batch.map((v) => ({ key: v.split(":")[0], value: v })), () => { resends += 1; });
                sent.push(...batch);
            }
        } finally {
            await producer.disconnect();
        }
        await waitDead(victimBroker);
        console.log(`      (sends that kafkajs answered without a moved partition, sent again: ${resends})`);

        // Two replicas are left, which min ISR 2 still accepts; every partition has a leader among them.
        const during = await isr();
        assert.ok(during.every((p) => p.leader !== leaderId && p.leader >= 0 && p.isr.length === 2 && !p.isr.includes(leaderId)), JSON.stringify(during));

        const received = await readTopic("quorum-it", topic.name, 120_000, kafka);
        const got = new Set(received.map((r) => r.value));
        assert.deepEqual(sent.filter((v) => !got.has(v)), [], "every acknowledged message is on the topic");
        assert.equal(received.length, sent.length, "and only once");
        assert.deepEqual(received.map((r) => r.value).sort(), [...sent].sort());
        // Per key, in the order sent.
        for (let k = 0; k < KEYS; k++) {
            const rounds = received.filter((r) => r.key === `user-${k}`).map((r) => Number(r.value.split(":")[1]));
            assert.deepEqual(rounds, Array.from({ length: ROUNDS }, (_, i) => i), `order of user-${k}`);
        }

        // Back again, both rejoin: the broker catches up into every ISR.
        for (const node of [victimController, victimBroker]) node.pid = spawnBroker(node.details, node.logFile);
        await waitForBroker(victimBroker.details.bootstrap!, victimBroker.pid, victimBroker.logFile);
        await waitUntil("the restarted broker back in every ISR", async () => (await isr()).every((p) => p.isr.length === 3), { timeoutMs: 120_000, intervalMs: 500 });
    });
});
