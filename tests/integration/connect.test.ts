/**
 * Kafka Connect as the Kafka tier renders it (group, storage topics, converters, plugin path),
 * run by Apache Kafka's own distributed worker: a connector made through the REST API moves data
 * with the rendered converters, and is deleted.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigResourceTypes } from "kafkajs";
import { connectWorkerEnv } from "../../components/kafka";
import { connectImageProperties } from "../engines/connect";
import { waitUntil } from "../engines/lib";
import { engine } from "../engines/state";
import { jsonCall } from "./http";
import { kafkaClient, readTopic, scratchTopics } from "./fixtures";

interface ConnectorStatus { connector: { state: string }; tasks: Array<{ id: number; state: string; trace?: string }> }

const connectUrl = () => engine("connect").endpoints.url!;
const call = <T>(method: string, p: string, body?: unknown) => jsonCall<T>(connectUrl(), method, p, body);

async function running(name: string): Promise<ConnectorStatus> {
    return waitUntil(`connector ${name} and its task RUNNING`, async () => {
        const status = await call<ConnectorStatus>("GET", `/connectors/${name}/status`);
        const failed = status.tasks.find((t) => t.state === "FAILED");
        if (failed) throw new Error(`task ${failed.id} FAILED: ${failed.trace?.slice(0, 2000)}`);
        return status.connector.state === "RUNNING" && status.tasks.length > 0 && status.tasks.every((t) => t.state === "RUNNING") ? status : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
}

describe("Kafka Connect worker from the tier's rendered settings (Apache Kafka's ConnectDistributed)", () => {
    const topic = `connect-${randomUUID()}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "connect-it-"));
    const source = path.join(dir, "in.txt");
    const sink = path.join(dir, "out.txt");
    const names = { source: `file-source-${randomUUID().slice(0, 8)}`, sink: `file-sink-${randomUUID().slice(0, 8)}` };
    const lines = Array.from({ length: 200 }, (_, i) => `view ${i}: title ${i % 17} for ${i * 7} s`);
    scratchTopics("connect-it", [{ topic, numPartitions: 1 }]);

    after(async () => {
        for (const name of Object.values(names)) await fetch(`${connectUrl()}/connectors/${name}`, { method: "DELETE" });
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("runs as rendered: its group, and its three storage topics compacted", async () => {
        const rendered = connectImageProperties(connectWorkerEnv("rendered:9092", 1));
        assert.equal(engine("connect").details.groupId, rendered["group.id"]);
        const admin = kafkaClient("connect-it").admin();
        await admin.connect();
        try {
            const storage = ["config", "offset", "status"].map((k) => rendered[`${k}.storage.topic`]!);
            const described = await admin.describeConfigs({
                includeSynonyms: false,
                resources: storage.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ["cleanup.policy"] })),
            });
            assert.deepEqual(described.resources.map((r) => [r.resourceName, r.configEntries[0]!.configValue]), storage.map((t) => [t, "compact"]));
            const groups = await admin.listGroups();
            assert.ok(groups.groups.some((g) => g.groupId === rendered["group.id"] && g.protocolType === "connect"), `worker group ${rendered["group.id"]}`);
        } finally {
            await admin.disconnect();
        }
    });

    it("lists the FileStream connectors from the plugin path", async () => {
        const plugins = await call<Array<{ class: string }>>("GET", "/connector-plugins");
        const classes = plugins.map((p) => p.class);
        assert.ok(classes.includes("org.apache.kafka.connect.file.FileStreamSourceConnector"), classes.join(", "));
        assert.ok(classes.includes("org.apache.kafka.connect.file.FileStreamSinkConnector"));
    });

    it("moves a file through a topic and back with the rendered converters, then deletes both connectors", async () => {
        fs.writeFileSync(source, lines.map((l) => `${l}\n`).join(""));
        await call("POST", "/connectors", { name: names.source, config: { "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector", "tasks.max": "1", file: source, topic } });
        await running(names.source);
        await waitUntil(`${lines.length} records on ${topic}`, async () => {
            const admin = kafkaClient("connect-it").admin();
            await admin.connect();
            try {
                return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0) >= lines.length;
            } finally {
                await admin.disconnect();
            }
        }, { timeoutMs: 60_000 });
        // JsonConverter without schemas writes each line as a JSON string; the key converter leaves no key.
        const records = await readTopic("connect-it", topic);
        assert.deepEqual(records.map((r) => JSON.parse(r.value) as string), lines);
        assert.ok(records.every((r) => r.key === undefined));

        await call("POST", "/connectors", { name: names.sink, config: { "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "tasks.max": "1", file: sink, topics: topic } });
        await running(names.sink);
        await waitUntil(`${sink} holding every line`, () => fs.existsSync(sink) && fs.readFileSync(sink, "utf8").split("\n").filter(Boolean).length >= lines.length,
            { timeoutMs: 60_000 });
        assert.deepEqual(fs.readFileSync(sink, "utf8").split("\n").filter(Boolean), lines);

        for (const name of Object.values(names)) {
            const response = await fetch(`${connectUrl()}/connectors/${name}`, { method: "DELETE" });
            assert.equal(response.status, 204, `DELETE ${name}`);
        }
        await waitUntil("no connectors left", async () => {
            const left = await call<string[]>("GET", "/connectors");
            return !left.includes(names.source) && !left.includes(names.sink);
        }, { timeoutMs: 30_000 });
        assert.equal((await fetch(`${connectUrl()}/connectors/${names.source}/status`)).status, 404);
    });
});
