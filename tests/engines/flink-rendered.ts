/**
 * The Flink tier's rendered processes made runnable on 127.0.0.1. FLINK_PROPERTIES becomes
 * configuration the way the flink image's docker-entrypoint.sh makes it (flink-docker's 2.0
 * line, unchanged from 2.0.0 to 2.0.2), on top of the config.yaml the image's build leaves; the
 * SQL Gateway keeps the tier's command line and JVM_ARGS. Then the one documented substitution
 * (`localFlink`): host names, ports and paths to local ones. Every other option runs as the
 * product deploys it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseStackConfig, type ProfileName } from "../../components/config";
import { flinkProperties, flinkPropertiesText, flinkSettings, JOBMANAGER, sqlGatewayProcess } from "../../components/flink";
import { run } from "./lib";

/** Where the image keeps Flink; the tier's commands name scripts under it. */
const IMAGE_FLINK_HOME = "/opt/flink";

/**
 * The image's build edits the distribution's config.yaml with these bin/config-parser-utils.sh
 * arguments (flink-docker 2.0 Dockerfile, verbatim): servers on all interfaces, and no fixed
 * TaskManager address (a TaskManager finds its own).
 */
export const IMAGE_BUILD_EDITS: readonly string[] = [
    "-repKV", "rest.address,localhost,0.0.0.0",
    "-repKV", "rest.bind-address,localhost,0.0.0.0",
    "-repKV", "jobmanager.bind-host,localhost,0.0.0.0",
    "-repKV", "taskmanager.bind-host,localhost,0.0.0.0",
    "-rmKV", "taskmanager.host=localhost",
];

/**
 * Where a container's processes listen and write that the image leaves to config.yaml or to
 * Flink's defaults: all interfaces (the build's 0.0.0.0; 2.0.0's file has no rest.bind-address,
 * which means all), the file's RPC port, REST on 8081, scratch in /tmp. Listed so that the
 * substitution gives each a local value too.
 */
const IMAGE_IMPLICIT: Readonly<Record<string, string>> = {
    "jobmanager.bind-host": "0.0.0.0",
    "taskmanager.bind-host": "0.0.0.0",
    "rest.bind-address": "0.0.0.0",
    "jobmanager.rpc.port": "6123",
    "rest.port": "8081",
    "io.tmp.dirs": "/tmp",
    "web.tmpdir": "/tmp",
};

/** The only options `localFlink` changes, by what they hold. */
export const localKeys = {
    hosts: ["jobmanager.rpc.address", "rest.address", "rest.bind-address", "jobmanager.bind-host", "taskmanager.bind-host", "sql-gateway.endpoint.rest.address"],
    ports: ["jobmanager.rpc.port", "rest.port", "blob.server.port", "query.server.port", "sql-gateway.endpoint.rest.port"],
    dirs: ["io.tmp.dirs", "web.tmpdir"],
} as const;

/** GNU envsubst without arguments: `$NAME` and `${NAME}` become the variable's value, or nothing when it is unset. */
function envsubst(value: string, env: NodeJS.ProcessEnv): string {
    return value.replace(/\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)/g, (_, braced?: string, bare?: string) => env[(braced ?? bare)!] ?? "");
}

/**
 * docker-entrypoint.sh's process_flink_properties, line by line: every whitespace character
 * removed (`tr -d '[:space:]'` in the image's C locale); key and value split at the first ':'
 * by `IFS=':' read -r key value`, which also drops the value's trailing ':' when it is the
 * value's only one; the value through envsubst. A glob character is refused: the script's
 * unquoted `echo $prop` would expand it against the container's files.
 */
