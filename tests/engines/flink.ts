/**
 * Flink as a standalone session cluster (one JobManager, one TaskManager) plus the SQL Gateway,
 * three JVMs on 127.0.0.1. The distribution comes from PyPI: apache-flink-libraries carries
 * lib/ (flink-dist, the table planner) and apache-flink carries bin/ and conf/; both install
 * into one `pyflink` folder, which is a complete FLINK_HOME. What the wheels lack comes from
 * Maven Central: the SQL Gateway jar (opt/) and the connector jars of jars/manifest.ts (lib/),
 * the same list (and SHA-256s) the Docker Flink image bakes in.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { coordinate, fileName, flinkLibJars } from "../../jars/manifest";
import { sha256File } from "../../jars/verify";
import type { Engine, EngineContext } from "./types";
import { cacheRoot, freePort, hashKey, mvnCopy, run, spawnDetached, waitForHttp, waitUntil } from "./lib";

/** Small enough for a 2-core, shared CI box; 4 slots so a streaming job and batch jobs fit together. */
const JOBMANAGER_MEMORY = "1024m";
const TASKMANAGER_MEMORY = "1536m";
const TASK_SLOTS = 4;

function gatewayJar(ctx: EngineContext): string {
    return `org.apache.flink:flink-sql-gateway:${ctx.versions.flink}`;
}

/** Keyed by version and jar list: a changed manifest gets a fresh home instead of stale jars in lib/. */
function flinkHome(ctx: EngineContext): string {
    const key = hashKey([ctx.versions.flink, gatewayJar(ctx), ...flinkLibJars.map(coordinate)]);
    return path.join(ctx.cacheDir, `flink-${ctx.versions.flink}-${key}`, "pyflink");
}

/** The JVM flags (--add-opens for Java 17) the distribution's own config.yaml sets; kept in sync by reading them. */
function shippedJavaOpts(home: string): string {
    const shipped = fs.readFileSync(path.join(home, "conf", "config.yaml"), "utf8");
    const match = /^\s+all:\s*(--add-\S.*)$/m.exec(shipped);
    if (!match) throw new Error(`no env.java.opts.all in ${home}/conf/config.yaml`);
    return match[1]!.trim();
}

