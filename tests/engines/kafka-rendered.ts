/**
 * The Kafka tier's rendered nodes (`kafkaNodeEnvs`) made runnable as processes on 127.0.0.1:
 * the env read into server.properties the way the apache/kafka image reads it, then the one
 * documented substitution (`localNodes`): host names and ports to 127.0.0.1 and free ports, the
 * data folder to this run's. Every other setting runs as the product deploys it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseStackConfig } from "../../components/config";
import { kafkaNodeEnvs, type KafkaNode } from "../../components/kafka";
import { freePort } from "./lib";

/** Variables apache/kafka's launch scripts keep for the JVM; everything else `KAFKA_*` is a property. */
const LAUNCHER_VARIABLES = new Set(["KAFKA_VERSION", "KAFKA_HEAP_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_OPTS", "KAFKA_JMX_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_GC_LOG_OPTS", "KAFKA_LOG4J_ROOT_LOGLEVEL", "KAFKA_LOG4J_LOGGERS", "KAFKA_TOOLS_LOG4J_LOGLEVEL",
    "KAFKA_JMX_HOSTNAME", "KAFKA_JMX_PORT"]);

/** apache/kafka's rule: `KAFKA_` dropped, lower case, '___' to '-', '__' to '_', '_' to '.'. */
export function kafkaImageProperties(env: Record<string, string>): Record<string, string> {
    const props: Record<string, string> = {};
    for (const [name, value] of Object.entries(env)) {
        if (!name.startsWith("KAFKA_") || LAUNCHER_VARIABLES.has(name)) continue;
        const key = name.slice("KAFKA_".length).toLowerCase()
            .replace(/___/g, "\u0000").replace(/__/g, "\u0001").replace(/_/g, ".")
            .replace(/\u0000/g, "-").replace(/\u0001/g, "_");
        props[key] = value;
    }
    return props;
}

export interface LocalNode {
    node: KafkaNode;
    properties: Record<string, string>;
    /** `-Xms -Xmx` as the tier sets KAFKA_HEAP_OPTS. */
    heapOpts: string;
    /** The node's own listeners on 127.0.0.1, by listener name. */
    listeners: Record<string, string>;
}

/**
 * THE substitution: every `name://:port` listener gets a free port on 127.0.0.1, advertised
 * listeners become this node's own local addresses, the quorum voters' host names become the
 * controllers' local addresses, and `log.dirs` a folder under `dataDir`.
 */
export async function localNodes(rendered: { node: KafkaNode; env: Record<string, string> }[], dataDir: string): Promise<LocalNode[]> {
    const parsed = rendered.map(({ node, env }) => ({ node, env, props: kafkaImageProperties(env) }));
    const listeners = new Map<string, Record<string, string>>();
    for (const { node, props } of parsed) {
        const own: Record<string, string> = {};
        for (const listener of props.listeners!.split(",")) {
            const name = listener.split("://")[0]!;
            own[name] = `127.0.0.1:${await freePort()}`;
        }
        listeners.set(node.name, own);
    }
    const controllerAddress = (host: string) => {
        const address = listeners.get(host)?.CONTROLLER;
        if (!address) throw new Error(`controller.quorum.voters names ${host}, which is not a rendered controller`);
        return address;
    };
    return parsed.map(({ node, env, props }) => {
        const own = listeners.get(node.name)!;
        const local = { ...props };
        local.listeners = Object.entries(own).map(([name, address]) => `${name}://${address}`).join(",");
        if (props["advertised.listeners"]) {
            local["advertised.listeners"] = props["advertised.listeners"].split(",").map((l) => {
                const name = l.split("://")[0]!;
                return `${name}://${own[name]}`;
            }).join(",");
        }
        local["controller.quorum.voters"] = props["controller.quorum.voters"]!.split(",").map((voter) => {
            const [id, hostPort] = voter.split("@");
            return `${id}@${controllerAddress(hostPort!.split(":")[0]!)}`;
        }).join(",");
        local["log.dirs"] = path.join(dataDir, node.name);
        return { node, properties: local, heapOpts: env.KAFKA_HEAP_OPTS!, listeners: own };
    });
}

/** The rendered nodes of a profile (laptop: one combined node; workstation: 3 controllers and 3 brokers). */
export function renderedKafka(profile: "laptop" | "workstation"): { node: KafkaNode; env: Record<string, string> }[] {
    const cfg = parseStackConfig({ "dataplatform:profile": profile }, "dataplatform", "engines");
    return kafkaNodeEnvs(cfg, "127.0.0.1");
}

export function writeProperties(file: string, properties: Record<string, string>): void {
    fs.writeFileSync(file, Object.entries(properties).map(([k, v]) => `${k}=${v}`).join("\n") + "\n");
}
