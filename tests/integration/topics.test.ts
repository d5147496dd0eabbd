/**
 * The Kafka tier's topic provider (topics as code) against the real broker: create, change
 * partitions and retention in place, refuse what Kafka cannot do, delete.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { ConfigResourceTypes, Kafka, logLevel, type Admin } from "kafkajs";
import { directBrokers, TopicProvider, untilLed, type TopicState } from "../../components/kafka/topics";
import { engine } from "../engines/state";

describe("topics as code against a real Kafka broker", () => {
    const provider = new TopicProvider();
    let admin: Admin;
    let spec: TopicState;

    const partitions = async (name: string) => (await admin.fetchTopicMetadata({ topics: [name] })).topics[0]!.partitions.length;
    const configValue = async (name: string, key: string) => {
        const res = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name, configNames: [key] }] });
        return res.resources[0]!.configEntries.find((e) => e.configName === key)!;
    };

    before(async () => {
        const bootstrap = engine("kafka").endpoints.bootstrap!;
        admin = new Kafka({ clientId: "topics-it", brokers: [bootstrap], logLevel: logLevel.NOTHING }).admin();
        await admin.connect();
        spec = {
            brokers: directBrokers(bootstrap),
            name: `it-topic-${randomUUID()}`,
            partitions: 2,
            replicationFactor: 1,
            config: { "retention.ms": "3600000", "cleanup.policy": "delete", "min.insync.replicas": "1" },
        };
    });
    after(async () => {
        await admin.disconnect();
    });

    it("creates the topic with its partitions and configs", async () => {
        assert.deepEqual((await provider.check({} as TopicState, spec)).failures, []);
        const created = await provider.create(spec);
        assert.equal(created.id, spec.name);
        assert.equal(await partitions(spec.name), 2);
        assert.equal((await configValue(spec.name, "retention.ms")).configValue, "3600000");
    });

    it("refuses to adopt a topic that already exists", async () => {
        await assert.rejects(() => provider.create(spec), /already exists/);
    });

    it("adds partitions and changes retention in place, without replacing the topic", async () => {
        const next = { ...spec, partitions: 4, config: { ...spec.config, "retention.ms": "7200000" } };
        assert.deepEqual((await provider.check(spec, next)).failures, []);
        const diff = await provider.diff(spec.name, spec, next);
        assert.equal(diff.changes, true);
        assert.deepEqual(diff.replaces, []);
        await provider.update(spec.name, spec, next);
        assert.equal(await partitions(spec.name), 4);
        assert.equal((await configValue(spec.name, "retention.ms")).configValue, "7200000");
        spec = next;
    });

    it("returns a dropped config key to the broker default", async () => {
        const { ["cleanup.policy"]: _dropped, ...rest } = spec.config;
        const next = { ...spec, config: { ...rest, "cleanup.policy": "compact" } };
        await provider.update(spec.name, spec, next);
        assert.equal((await configValue(spec.name, "cleanup.policy")).configValue, "compact");
        const without = { ...next, config: rest };
        await provider.update(spec.name, next, without);
        const entry = await configValue(spec.name, "cleanup.policy");
        assert.equal(entry.configValue, "delete");
        assert.equal(entry.isDefault, true);
        spec = without;
    });

    it("sees no change when nothing changed, and a replacement when the name changes", async () => {
        assert.equal((await provider.diff(spec.name, spec, { ...spec })).changes, false);
        const tunnelled = [{ reach: { address: "kafka-1:9094", via: { namespace: "elsewhere", context: "prod" } }, advertised: "127.0.0.1:9092" }];
        assert.equal((await provider.diff(spec.name, spec, { ...spec, brokers: tunnelled })).changes, false);
        assert.deepEqual((await provider.diff(spec.name, spec, { ...spec, name: `${spec.name}-2` })).replaces, ["name"]);
    });

    it("reads what the broker has: no drift when nothing changed, a change made with Kafka's own API shows", async () => {
        const unchanged = await provider.read(spec.name, spec);
        assert.equal(unchanged.id, spec.name);
        assert.equal((await provider.diff(spec.name, unchanged.props!, spec)).changes, false, JSON.stringify(unchanged.props));

        await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: spec.name,
            configEntries: Object.entries({ ...spec.config, "retention.ms": "60000" }).map(([name, value]) => ({ name, value })) }] });
        const drifted = await provider.read(spec.name, spec);
        assert.equal(drifted.props!.config["retention.ms"], "60000");
        assert.equal((await provider.diff(spec.name, drifted.props!, spec)).changes, true);
        // `pulumi up` after the refresh puts the declared value back.
        await provider.update(spec.name, drifted.props!, spec);
        assert.equal((await configValue(spec.name, "retention.ms")).configValue, spec.config["retention.ms"]);
    });

    it("still reads, updates and deletes through state written before brokers existed (a bootstrap list only)", async () => {
        const name = `it-legacy-${randomUUID()}`;
        const { brokers: _brokers, ...content } = spec;
        const legacy: TopicState = { ...content, name, partitions: 1, bootstrap: engine("kafka").endpoints.bootstrap! } as TopicState;
        await provider.create({ ...spec, name, partitions: 1 });
        // The next program's inputs carry brokers instead of bootstrap: the same topic, no change.
        assert.equal((await provider.diff(name, legacy, { ...spec, name, partitions: 1 })).changes, false);
        const read = await provider.read(name, legacy);
        assert.equal(read.props!.partitions, 1);
        await provider.update(name, legacy, { ...legacy, partitions: 2 });
        assert.equal(await partitions(name), 2);
        await provider.delete(name, { ...legacy, partitions: 2 });
        assert.ok(!(await admin.listTopics()).includes(name));
    });

    it("follows a broker's advertised address to the broker's own reach, and refuses one its state does not reach", async () => {
        // Reached as localhost while it advertises 127.0.0.1: kafkajs must be sent to the reach, as through a tunnel.
        const bootstrap = engine("kafka").endpoints.bootstrap!;
        const aside = [{ reach: { address: bootstrap.replace("127.0.0.1", "localhost") }, advertised: bootstrap }];
        assert.equal((await provider.read(spec.name, { ...spec, brokers: aside })).id, spec.name);
        const stranger = [{ ...aside[0]!, advertised: "127.0.0.1:1" }];
        await assert.rejects(provider.read(spec.name, { ...spec, brokers: stranger }), (e: Error) => {
            assert.match(e.message, /^reading topic .* through Kafka at localhost:\d+: /);
            assert.match(e.message, new RegExp(`broker (\\d+ at )?${bootstrap.replace(/\./g, "\\.")} is not one of the brokers this topic reaches`));
            return true;
        });
    });

    it("refuses what Kafka cannot do in place: fewer partitions, another replication factor", async () => {
        const shrink = await provider.check(spec, { ...spec, partitions: 1 });
        assert.match(shrink.failures![0]!.reason, /cannot shrink from 4 to 1/);
        const rf = await provider.check(spec, { ...spec, replicationFactor: 3 });
        assert.match(rf.failures![0]!.reason, /replicationFactor .* cannot change in place \(1 -> 3\)/);
        assert.equal(await partitions(spec.name), 4, "nothing was touched");
    });

    it("after a create, waits out a broker that does not know the topic yet (UNKNOWN_TOPIC_OR_PARTITION), until every partition has a leader", async () => {
        const name = `it-late-${randomUUID()}`;
        // The wait starts before the topic exists, as when a busy broker's metadata lags its create.
        const waited = untilLed(admin, name, 3, 30_000);
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        await admin.createTopics({ topics: [{ topic: name, numPartitions: 3, replicationFactor: 1 }] });
        await waited;
        assert.equal(await partitions(name), 3);
        await admin.deleteTopics({ topics: [name] });
        await assert.rejects(untilLed(admin, `it-never-${randomUUID()}`, 1, 2_000), /was created, but not all its partitions have a leader after 2 s/);
    });

    it("deletes the topic, and a second delete is a no-op; a deleted topic reads as gone", async () => {
        await provider.delete(spec.name, spec);
        assert.ok(!(await admin.listTopics()).includes(spec.name));
        await provider.delete(spec.name, spec);
        assert.equal((await provider.read(spec.name, spec)).id, undefined);
    });
});
