/**
 * Flink as a standalone session cluster (one JobManager, one TaskManager) plus the SQL Gateway,
 * three JVMs on 127.0.0.1, running what the Flink tier renders for the laptop profile
 * (flink-rendered.ts): the same FLINK_PROPERTIES (memory, slots, checkpoints to S3, restart
 * strategy), read the way the image reads them; only hosts, ports and paths are local.
 *
 * The distribution comes from PyPI: apache-flink-libraries carries lib/ (flink-dist, the table
 * planner) and apache-flink carries bin/ and conf/; both install into one `pyflink` folder, which
 * is a complete FLINK_HOME. What the wheels lack comes from Maven Central: the SQL Gateway jar and
 * the S3 filesystem (opt/), and the connector jars of jars/manifest.ts (lib/), the same list (and
 * SHA-256s) the Docker Flink image bakes in. The install then does what the image's build does:
 * edits conf/config.yaml, and puts the S3 filesystem into plugins/ (components/flink/Dockerfile).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { coordinate, fileName, flinkLibJars } from "../../jars/manifest";
import { sha256File } from "../../jars/verify";
import type { Engine, EngineContext } from "./types";
import { configParserUtils, IMAGE_BUILD_EDITS, imageFlink, localFlink, localKeys, renderedFlink, writeFlinkConfig } from "./flink-rendered";
import { cacheRoot, freePort, hashKey, mvnCopy, run, spawnDetached, waitForHttp, waitUntil } from "./lib";

function gatewayJar(ctx: EngineContext): string {
    return `org.apache.flink:flink-sql-gateway:${ctx.versions.flink}`;
}

function s3PluginJar(ctx: EngineContext): string {
    return `org.apache.flink:flink-s3-fs-hadoop:${ctx.versions.flink}`;
}

/** Keyed by version, jar list and build edits: a changed manifest gets a fresh home instead of stale jars in lib/. */
function flinkHome(ctx: EngineContext): string {
    const key = hashKey([ctx.versions.flink, gatewayJar(ctx), s3PluginJar(ctx), ...flinkLibJars.map(coordinate), ...IMAGE_BUILD_EDITS]);
    return path.join(ctx.cacheDir, `flink-${ctx.versions.flink}-${key}`, "pyflink");
}

