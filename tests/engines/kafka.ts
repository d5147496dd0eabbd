/**
 * Kafka as a single KRaft node (broker and controller in one JVM), from the Maven Central jars
 * of the same version the Docker platform deploys. kafka-tools rides along for Kafka's own
 * producer/consumer performance tools, the reference the project's clients are measured against.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Kafka, logLevel } from "kafkajs";
import type { Engine, EngineContext, EngineHandle } from "./types";
import { freePort, javaBin, mvnCopy, run, spawnDetached, stopPids, waitUntil } from "./lib";

/** Fixed, so formatted log dirs and configs are reproducible (any 16-byte base64url id works). */
const CLUSTER_ID = "4L6g3nShT-eMCtK--X86sw";

/** Kafka 4.1 logs through SLF4J 1.7; its distribution binds that to log4j2 with this jar. */
const LOG4J_VERSION = "2.24.3";

function libDir(ctx: EngineContext): string {
    return path.join(ctx.cacheDir, `kafka-${ctx.versions.kafka}`, "libs");
}

/** Spawns the broker from the files `start` wrote; also what a restart uses. Returns the pid. */
export function spawnBroker(details: Record<string, string>, logFile: string): number {
    return spawnDetached(javaBin(), [
        "-Xmx1g", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
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
        const [brokerPort, controllerPort] = [await freePort(), await freePort()];
        const bootstrap = `127.0.0.1:${brokerPort}`;
        const serverProperties = path.join(ctx.workDir, "server.properties");
        const log4jConfig = path.join(ctx.workDir, "log4j2.properties");
        const logFile = path.join(ctx.workDir, "kafka.log");

        fs.writeFileSync(serverProperties, [
            "process.roles=broker,controller",
            "node.id=1",
            `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
            `listeners=PLAINTEXT://${bootstrap},CONTROLLER://127.0.0.1:${controllerPort}`,
            `advertised.listeners=PLAINTEXT://${bootstrap}`,
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            `log.dirs=${path.join(ctx.workDir, "data")}`,
            "num.partitions=1",
            // One node: every internal topic must make do with one replica.
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            // Tests start consumer groups constantly; the default 3 s wait only slows them down.
            "group.initial.rebalance.delay.ms=0",
            "",
        ].join("\n"));
        fs.writeFileSync(log4jConfig, [
            "appender.console.type=Console",
            "appender.console.name=STDOUT",
            "appender.console.layout.type=PatternLayout",
            "appender.console.layout.pattern=[%d] %p %m (%c)%n",
            "rootLogger.level=INFO",
            "rootLogger.appenderRef.stdout.ref=STDOUT",
            "",
        ].join("\n"));

        const classpath = path.join(libDir(ctx), "*");
        // A short-lived JVM: C1 only saves about a second of JIT work.
        await run(javaBin(), [
            "-XX:TieredStopAtLevel=1", `-Dlog4j2.configurationFile=${log4jConfig}`, "-cp", classpath,
            "kafka.tools.StorageTool", "format", "-t", CLUSTER_ID, "-c", serverProperties,
        ]);

        // Everything a restart (restartKafka) or Kafka's own tools (bench) need to run again.
        const details = { libDir: libDir(ctx), classpath, serverProperties, log4jConfig, clusterId: CLUSTER_ID };
        const pid = spawnBroker(details, logFile);
        await waitForBroker(bootstrap, pid, logFile);
        ctx.log(`kafka ${ctx.versions.kafka} on ${bootstrap}`);
        return {
            name: "kafka",
            version: ctx.versions.kafka,
            endpoints: { bootstrap },
            details,
            pids: [pid],
            logFiles: [logFile],
            startSeconds: (Date.now() - started) / 1000,
        };
    },
};
