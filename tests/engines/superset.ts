/**
 * Superset from PyPI in its own virtualenv, standing in for the derived image: apache-superset at
 * the pinned version plus the image's own pinned extras (components/superset/image/requirements.txt:
 * psycopg2-binary for the metadata database, pydruid for Druid). It runs the web container the tier
 * renders (`supersetWebService`, laptop profile): the rendered superset_config.py, the container's
 * environment (secrets generated per run, the database password of the postgres engine's
 * superset-db, the redis engine's password), and the rendered command: `set -e`, the tier's init
 * steps (db upgrade, create-admin, reset-password, init) and the image's run-server.sh, all through
 * `sh -c` as in the container. Its metadata lives in the postgres engine's superset-db, its caches
 * and login rate limits in the redis engine.
 *
 * Two documented substitutions: `localConfig` (host names and ports in the rendered file) and
 * `localContainer` (the image's paths and gunicorn's bind address).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseStackConfig } from "../../components/config";
import { CONFIG_PATH, supersetConfigPy, supersetDatabase, supersetWebService } from "../../components/superset";
import type { ServiceSpec } from "../../components/platform/types";
import type { Engine, EngineContext, EngineHandle } from "./types";
import { freePort, pipVenv, spawnDetached, waitForHttp } from "./lib";
import { databasePassword, localDatabaseAddress } from "./postgres";
import { localRedisAddress, redisPassword } from "./redis";

/** The derived image's pins (its Dockerfile installs this file into the base image's venv). */
const IMAGE_REQUIREMENTS = path.join(__dirname, "..", "..", "components", "superset", "image", "requirements.txt");

/**
 * apache-superset's own ranges admit releases it does not work with; these pins make it start:
 * - flask-caching 2.4+ passes `ignore_delete_many_errors` to SupersetMetastoreCache, whose
 *   constructor rejects it (every CLI command fails with a TypeError);
 * - rich is imported by superset/cli/test_db.py but not declared (ModuleNotFoundError at CLI load);
 * - cachetools is imported by superset/db_engine_specs/aws_iam.py but not declared (it used to come
 *   with google-auth): without it no engine spec loads ("Could not load database driver for: druid").
 * The redis client RedisCache and the login rate limiter need is a dependency of apache-superset.
 */