export function flinkPropertiesOptions(text: string, env: NodeJS.ProcessEnv): [string, string][] {
    const options: [string, string][] = [];
    for (const line of text.split("\n")) {
        const prop = line.replace(/[ \t\n\v\f\r]/g, "");
        if (!prop) continue;
        if (/[*?[]/.test(prop)) throw new Error(`FLINK_PROPERTIES line "${line}" has a glob character, which the entrypoint's unquoted echo would expand`);
        const colon = prop.indexOf(":");
        const key = colon < 0 ? prop : prop.slice(0, colon);
        let value = colon < 0 ? "" : prop.slice(colon + 1);
        if (/^[^:]*:$/.test(value)) value = value.slice(0, -1);
        options.push([key, envsubst(value, env)]);
    }
    return options;
}

/**
 * What docker-entrypoint.sh's prepare_configuration sets before it starts a process, later
 * settings winning as in its successive config-parser-utils.sh calls: its own (the JobManager
 * address defaults to the host name), then FLINK_PROPERTIES'.
 */
export function entrypointOptions(env: NodeJS.ProcessEnv, hostname: string): Record<string, string> {
    const own: [string, string][] = [
        ["jobmanager.rpc.address", env.JOB_MANAGER_RPC_ADDRESS || hostname],
        ["blob.server.port", "6124"],
        ["query.server.port", "6125"],
    ];
    if (env.TASK_MANAGER_NUMBER_OF_TASK_SLOTS) own.push(["taskmanager.numberOfTaskSlots", env.TASK_MANAGER_NUMBER_OF_TASK_SLOTS]);
    return Object.fromEntries([...own, ...(env.FLINK_PROPERTIES ? flinkPropertiesOptions(env.FLINK_PROPERTIES, env) : [])]);
}

export interface RenderedFlink {
    /** FLINK_PROPERTIES, as every Flink container of the tier gets it. */
    flinkProperties: string;
    checkpointsBucket: string;
    /** The SQL Gateway container's command and JVM_ARGS. */
    sqlGateway: { command: string[]; jvmArgs: string };
}

/**
 * What the Flink tier renders for a profile's stack (bucket names as configured by default)
 * on a path-style S3 store at `s3Endpoint`: MinIO on Docker, moto here.
 */
export function renderedFlink(profile: ProfileName, s3Endpoint: string): RenderedFlink {
    const cfg = parseStackConfig({ "dataplatform:profile": profile }, "dataplatform", "engines");
    const store = { checkpointsBucket: cfg.buckets.checkpoints, s3Endpoint, pathStyle: true, region: "us-east-1" };
    return {
        flinkProperties: flinkPropertiesText(flinkProperties(flinkSettings(cfg, store))),
        checkpointsBucket: store.checkpointsBucket,
        sqlGateway: sqlGatewayProcess(cfg),
    };
}

/** What the image's processes run with: the config options they all read, and the gateway's command. */
export interface FlinkProcesses {
    config: Record<string, string>;
    gatewayCommand: string[];
}

/** The rendered tier as the image runs it, on a host named `hostname` with the container environment `env`. */
export function imageFlink(rendered: RenderedFlink, env: NodeJS.ProcessEnv, hostname: string): FlinkProcesses {
    return {
        config: { ...IMAGE_IMPLICIT, ...entrypointOptions({ ...env, FLINK_PROPERTIES: rendered.flinkProperties }, hostname) },
        gatewayCommand: rendered.sqlGateway.command,
    };
}

export interface LocalPlace {
    /** A free port for each of `localKeys.ports`. */
    ports: Record<string, number>;
    /** This run's scratch folder. */
    tmpDir: string;
    /** The FLINK_HOME the processes run from. */
    flinkHome: string;
}

/**
 * THE substitution. Host options become 127.0.0.1 (also the bind addresses: loopback only on a
 * shared machine), port options free ports, scratch dirs this run's folder, and the image's
 * FLINK_HOME in the gateway's command the local one; the gateway's `-D` flags get the same
 * treatment as the config. Every other option passes unchanged. A JobManager service name left
 * anywhere, or whitespace in a value (Flink's config tool would split it), is an error.
 */
export function localFlink(image: FlinkProcesses, place: LocalPlace): FlinkProcesses {
    const local = (key: string, value: string): string => {
        if ((localKeys.hosts as readonly string[]).includes(key)) return "127.0.0.1";
        if ((localKeys.dirs as readonly string[]).includes(key)) return place.tmpDir;
        if (!(localKeys.ports as readonly string[]).includes(key)) return value;
        const port = place.ports[key];
        if (port === undefined) throw new Error(`no local port for ${key}`);
        return String(port);
    };
    const config = Object.fromEntries(Object.entries(image.config).map(([key, value]) => [key, local(key, value)]));
    const [script, ...args] = image.gatewayCommand;
    const gatewayCommand = [
        script!.startsWith(`${IMAGE_FLINK_HOME}/`) ? path.join(place.flinkHome, script!.slice(IMAGE_FLINK_HOME.length + 1)) : script!,
        ...args.map((arg) => {
            const flag = /^-D([^=]+)=(.*)$/.exec(arg);
            return flag ? `-D${flag[1]}=${local(flag[1]!, flag[2]!)}` : arg;
        }),
    ];
    for (const [key, value] of Object.entries(config)) {
        if (value.includes(JOBMANAGER) || /\s/.test(value)) throw new Error(`local Flink option ${key} = "${value}" is not runnable here`);
    }
    const stray = gatewayCommand.find((arg) => arg.includes(JOBMANAGER));
    if (stray) throw new Error(`local SQL Gateway argument ${stray} still names the JobManager's service`);
    return { config, gatewayCommand };
}

/** bin/config-parser-utils.sh, the tool the image edits its config.yaml with, on `confDir`'s config.yaml. */
export async function configParserUtils(home: string, confDir: string, args: readonly string[]): Promise<void> {
    await run("bash", [path.join(home, "bin", "config-parser-utils.sh"), confDir, path.join(home, "bin"), path.join(home, "lib"), ...args]);
}

/** Writes `options` into a copy of the home's config.yaml, as the entrypoint writes them into the container's. */
export async function writeFlinkConfig(home: string, confDir: string, options: Record<string, string>): Promise<void> {
    fs.copyFileSync(path.join(home, "conf", "config.yaml"), path.join(confDir, "config.yaml"));
    await configParserUtils(home, confDir, Object.entries(options).map(([key, value]) => `-D${key}=${value}`));
}