export const flink: Engine = {
    name: "flink",
    // Checkpoints go to a bucket on it, and the processes carry their S3 identity in the AWS variables as the containers do.
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
        const opt = path.join(partialHome, "opt");
        await mvnCopy([gatewayJar(ctx), s3PluginJar(ctx)], opt, { transitive: false });
        await mvnCopy(flinkLibJars.map(coordinate), path.join(partialHome, "lib"), { transitive: false });
        // The same bytes the Docker image bakes in, or no Flink at all.
        for (const jar of flinkLibJars) {
            const actual = sha256File(path.join(partialHome, "lib", fileName(jar)));
            if (actual !== jar.sha256) throw new Error(`${coordinate(jar)}: SHA-256 ${actual}, jars/manifest.ts says ${jar.sha256}`);
        }
        // What the image's build does: Flink loads a filesystem only from its own folder under plugins/ ...
        const plugin = path.join(partialHome, "plugins", "s3-fs-hadoop");
        fs.mkdirSync(plugin, { recursive: true });
        for (const jar of fs.readdirSync(opt).filter((f) => /^flink-s3-fs-hadoop-.*\.jar$/.test(f))) {
            fs.copyFileSync(path.join(opt, jar), path.join(plugin, jar));
        }
        // ... and config.yaml gets the upstream image's edits, so each run starts from the image's file.
        await configParserUtils(partialHome, path.join(partialHome, "conf"), IMAGE_BUILD_EDITS);

        fs.rmSync(root, { recursive: true, force: true });
        fs.renameSync(partial, root);
        fs.writeFileSync(path.join(root, ".installed"), `${[gatewayJar(ctx), s3PluginJar(ctx), ...flinkLibJars.map(coordinate)].join("\n")}\n`);
    },

    async start(ctx) {
        const started = Date.now();
        const home = flinkHome(ctx);
        const s3 = ctx.running.s3!;
        const rendered = renderedFlink("laptop", s3.endpoints.url!);

        // Everything this run writes stays in workDir: config, logs, pid files, spill and upload dirs.
        const dirs = Object.fromEntries(["conf", "log", "tmp", "pid"].map((d) => [d, path.join(ctx.workDir, d)]));
        Object.values(dirs).forEach((d) => fs.mkdirSync(d, { recursive: true }));
        // start-foreground logs to the console through this file; the console lands in our log files.
        fs.copyFileSync(path.join(home, "conf", "log4j-console.properties"), path.join(dirs.conf!, "log4j-console.properties"));
        const env = {
            ...process.env,
            FLINK_CONF_DIR: dirs.conf,
            FLINK_LOG_DIR: dirs.log,
            FLINK_PID_DIR: dirs.pid,
            // As in the containers: the S3 filesystem (checkpoints) and S3FileIO (Iceberg) find their keys here.
            AWS_ACCESS_KEY_ID: s3.details.accessKeyId,
            AWS_SECRET_ACCESS_KEY: s3.details.secretAccessKey,
            AWS_REGION: s3.details.region,
        };

        const ports: Record<string, number> = {};
        for (const key of localKeys.ports) ports[key] = await freePort();
        const local = localFlink(imageFlink(rendered, env, os.hostname()), { ports, tmpDir: dirs.tmp!, flinkHome: home });
        await writeFlinkConfig(home, dirs.conf!, local.config);
        const rest = `http://${local.config["rest.address"]}:${local.config["rest.port"]}`;
        const gateway = `http://127.0.0.1:${ports["sql-gateway.endpoint.rest.port"]}`;

        // The bucket exists before the stack's Flink starts (the object store tier makes it), so here too.
        const client = new S3Client({ endpoint: s3.endpoints.url, region: s3.details.region, forcePathStyle: true,
            credentials: { accessKeyId: s3.details.accessKeyId!, secretAccessKey: s3.details.secretAccessKey! } });
        await client.send(new CreateBucketCommand({ Bucket: rendered.checkpointsBucket }));
        client.destroy();

        // start-foreground execs the JVM, so each pid is the JVM itself (the daemon mode would fork it away).
        const spawn = (script: string, args: string[], logName: string, extraEnv: Record<string, string> = {}) => {
            const logFile = path.join(ctx.workDir, logName);
            return { logFile, pid: spawnDetached(script, args, { env: { ...env, ...extraEnv }, logFile }) };
        };
        const jobmanager = spawn(path.join(home, "bin", "jobmanager.sh"), ["start-foreground"], "jobmanager.log");
        const taskmanager = spawn(path.join(home, "bin", "taskmanager.sh"), ["start-foreground"], "taskmanager.log");
        const [gatewayScript, ...gatewayArgs] = local.gatewayCommand;
        const sqlGateway = spawn(gatewayScript!, gatewayArgs, "sql-gateway.log", { JVM_ARGS: rendered.sqlGateway.jvmArgs });

        // JobManager first (so its death shows its own log), then the TaskManager's registration.
        await waitForHttp(`${rest}/overview`, { pid: jobmanager.pid, logFile: jobmanager.logFile, timeoutMs: 180_000, intervalMs: 500 });
        await waitUntil("flink TaskManager registered", async () => {
            const overview = await (await fetch(`${rest}/overview`)).json() as { taskmanagers: number };
            return overview.taskmanagers >= 1;
        }, { pid: taskmanager.pid, logFile: taskmanager.logFile, timeoutMs: 180_000, intervalMs: 500 });
        await waitForHttp(`${gateway}/v1/info`, { pid: sqlGateway.pid, logFile: sqlGateway.logFile, timeoutMs: 120_000 });
        ctx.log(`flink ${ctx.versions.flink}: REST ${rest}, SQL gateway ${gateway}, checkpoints in s3://${rendered.checkpointsBucket}`);

        return {
            name: "flink",
            version: ctx.versions.flink,
            endpoints: { rest, gateway },
            details: { flinkHome: home, confDir: dirs.conf!, checkpointsBucket: rendered.checkpointsBucket },
            pids: [sqlGateway.pid, taskmanager.pid, jobmanager.pid],
            logFiles: [jobmanager.logFile, taskmanager.logFile, sqlGateway.logFile],
            startSeconds: (Date.now() - started) / 1000,
        };
    },
};
