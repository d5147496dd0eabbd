/**
 * Small helpers shared by every engine module: where the cache lives, starting and stopping
 * process groups, waiting for health, and idempotent installs from Maven Central and PyPI.
 */
import { spawn, type SpawnOptions } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { stateFile } from "./state";

/** Downloads, jars and virtualenvs live outside the repo so that a fresh clone reuses them. */
export function cacheRoot(): string {
    return process.env.ENGINES_CACHE ?? path.join(os.homedir(), ".cache", "netflix-data-platform");
}

/** The Maven local repository the harness uses (inside the cache, so one folder holds everything). */
export function mavenRepo(): string {
    return path.join(cacheRoot(), "maven-repo");
}

/** Short stable key for a list of strings (requirements, coordinates) to name cache entries. */
export function hashKey(parts: readonly string[]): string {
    return createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 12);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A port the OS reports free on 127.0.0.1 right now (the small race before use is accepted). */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

export interface SpawnDetachedOptions {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    /** stdout and stderr are appended here (the engine's workDir). */
    logFile: string;
}

/**
 * Every process group started through spawnDetached, by this process or by a test (mocha runs
 * with the same ENGINES_STATE), is appended here with its kernel start time. `down` stops them
 * all, so nothing survives an engine that failed mid-start or a Ctrl-C during a restart test.
 */
function pidLedger(): string {
    return path.join(path.dirname(stateFile()), "spawned.pids");
}

/**
 * The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses):
 * index 0 is the stat's field 3. Undefined once the process is gone.
 */
export function procStat(pid: number): string[] | undefined {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    } catch {
        return undefined;
    }
}

/** Start time of a process in clock ticks (/proc/<pid>/stat field 22): tells a reused pid apart. */
function processStartTime(pid: number): string | undefined {
    return procStat(pid)?.[19];
}

/**
 * Process groups from the ledger that still exist and are ours: the leader is the process that
 * was started, or it exited and left children behind (Linux does not hand out a pid that is
 * still some group's id, so that group is still ours).
 */
export function spawnedPids(): number[] {
    if (!fs.existsSync(pidLedger())) return [];
    return fs.readFileSync(pidLedger(), "utf8").split("\n").filter(Boolean)
        .map((line) => line.split(" "))
        .filter(([pid, start]) => {
            const now = processStartTime(Number(pid));
            return isAlive(Number(pid)) && (now === start || now === undefined);
        })
        .map(([pid]) => Number(pid));
}

/** Stops whatever the ledger still names, then forgets it. */
export async function stopSpawned(): Promise<void> {
    await stopPids(spawnedPids());
    fs.rmSync(pidLedger(), { force: true });
}

/**
 * Starts a long-running server as the leader of its own process group, so `stopPids` can stop
 * it with everything it forked, and a Ctrl-C in the terminal does not reach it before the
 * harness has a chance to stop it in order. Returns the pid (= process group id).
 */
export function spawnDetached(cmd: string, args: string[], options: SpawnDetachedOptions): number {
    fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
    const out = fs.openSync(options.logFile, "a");
    fs.writeSync(out, `\n# ${new Date().toISOString()} ${cmd} ${args.join(" ")}\n`);
    const child = spawn(cmd, args, {
        cwd: options.cwd,
        env: options.env ?? process.env,
        detached: true,
        stdio: ["ignore", out, out],
    });
    fs.closeSync(out);
    if (child.pid === undefined) throw new Error(`could not start ${cmd}: see ${options.logFile}`);
    child.on("error", () => undefined); // a failed exec shows up as a dead pid in the waits
    child.unref();
    fs.mkdirSync(path.dirname(pidLedger()), { recursive: true });
    fs.appendFileSync(pidLedger(), `${child.pid} ${processStartTime(child.pid) ?? "?"}\n`);
    return child.pid;
}

/** True while any process of the group `pid` exists (an unreaped zombie counts; Node reaps its own children). */
export function isAlive(pid: number): boolean {
    try {
        process.kill(-pid, 0);
        return true;
    } catch {
        return false;
    }
}