export const flink: Engine = {
    name: "flink",
    // Like the containers, the Flink processes carry their S3 identity in the AWS variables.
    dependsOn: ["s3"],

    async install(ctx) {
        const home = flinkHome(ctx);
        const root = path.dirname(home);
        if (fs.existsSync(path.join(root, ".installed"))) return;

        // Build in a side folder and rename at the end, so an interrupted install is never mistaken for a good one.
        const partial = `${root}.partial`;
        fs.rmSync(partial, { recursive: true, force: true });
        const v = ctx.versions.flink;
        // --no-deps: only the Java distribution is wanted, not PyFlink's Python dependencies.
        await run(process.env.ENGINES_PYTHON ?? "python3", [
            "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
            "--target", partial, `apache-flink==${v}`, `apache-flink-libraries==${v}`,
        ], { env: { ...process.env, PIP_CACHE_DIR: path.join(cacheRoot(), "pip") } });
        const partialHome = path.join(partial, "pyflink");
        for (const script of fs.readdirSync(path.join(partialHome, "bin"))) {
            fs.chmodSync(path.join(partialHome, "bin", script), 0o755); // wheels drop the exec bit
        }
        await mvnCopy([gatewayJar(ctx)], path.join(partialHome, "opt"), { transitive: false });
        await mvnCopy(flinkLibJars.map(coordinate), path.join(partialHome, "lib"), { transitive: false });
        // The same bytes the Docker image bakes in, or no Flink at all.
        for (const jar of flinkLibJars) {
            const actual = sha256File(path.join(partialHome, "lib", fileName(jar)));
            if (actual !== jar.sha256) throw new Error(`${coordinate(jar)}: SHA-256 ${actual}, jars/manifest.ts says ${jar.sha256}`);
        }

        fs.rmSync(root, { recursive: true, force: true });
        fs.renameSync(partial, root);
        fs.writeFileSync(path.join(root, ".installed"), `${gatewayJar(ctx)}\n${flinkLibJars.map(coordinate).join("\n")}\n`);
    },

    async start(ctx) {
        const started = Date.now();
        const home = flinkHome(ctx);
        const [restPort, rpcPort, gatewayPort] = [await freePort(), await freePort(), await freePort()];
        const rest = `http://127.0.0.1:${restPort}`;
        const gateway = `http://127.0.0.1:${gatewayPort}`;

        // Everything this run writes stays in workDir: config, logs, pid files, spill and upload dirs.
        const dirs = Object.fromEntries(["conf", "log", "tmp", "pid"].map((d) => [d, path.join(ctx.workDir, d)]));
        Object.values(dirs).forEach((d) => fs.mkdirSync(d, { recursive: true }));
        // start-foreground logs to the console through this file; the console lands in our log files.
        fs.copyFileSync(path.join(home, "conf", "log4j-console.properties"), path.join(dirs.conf!, "log4j-console.properties"));
        const config: Record<string, string | number> = {
            "env.java.opts.all": shippedJavaOpts(home),
            "jobmanager.rpc.address": "127.0.0.1",
            "jobmanager.rpc.port": rpcPort,
            "jobmanager.bind-host": "127.0.0.1",
            "jobmanager.memory.process.size": JOBMANAGER_MEMORY,
            "taskmanager.host": "127.0.0.1",
            "taskmanager.bind-host": "127.0.0.1",
            "taskmanager.memory.process.size": TASKMANAGER_MEMORY,
            "taskmanager.numberOfTaskSlots": TASK_SLOTS,
            "parallelism.default": 1,
            // The SQL Gateway reads the same file: rest.address/port is where it submits jobs.
            "rest.address": "127.0.0.1",
            "rest.bind-address": "127.0.0.1",
            "rest.port": restPort,
            "io.tmp.dirs": dirs.tmp!,
            "web.tmpdir": dirs.tmp!,
        };
        fs.writeFileSync(path.join(dirs.conf!, "config.yaml"),
            Object.entries(config).map(([k, value]) => `${k}: ${value}`).join("\n") + "\n");

        const s3 = ctx.running.s3!.details;
        const env = {
            ...process.env,
            FLINK_CONF_DIR: dirs.conf,
            FLINK_LOG_DIR: dirs.log,
            FLINK_PID_DIR: dirs.pid,
            // Read by S3FileIO through the default credential chain, as in the Flink containers.
            AWS_ACCESS_KEY_ID: s3.accessKeyId,
            AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
            AWS_REGION: s3.region,
        };
        // start-foreground execs the JVM, so each pid is the JVM itself (the daemon mode would fork it away).
        const spawn = (script: string, args: string[], logName: string) => {
            const logFile = path.join(ctx.workDir, logName);
            return { logFile, pid: spawnDetached(path.join(home, "bin", script), ["start-foreground", ...args], { env, logFile }) };
        };
        const jobmanager = spawn("jobmanager.sh", [], "jobmanager.log");
        const taskmanager = spawn("taskmanager.sh", [], "taskmanager.log");
        const sqlGateway = spawn("sql-gateway.sh", [
            "-Dsql-gateway.endpoint.rest.address=127.0.0.1", `-Dsql-gateway.endpoint.rest.port=${gatewayPort}`,
        ], "sql-gateway.log");

        // JobManager first (so its death shows its own log), then the TaskManager's registration.
        await waitForHttp(`${rest}/overview`, { pid: jobmanager.pid, logFile: jobmanager.logFile, timeoutMs: 180_000, intervalMs: 500 });
        await waitUntil("flink TaskManager registered", async () => {
            const overview = await (await fetch(`${rest}/overview`)).json() as { taskmanagers: number };
            return overview.taskmanagers >= 1;
        }, { pid: taskmanager.pid, logFile: taskmanager.logFile, timeoutMs: 180_000, intervalMs: 500 });
        await waitForHttp(`${gateway}/v1/info`, { pid: sqlGateway.pid, logFile: sqlGateway.logFile, timeoutMs: 120_000 });
        ctx.log(`flink ${ctx.versions.flink}: REST ${rest}, SQL gateway ${gateway}`);

        return {
            name: "flink",
            version: ctx.versions.flink,
            endpoints: { rest, gateway },
            details: { flinkHome: home, confDir: dirs.conf! },
            pids: [sqlGateway.pid, taskmanager.pid, jobmanager.pid],
            logFiles: [jobmanager.logFile, taskmanager.logFile, sqlGateway.logFile],
            startSeconds: (Date.now() - started) / 1000,
        };
    },
};
