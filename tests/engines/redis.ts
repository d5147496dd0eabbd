/**
 * Redis as the Superset tier's cache, from Debian's `redis-server` package (`.ci/run` installs it;
 * redis-cli comes with it, in redis-tools), running the service the tier renders
 * (`supersetRedisService`, laptop profile): the same shell command with its password from
 * REDIS_PASSWORD, maxmemory, eviction policy and no persistence, and the same health check.
 * `localRedis` is the one documented substitution: port, bind address and data folder.
 *
 * Exception: the product runs the redis image at versions.redis (7.4.5); Debian 12 ships 7.0.15.
 * The engine reports the version it runs (`redis-server --version`), not the pinned one. The
 * rendered flags and what Superset uses (AUTH, numbered databases, GET/SET with expiry, the rate
 * limiter's Lua scripts) are the same in both.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { parseStackConfig } from "../../components/config";
import { supersetRedis, supersetRedisService } from "../../components/superset";
import type { ServiceSpec } from "../../components/platform/types";
import type { Engine, EngineHandle } from "./types";
import { freePort, run, sleep, spawnDetached, waitUntil } from "./lib";

const SERVER = "/usr/bin/redis-server";

/** The rendered spec for the laptop profile, with this run's password. */
function renderedSpec(password: string): Omit<ServiceSpec, "dependsOn"> {
    return supersetRedisService(parseStackConfig({}, "dataplatform", "engines"), password);
}

/** The `sh -c` script of a rendered command, checked to be what `localRedis` knows how to change. */
function shellScript(command: string[] | undefined, starts: string): string {
    const [sh, flag, script] = command ?? [];
    if (sh !== "sh" || flag !== "-c" || !script?.startsWith(starts)) throw new Error(`expected sh -c "${starts}...", got ${JSON.stringify(command)}`);
    return script;
}

/**
 * THE substitution. The container's redis-server listens on every interface at 6379 with /data
 * as its folder; here it gets a free port on 127.0.0.1 and the work dir (appended flags: Redis
 * lets a later flag set what the command did not). The health check's redis-cli is pointed at
 * that port, as it reached the default port inside the container.
 */
export function localRedis(spec: Omit<ServiceSpec, "dependsOn">, port: number, dir: string): { command: string[]; health: string[] } {
    const server = shellScript(spec.command, "exec redis-server ");
    const health = shellScript(spec.health.command, "");
    if (health.split(" redis-cli ").length !== 2) throw new Error(`expected one redis-cli call in the health check: ${health}`);
    return {
        command: ["sh", "-c", `${server} --port ${port} --bind 127.0.0.1 --dir '${dir}'`],
        health: ["sh", "-c", health.replace(" redis-cli ", ` redis-cli -h 127.0.0.1 -p ${port} `)],
    };
}

export const redis: Engine = {
    name: "redis",
    dependsOn: [],

    async install() {
        if (!fs.existsSync(SERVER)) throw new Error(`no ${SERVER}: install Debian's redis-server (apt-get install redis-server, as .ci/run does)`);
    },

    async start(ctx): Promise<EngineHandle> {
        const started = Date.now();
        const version = /\bv=(\d+\.\d+\.\d+)/.exec(await run(SERVER, ["--version"]))?.[1];
        if (!version) throw new Error(`${SERVER} --version: no version`);
        const password = randomBytes(24).toString("base64url");
        const spec = renderedSpec(password);
        const port = await freePort();
        const local = localRedis(spec, port, ctx.workDir);
        const env = { ...process.env, ...spec.env, ...spec.secretEnv } as NodeJS.ProcessEnv;
        const logFile = `${ctx.workDir}/redis.log`;
        const pid = spawnDetached(local.command[0]!, local.command.slice(1), { env, cwd: ctx.workDir, logFile });
        await waitUntil(`redis on 127.0.0.1:${port} (the rendered health check)`, () => run(local.health[0]!, local.health.slice(1), { env }).then(() => true), {
            pid, logFile, timeoutMs: 30_000, intervalMs: 200,
        });
        const address = `127.0.0.1:${port}`;
        ctx.log(`redis ${version} on ${address} (the product pins ${ctx.versions.redis})`);
        return {
            name: "redis",
            version,
            // By service name, so a consumer swaps `superset-redis:6379` for the address.
            endpoints: { [supersetRedis.name]: address },
            details: { password },
            pids: [pid],
            logFiles: [logFile],
            startSeconds: (Date.now() - started) / 1000,
        };
    },
};

/**
 * A rendered string with the cache's platform address (`superset-redis:6379`) swapped for the
 * test server's: the consumers' one substitution for their Redis connection.
 */
export function localRedisAddress(handle: EngineHandle, rendered: string): string {
    const address = handle.endpoints[supersetRedis.name];
    if (!address) throw new Error(`redis engine has no server for ${supersetRedis.name}`);
    const platform = `${supersetRedis.name}:${supersetRedis.port}`;
    if (!rendered.includes(platform)) throw new Error(`the rendered text does not name ${platform}`);
    return rendered.split(platform).join(address);
}

/** The password the engine gave Redis this run. */
export function redisPassword(handle: EngineHandle): string {
    const password = handle.details.password;
    if (!password) throw new Error("redis engine has no password");
    return password;
}

/**
 * One command to the engine's Redis, in database `db`, through redis-cli with the password from
 * the environment, as the tier's health check passes it (`password` defaults to the engine's).
 * Returns the reply lines (an empty value is an empty line); an error reply is a line too
 * (redis-cli exits 0 on those).
 */
export async function redisCommand(handle: EngineHandle, options: { db: number; password?: string }, ...args: string[]): Promise<string[]> {
    const [host, port] = handle.endpoints[supersetRedis.name]!.split(":");
    const out = await run("redis-cli", ["-h", host!, "-p", port!, "-n", String(options.db), ...args], {
        env: { ...process.env, REDISCLI_AUTH: options.password ?? redisPassword(handle) },
    });
    return out.replace(/\n$/, "").split("\n");
}

/** A command Redis executed, as MONITOR shows it: the database it ran in, and its words. */
export interface SeenCommand { db: number; args: string[] }

/**
 * Runs `fn` while redis-cli MONITOR watches the engine's Redis; returns what `fn` returned and
 * every command Redis executed meanwhile (commands run inside Lua scripts included).
 */
export async function watchRedis<T>(handle: EngineHandle, fn: () => Promise<T>): Promise<{ result: T; seen: SeenCommand[] }> {
    const [host, port] = handle.endpoints[supersetRedis.name]!.split(":");
    const monitor = spawn("redis-cli", ["-h", host!, "-p", port!, "monitor"], {
        env: { ...process.env, REDISCLI_AUTH: redisPassword(handle) },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    monitor.stdout.on("data", (chunk) => { out += chunk; });
    try {
        await waitUntil("redis-cli monitor started", () => out.startsWith("OK\n"), { timeoutMs: 10_000, intervalMs: 20 });
        const result = await fn();
        // MONITOR streams: give the last commands a moment to arrive.
        await sleep(300);
        return { result, seen: out.split("\n").flatMap(parseMonitorLine) };
    } finally {
        monitor.kill();
    }
}

/** `1795724081.408880 [4 127.0.0.1:53176] "SET" "key" "value"` (or `[4 lua]`): the database and the quoted words. */
function parseMonitorLine(line: string): SeenCommand[] {
    const match = /^\d+\.\d+ \[(\d+) [^\]]+\] (.*)$/.exec(line);
    if (!match) return [];
    const args = [...match[2]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
    return [{ db: Number(match[1]), args }];
}
