/**
 * Kafka Connect: Apache Kafka's own distributed worker, from the Maven Central jars of the same
 * Kafka version, started from the worker settings the Kafka tier renders for cp-kafka-connect
 * (`connectWorkerEnv`) and the heap it gives that container. The FileStream connectors (Kafka's
 * `connect-file`) are the plugin, in a plugin folder of their own as a user would add one.
 */
import * as path from "node:path";
import { parseStackConfig } from "../../components/config";
import { connectWorkerEnv, kafkaMemoryPlan, replication } from "../../components/kafka";
import { heapOpts } from "../../components/platform/jvm";
import type { Engine, EngineContext } from "./types";
import { LOG4J_VERSION } from "./kafka";
import { writeProperties } from "./kafka-rendered";
import { freePort, javaBin, mvnCopy, spawnDetached, waitForHttp } from "./lib";

function homeDir(ctx: EngineContext): string {
    return path.join(ctx.cacheDir, `kafka-connect-${ctx.versions.kafka}`);
}

/**
 * cp-kafka-connect's entrypoint writes every `CONNECT_*` variable to the worker's properties:
 * the prefix dropped, lower case, '_' to '.'. Confluent's tools have changed how doubled
 * underscores (for '-' and '_' in names) are read, so a variable holding them is refused
 * here rather than guessed; the tier renders none.
 */
export function connectImageProperties(env: Record<string, string>): Record<string, string> {
    const props: Record<string, string> = {};
    for (const [name, value] of Object.entries(env)) {
        if (!name.startsWith("CONNECT_")) continue;
        if (name.includes("__")) throw new Error(`${name}: a doubled underscore is read differently by cp-kafka-connect versions`);
        props[name.slice("CONNECT_".length).toLowerCase().replace(/_/g, ".")] = value;
    }
    // The image's configure script refuses to start without these (`dub ensure`).
    for (const required of ["bootstrap.servers", "group.id", "config.storage.topic", "offset.storage.topic", "status.storage.topic",
        "key.converter", "value.converter", "rest.advertised.host.name"]) {
        if (!props[required]) throw new Error(`cp-kafka-connect needs CONNECT_${required.toUpperCase().replace(/\./g, "_")}`);
    }
    return props;
}

/**
 * The one substitution the rendered worker settings need to run as a process here: the broker's
 * address, the REST listener's host and port, and the plugin folder. Everything else (group,
 * storage topics and their replication, converters) runs as rendered.
 */
export function localWorker(props: Record<string, string>, local: { bootstrap: string; port: number; pluginDir: string }): Record<string, string> {
    return {
        ...props,
        "bootstrap.servers": local.bootstrap,
        listeners: `http://127.0.0.1:${local.port}`,
        "rest.advertised.host.name": "127.0.0.1",
        "plugin.path": local.pluginDir,
    };
}

export const connect: Engine = {
    name: "connect",
    dependsOn: ["kafka"],

    async install(ctx) {
        const v = ctx.versions.kafka;
        await mvnCopy([`org.apache.kafka:connect-runtime:${v}`, `org.apache.logging.log4j:log4j-slf4j-impl:${LOG4J_VERSION}`], path.join(homeDir(ctx), "libs"));
        await mvnCopy([`org.apache.kafka:connect-file:${v}`], path.join(homeDir(ctx), "plugins", "connect-file"), { transitive: false });
    },

    async start(ctx) {
        const started = Date.now();
        const kafka = ctx.running.kafka;
        if (!kafka) throw new Error("connect needs the kafka engine running");
        const cfg = parseStackConfig({}, "dataplatform", "engines");
        const rendered = connectWorkerEnv("kafka-1:9092", replication(cfg.kafka.brokers).factor);
        const port = await freePort();
        const properties = localWorker(connectImageProperties(rendered), {
            bootstrap: kafka.endpoints.bootstrap!, port, pluginDir: path.join(homeDir(ctx), "plugins"),
        });
        const workerFile = path.join(ctx.workDir, "connect-distributed.properties");
        writeProperties(workerFile, properties);
        const logFile = path.join(ctx.workDir, "connect.log");
        const pid = spawnDetached(javaBin(), [
            ...heapOpts(kafkaMemoryPlan(cfg)["kafka-connect"]!).split(" "), "-Djava.awt.headless=true",
            `-Dlog4j2.configurationFile=${kafka.details.log4jConfig}`,
            "-cp", path.join(homeDir(ctx), "libs", "*"), "org.apache.kafka.connect.cli.ConnectDistributed", workerFile,
        ], { logFile });
        const url = `http://127.0.0.1:${port}`;
        // /connectors answers once the worker joined its group and read its config topic: what the tier's healthcheck asks.
        await waitForHttp(`${url}/connectors`, { pid, logFile, timeoutMs: 180_000 });
        ctx.log(`kafka connect ${ctx.versions.kafka} on ${url}`);
        return {
            name: "connect",
            version: ctx.versions.kafka,
            endpoints: { url },
            details: { groupId: properties["group.id"]!, configTopic: properties["config.storage.topic"]!, workerFile },
            pids: [pid],
            logFiles: [logFile],
            startSeconds: (Date.now() - started) / 1000,
        };
    },
};
