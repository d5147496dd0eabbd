/**
 * Kafka from the Maven Central jars of the version the Docker platform deploys, running the
 * nodes the Kafka tier renders (kafka-rendered.ts): the shared engine is the laptop profile's
 * one combined KRaft node; `startKafkaCluster` also runs the workstation profile's 3 controllers
 * and 3 brokers. kafka-tools rides along for Kafka's own performance tools, the reference the
 * project's clients are measured against.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Kafka, logLevel } from "kafkajs";
import type { Engine, EngineContext, EngineHandle } from "./types";
import { localNodes, renderedKafka, writeProperties } from "./kafka-rendered";
import { javaBin, mvnCopy, run, spawnDetached, stopPids, waitUntil } from "./lib";

/** Fixed, so formatted log dirs and configs are reproducible (any 16-byte base64url id works). */
const CLUSTER_ID = "4L6g3nShT-eMCtK--X86sw";

/** Kafka 4.1 logs through SLF4J 1.7; its distribution binds that to log4j2 with this jar. */
export const LOG4J_VERSION = "2.24.3";

function libDir(ctx: EngineContext): string {
    return path.join(ctx.cacheDir, `kafka-${ctx.versions.kafka}`, "libs");
}

/** Spawns a node from the files its start wrote, with the tier's heap; also what a restart uses. Returns the pid. */
export function spawnBroker(details: Record<string, string>, logFile: string): number {
    return spawnDetached(javaBin(), [
        ...details.heapOpts!.split(" "), "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
        `-Dlog4j2.configurationFile=${details.log4jConfig}`,
        "-cp", details.classpath, "kafka.Kafka", details.serverProperties,
    ], { logFile });
}

/**
 * Ready when the broker serves every partition it holds: a real client lists the topics and reads
 * each partition's offsets. A metadata answer alone comes too early after a restart: the broker
 * is registered but not yet leading its partitions, and a client's first ListOffsets gets
 * NOT_LEADER_OR_FOLLOWER (seen in CI, on a busy machine).
 */
export async function waitForBroker(bootstrap: string, pid: number, logFile: string): Promise<void> {
    await waitUntil(`kafka ${bootstrap} serving all its partitions`, async () => {
        // A fresh client per attempt: one whose request failed may keep the stale leader it had.
        const admin = new Kafka({ clientId: "engine-probe", brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
        try {
            await admin.connect();
            const cluster = await admin.describeCluster();
            if (cluster.brokers.length === 0) return false;
            for (const topic of await admin.listTopics()) await admin.fetchTopicOffsets(topic);
            return true;
        } finally {
            await admin.disconnect();
        }
    }, { pid, logFile, timeoutMs: 120_000, intervalMs: 500 });
}

/**
 * Stops the broker and starts it again on the same config and log dirs (same ports, same data):
 * for durability tests. Returns the handle with the new pid; persist it (state.saveEngine) so
 * `down` stops the new process.
 */
export async function restartKafka(handle: EngineHandle): Promise<EngineHandle> {
    await stopPids(handle.pids);
    const logFile = handle.logFiles[0]!;
    const pid = spawnBroker(handle.details, logFile);
    await waitForBroker(handle.endpoints.bootstrap!, pid, logFile);
    return { ...handle, pids: [pid] };
}

export interface RunningNode { id: number; name: string; broker: boolean; controller: boolean; pid: number; logFile: string; details: Record<string, string> }
export interface KafkaCluster { bootstrap: string; nodes: RunningNode[] }

function writeLog4j(file: string): void {
    fs.writeFileSync(file, [
        "appender.console.type=Console",
        "appender.console.name=STDOUT",
        "appender.console.layout.type=PatternLayout",
        "appender.console.layout.pattern=[%d] %p %m (%c)%n",
        "rootLogger.level=INFO",
        "rootLogger.appenderRef.stdout.ref=STDOUT",
        "",
    ].join("\n"));
}

/**
 * Formats and starts the nodes a profile renders, controllers first as on Docker, and returns
 * once every broker serves its partitions. `libs` is the engine's jar folder (details.libDir).
 */
export async function startKafkaCluster(profile: "laptop" | "workstation", libs: string, workDir: string): Promise<KafkaCluster> {
    const classpath = path.join(libs, "*");
    const log4jConfig = path.join(workDir, "log4j2.properties");
    writeLog4j(log4jConfig);
    const local = await localNodes(renderedKafka(profile), path.join(workDir, "data"));
    const nodes: RunningNode[] = [];
    for (const n of local) {
        const serverProperties = path.join(workDir, `${n.node.name}.properties`);
        writeProperties(serverProperties, n.properties);
        // A short-lived JVM: C1 only saves about a second of JIT work.
        await run(javaBin(), [
            "-XX:TieredStopAtLevel=1", `-Dlog4j2.configurationFile=${log4jConfig}`, "-cp", classpath,
            "kafka.tools.StorageTool", "format", "-t", CLUSTER_ID, "-c", serverProperties,
        ]);
        const details = { libDir: libs, classpath, serverProperties, log4jConfig, clusterId: CLUSTER_ID, heapOpts: n.heapOpts,
            ...(n.listeners.HOST ? { bootstrap: n.listeners.HOST } : {}) };
        const logFile = path.join(workDir, `${n.node.name}.log`);
        nodes.push({ id: n.node.id, name: n.node.name, broker: n.node.broker, controller: n.node.controller, pid: spawnBroker(details, logFile), logFile, details });
    }
    const brokers = nodes.filter((n) => n.broker);
    for (const b of brokers) await waitForBroker(b.details.bootstrap!, b.pid, b.logFile);
    return { bootstrap: brokers.map((b) => b.details.bootstrap!).join(","), nodes };
}

export const kafka: Engine = {
    name: "kafka",
    dependsOn: [],

    async install(ctx) {
        const v = ctx.versions.kafka;
        await mvnCopy([
            `org.apache.kafka:kafka_2.13:${v}`,
            `org.apache.kafka:kafka-tools:${v}`,
            `org.apache.logging.log4j:log4j-slf4j-impl:${LOG4J_VERSION}`,
        ], libDir(ctx));
    },

    async start(ctx) {
        const started = Date.now();
        const cluster = await startKafkaCluster("laptop", libDir(ctx), ctx.workDir);
        const [node] = cluster.nodes;
        ctx.log(`kafka ${ctx.versions.kafka} on ${cluster.bootstrap}`);
        return {
            name: "kafka",
            version: ctx.versions.kafka,
            endpoints: { bootstrap: cluster.bootstrap },
            // Everything a restart (restartKafka) or Kafka's own tools (bench) need to run again.
            details: node!.details,
            pids: [node!.pid],
            logFiles: [node!.logFile],
            startSeconds: (Date.now() - started) / 1000,
        };
    },
};