/** The last `lines` lines of a log, for error messages. */
export function tailLog(file: string, lines = 40): string {
    try {
        const text = fs.readFileSync(file, "utf8").trimEnd().split("\n");
        return text.slice(-lines).join("\n");
    } catch {
        return `(no log at ${file})`;
    }
}

export interface WaitOptions {
    timeoutMs?: number;
    intervalMs?: number;
    /** Fail fast, with the log tail, if this process group dies while we wait. */
    pid?: number;
    logFile?: string;
    /** What the engine was doing, from its own API, added to a timeout's error so the failure explains itself. */
    diagnose?: () => Promise<string> | string;
}

type Maybe<T> = T | undefined | null | false;

/** Thrown by a wait's check when waiting longer cannot help (a task FAILED): the wait ends at once. */
export class GiveUp extends Error {}

/** Polls `check` until it returns a truthy value; errors thrown by `check` count as "not yet", but for GiveUp. */
export async function waitUntil<T>(what: string, check: () => Promise<Maybe<T>> | Maybe<T>, options: WaitOptions = {}): Promise<T> {
    const { timeoutMs = 120_000, intervalMs = 250 } = options;
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
        try {
            const value = await check();
            if (value) return value;
        } catch (error) {
            if (error instanceof GiveUp) throw new Error(`${what}: ${error.message}${await diagnosis(options.diagnose)}`);
            lastError = error;
        }
        if (options.pid !== undefined && !isAlive(options.pid)) {
            throw new Error(`${what}: process ${options.pid} exited${logTail(options.logFile)}`);
        }
        if (Date.now() > deadline) {
            const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
            throw new Error(`${what}: not ready after ${timeoutMs} ms${reason}${await diagnosis(options.diagnose)}${logTail(options.logFile)}`);
        }
        await sleep(intervalMs);
    }
}

async function diagnosis(diagnose: WaitOptions["diagnose"]): Promise<string> {
    if (!diagnose) return "";
    try {
        return `\n--- engine state ---\n${await diagnose()}`;
    } catch (error) {
        return `\n--- engine state unavailable: ${error instanceof Error ? error.message : String(error)} ---`;
    }
}

function logTail(file: string | undefined): string {
    return file ? `\n--- ${file} (tail) ---\n${tailLog(file)}` : "";
}

/** Waits until `url` answers with `okStatus` (default: any 2xx). */
export function waitForHttp(
    url: string,
    options: WaitOptions & { okStatus?: number | ((status: number) => boolean) } = {},
): Promise<Response> {
    const ok = options.okStatus ?? ((status: number) => status >= 200 && status < 300);
    const accepts = typeof ok === "number" ? (status: number) => status === ok : ok;
    return waitUntil(`GET ${url}`, async () => {
        const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
        await response.arrayBuffer(); // drain, so the socket is released
        return accepts(response.status) ? response : undefined;
    }, options);
}

/** Waits until something accepts TCP connections on host:port. */
export function waitForTcp(host: string, port: number, options: WaitOptions = {}): Promise<true> {
    return waitUntil(`tcp ${host}:${port}`, () => new Promise<true>((resolve, reject) => {
        const socket = net.connect({ host, port });
        socket.setTimeout(2_000, () => socket.destroy(new Error("connect timeout")));
        socket.once("connect", () => { socket.end(); resolve(true); });
        socket.once("error", reject);
    }), options);
}

/** SIGTERM each process group, then SIGKILL whatever is still there after `graceMs`. */
export async function stopPids(pids: readonly number[], graceMs = 15_000): Promise<void> {
    const signal = (pid: number, sig: NodeJS.Signals) => {
        try { process.kill(-pid, sig); } catch { /* already gone */ }
    };
    pids.forEach((pid) => signal(pid, "SIGTERM"));
    const deadline = Date.now() + graceMs;
    while (pids.some(isAlive) && Date.now() < deadline) await sleep(200);
    pids.filter(isAlive).forEach((pid) => signal(pid, "SIGKILL"));
    while (pids.some(isAlive) && Date.now() < deadline + 5_000) await sleep(100);
}