function requirements(version: string): string[] {
    const image = fs.readFileSync(IMAGE_REQUIREMENTS, "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    return [`apache-superset==${version}`, ...image, "flask-caching==2.3.1", "rich==13.9.4", "cachetools==6.2.1"];
}

/** The rendered web container for the laptop profile, with this run's secrets. */
function renderedSpec(ctx: EngineContext, adminPassword: string): Omit<ServiceSpec, "dependsOn"> {
    const postgres = ctx.running.postgres!;
    const redis = ctx.running.redis!;
    return supersetWebService(parseStackConfig({}, "dataplatform", "engines"), "(the engine's virtualenv)", {
        secretKey: randomBytes(42).toString("base64"),
        adminPassword,
        dbPassword: databasePassword(postgres, supersetDatabase),
        redisPassword: redisPassword(redis),
    });
}

/**
 * THE substitution for superset_config.py: the platform's host names and ports
 * (`superset-db:5432`, `superset-redis:6379`) become the postgres and redis engines' addresses.
 */
export function localConfig(rendered: string, postgres: EngineHandle, redis: EngineHandle): string {
    return localRedisAddress(redis, localDatabaseAddress(postgres, supersetDatabase, rendered));
}

/**
 * THE substitution for the container around it. The image's folders become this run's: the
 * config's folder (/app/pythonpath, on the image's PYTHONPATH), SUPERSET_HOME and HOME
 * (/app/superset_home), the venv's bin first on PATH (/app/.venv/bin); the entrypoint script the
 * command ends with becomes `runServer`'s. gunicorn binds 127.0.0.1 on a free port instead of
 * 0.0.0.0:8088 (SUPERSET_BIND_ADDRESS and SUPERSET_PORT, both read by run-server.sh).
 */
function localContainer(spec: Omit<ServiceSpec, "dependsOn">, dir: string, venv: string, port: number) {
    const pythonpath = path.join(dir, path.dirname(CONFIG_PATH).slice(1));
    const home = path.join(dir, "superset_home");
    const script = spec.command?.[2] ?? "";
    const entrypoint = "/app/docker/entrypoints/run-server.sh";
    if (spec.command?.[0] !== "sh" || spec.command[1] !== "-c" || !script.endsWith(`exec ${entrypoint}`)) {
        throw new Error(`expected sh -c "... exec ${entrypoint}", got ${JSON.stringify(spec.command)}`);
    }
    const runServerFile = path.join(dir, "run-server.sh");
    return {
        pythonpath,
        home,
        runServerFile,
        command: ["sh", "-c", script.replace(`exec ${entrypoint}`, `exec ${runServerFile}`)],
        env: {
            // The image's own environment (its Dockerfile's ENV), with the folders above.
            PATH: `${path.join(venv, "bin")}:${process.env.PATH}`,
            LANG: "C.UTF-8",
            SUPERSET_ENV: "production",
            FLASK_APP: "superset.app:create_app()",
            PYTHONPATH: pythonpath,
            SUPERSET_HOME: home,
            HOME: home,
            // The rendered container's.
            ...spec.env,
            ...spec.secretEnv,
            SUPERSET_BIND_ADDRESS: "127.0.0.1",
            SUPERSET_PORT: String(port),
        } as Record<string, string>,
    };
}

/**
 * What the 6.1.0 image's docker/entrypoints/run-server.sh runs: gunicorn with each setting from
 * the environment or the script's default. The wheel has no such script, so this writes one
 * that runs the same gunicorn command line.
 */
function runServer(env: Record<string, string>, gunicorn: string): string {
    const v = (name: string, fallback: string) => env[name] || fallback;
    const args = [
        gunicorn,
        "--bind", `${v("SUPERSET_BIND_ADDRESS", "0.0.0.0")}:${v("SUPERSET_PORT", "8088")}`,
        "--access-logfile", v("ACCESS_LOG_FILE", "-"),
        "--error-logfile", v("ERROR_LOG_FILE", "-"),
        "--workers", v("SERVER_WORKER_AMOUNT", "1"),
        "--worker-class", v("SERVER_WORKER_CLASS", "gthread"),
        "--threads", v("SERVER_THREADS_AMOUNT", "20"),
        "--log-level", v("GUNICORN_LOGLEVEL", "info"),
        "--timeout", v("GUNICORN_TIMEOUT", "60"),
        "--keep-alive", v("GUNICORN_KEEPALIVE", "2"),
        "--max-requests", v("WORKER_MAX_REQUESTS", "0"),
        "--max-requests-jitter", v("WORKER_MAX_REQUESTS_JITTER", "0"),
        "--limit-request-line", v("SERVER_LIMIT_REQUEST_LINE", "0"),
        "--limit-request-field_size", v("SERVER_LIMIT_REQUEST_FIELD_SIZE", "0"),
        v("FLASK_APP", ""),
    ];
    return `#!/bin/sh\nexec ${args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ")}\n`;
}

export const superset: Engine = {
    name: "superset",
    dependsOn: ["postgres", "redis"],

    async install(ctx) {
        await pipVenv("superset", requirements(ctx.versions.superset));
    },

    async start(ctx) {
        const started = Date.now();
        const venv = await pipVenv("superset", requirements(ctx.versions.superset));
        const adminPassword = randomBytes(18).toString("base64url");
        const spec = renderedSpec(ctx, adminPassword);
        const port = await freePort();
        const local = localContainer(spec, ctx.workDir, venv, port);

        fs.mkdirSync(local.pythonpath, { recursive: true });
        fs.mkdirSync(local.home, { recursive: true });
        for (const file of spec.files ?? []) {
            if (file.path !== CONFIG_PATH) throw new Error(`the web container renders ${file.path}, which the engine does not place`);
            fs.writeFileSync(path.join(local.pythonpath, path.basename(CONFIG_PATH)), localConfig(file.content as string, ctx.running.postgres!, ctx.running.redis!));
        }
        fs.writeFileSync(local.runServerFile, runServer(local.env, path.join(venv, "bin", "gunicorn")), { mode: 0o755 });

        const url = `http://127.0.0.1:${port}`;
        const logFile = path.join(ctx.workDir, "superset.log");
        const pid = spawnDetached(local.command[0]!, local.command.slice(1), { env: local.env, cwd: ctx.workDir, logFile });
        // The rendered health check and its grace period: the init steps run first, on an empty database.
        const health = spec.health.http!;
        await waitForHttp(`${url}${health.path}`, { pid, logFile, timeoutMs: (spec.health.startPeriodSeconds ?? 120) * 1000, intervalMs: 1_000 });
        ctx.log(`superset ${ctx.versions.superset} on ${url}`);

        return {
            name: "superset",
            version: ctx.versions.superset,
            endpoints: { url },
            details: {
                username: local.env.SUPERSET_ADMIN_USER!,
                password: adminPassword,
                // With psycopg2, the metadata database's driver: for tests that read the metadata directly.
                python: path.join(venv, "bin", "python"),
            },
            pids: [pid],
            logFiles: [logFile],
            startSeconds: (Date.now() - started) / 1000,
        };
    },
};

/** One Flask-Caching region as superset_config.py sets it. */
export interface RenderedCache { db: number; prefix: string; timeoutSeconds: number }

/**
 * The Redis settings of the rendered superset_config.py, as Python evaluates the file (with
 * placeholder secrets): each cache region's database, key prefix and timeout, and the database
 * of the login rate limiter's storage.
 */
export function renderedRedisSettings(): { caches: Record<string, RenderedCache>; rateLimitDb: number } {
    const python = `
import json, sys
from urllib.parse import urlparse
config = {}
exec(sys.stdin.read(), config)
db = lambda url: int(urlparse(url).path.lstrip("/"))
regions = ["CACHE_CONFIG", "DATA_CACHE_CONFIG", "FILTER_STATE_CACHE_CONFIG", "EXPLORE_FORM_DATA_CACHE_CONFIG"]
print(json.dumps({
    "caches": {r: {"db": db(config[r]["CACHE_REDIS_URL"]), "prefix": config[r]["CACHE_KEY_PREFIX"], "timeoutSeconds": config[r]["CACHE_DEFAULT_TIMEOUT"]} for r in regions},
    "rateLimitDb": db(config["RATELIMIT_STORAGE_URI"]),
}))
`;
    const placeholders = { SUPERSET_SECRET_KEY: "x", DATABASE_PASSWORD: "x", REDIS_PASSWORD: "x" };
    return JSON.parse(execFileSync("python3", ["-c", python], { input: supersetConfigPy(), env: { ...process.env, ...placeholders }, encoding: "utf8" }));
}