/** Runs a command to completion; throws with its output when it fails. Returns stdout. */
export function run(cmd: string, args: string[], options: SpawnOptions & { input?: string } = {}): Promise<string> {
    const { input, ...spawnOptions } = options;
    return new Promise((resolve, reject) => {
        // `input`, when given, is the command's stdin (PostgreSQL's single-user mode reads its statements there).
        const child = spawn(cmd, args, { ...spawnOptions, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
        child.stdin?.end(input);
        let stdout = "";
        let stderr = "";
        child.stdout?.on("data", (chunk) => { stdout += chunk; });
        child.stderr?.on("data", (chunk) => { stderr += chunk; });
        child.on("error", reject);
        child.on("close", (code) => {
            if (code === 0) resolve(stdout);
            else reject(new Error(`${cmd} ${args.join(" ")} exited ${code}\n${(stdout + stderr).slice(-4000)}`));
        });
    });
}

/**
 * Copies Maven artifacts (`group:artifact:version[:type[:classifier]]`) into `destDir`, with
 * their runtime dependencies unless `transitive` is false. A tiny generated pom carries the
 * list; a marker file keyed by the list makes a second call free.
 */
export async function mvnCopy(coordinates: readonly string[], destDir: string, options: { transitive?: boolean } = {}): Promise<void> {
    const transitive = options.transitive ?? true;
    const key = hashKey([...coordinates, `transitive=${transitive}`]);
    const marker = path.join(destDir, `.mvn-copy-${key}`);
    if (fs.existsSync(marker)) return;

    const dependencies = coordinates.map((coordinate) => {
        const [groupId, artifactId, version, type, classifier] = coordinate.split(":");
        if (!groupId || !artifactId || !version) throw new Error(`bad Maven coordinate ${coordinate}`);
        return [
            "<dependency>",
            `<groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${version}</version>`,
            type ? `<type>${type}</type>` : "",
            classifier ? `<classifier>${classifier}</classifier>` : "",
            "</dependency>",
        ].join("");
    });
    const pomDir = fs.mkdtempSync(path.join(os.tmpdir(), "mvn-copy-"));
    fs.writeFileSync(path.join(pomDir, "pom.xml"), `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.engines</groupId><artifactId>copy</artifactId><version>0</version><packaging>pom</packaging>
  <dependencies>${dependencies.join("\n")}</dependencies>
</project>
`);
    fs.mkdirSync(destDir, { recursive: true });
    try {
        await run("mvn", [
            "-q", "-B", `-Dmaven.repo.local=${mavenRepo()}`, "-f", path.join(pomDir, "pom.xml"),
            "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
            `-DoutputDirectory=${destDir}`, "-DincludeScope=runtime", `-DexcludeTransitive=${!transitive}`,
        ]);
    } finally {
        fs.rmSync(pomDir, { recursive: true, force: true });
    }
    fs.writeFileSync(marker, coordinates.join("\n") + "\n");
}

/**
 * A virtualenv under the cache with exactly `requirements` installed; keyed by the list, so a
 * changed pin gets a new venv and an unchanged one costs nothing. Returns the venv folder
 * (executables are in `<venv>/bin`). Python is `ENGINES_PYTHON` or `python3`.
 */
export async function pipVenv(name: string, requirements: readonly string[]): Promise<string> {
    const venv = path.join(cacheRoot(), "venvs", `${name}-${hashKey(requirements)}`);
    const marker = path.join(venv, ".installed");
    if (fs.existsSync(marker)) return venv;

    fs.rmSync(venv, { recursive: true, force: true }); // a half-made venv from an interrupted run
    await run(process.env.ENGINES_PYTHON ?? "python3", ["-m", "venv", venv]);
    await run(path.join(venv, "bin", "pip"), ["install", "-q", "--disable-pip-version-check", ...requirements], {
        env: { ...process.env, PIP_CACHE_DIR: path.join(cacheRoot(), "pip") },
    });
    fs.writeFileSync(marker, requirements.join("\n") + "\n");
    return venv;
}

/** The JDK the engines run on: `$JAVA_HOME/bin/java` when set, else `java` from PATH (Java 17 here). */
export function javaBin(): string {
    return process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, "bin", "java") : "java";
}
