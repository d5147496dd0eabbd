/**
 * Superset from PyPI in its own virtualenv (with the Druid driver, pydruid, as the platform's
 * derived image has it), served by gunicorn on 127.0.0.1 with SQLite metadata in the work dir.
 * Every run gets its own SECRET_KEY and admin password (details.username/password for suites).
 *
 * `superset db upgrade` + `superset init` take about 30 s and produce the same database for a
 * given install, so install() runs them once into a template that start() copies; only the admin
 * user (per-run password) is created at start. No secrets are in the template: SECRET_KEY only
 * encrypts database-connection passwords, and a fresh metadata database holds none.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ADMIN_USER } from "../../components/superset";
import type { Engine, EngineContext } from "./types";
import { freePort, hashKey, pipVenv, run, spawnDetached, waitForHttp } from "./lib";

/**
 * apache-superset's own ranges admit releases it does not work with; these pins make it start:
 * - flask-caching 2.4+ passes `ignore_delete_many_errors` to SupersetMetastoreCache, whose
 *   constructor rejects it (every CLI command fails with a TypeError);
 * - rich is imported by superset/cli/test_db.py but not declared (ModuleNotFoundError at CLI load);
 * - cachetools is imported by superset/db_engine_specs/aws_iam.py but not declared (it used to come
 *   with google-auth): without it no engine spec loads ("Could not load database driver for: druid").
 */
function requirements(version: string): string[] {
    return [`apache-superset[druid]==${version}`, "flask-caching==2.3.1", "rich==13.9.4", "cachetools==6.2.1"];
}

function configFile(secretKey: string, databaseFile: string): string {
    return [
        "# Written by tests/engines/superset.ts for one run.",
        `SECRET_KEY = ${JSON.stringify(secretKey)}`,
        `SQLALCHEMY_DATABASE_URI = ${JSON.stringify(`sqlite:///${databaseFile}`)}`,
        "",
    ].join("\n");
}

/** Environment for every superset command: config and home in `dir`, nothing from the user's own setup. */
function supersetEnv(dir: string): NodeJS.ProcessEnv {
    return {
        ...process.env,
        SUPERSET_HOME: dir,
        SUPERSET_CONFIG_PATH: path.join(dir, "superset_config.py"),
        FLASK_APP: "superset",
        PYTHONUNBUFFERED: "1",
    };
}

/** The bootstrapped metadata database, keyed by the installed requirements. */
function templateDb(ctx: EngineContext): string {
    return path.join(ctx.cacheDir, `superset-${ctx.versions.superset}-${hashKey(requirements(ctx.versions.superset))}`, "template.db");
}

export const superset: Engine = {
    name: "superset",
    dependsOn: [],

    async install(ctx) {
        const venv = await pipVenv("superset", requirements(ctx.versions.superset));
        const template = templateDb(ctx);
        if (fs.existsSync(template)) return;

        const dir = `${path.dirname(template)}.partial`;
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(dir, { recursive: true });
        const db = path.join(dir, "template.db");
        // A throwaway key: it must not be the default (Superset refuses it) and protects nothing here.
        fs.writeFileSync(path.join(dir, "superset_config.py"), configFile(randomBytes(32).toString("base64"), db));
        const superset = path.join(venv, "bin", "superset");
        await run(superset, ["db", "upgrade"], { env: supersetEnv(dir) });
        await run(superset, ["init"], { env: supersetEnv(dir) }); // roles and permissions (Admin gets all)
        fs.rmSync(path.dirname(template), { recursive: true, force: true });
        fs.mkdirSync(path.dirname(template), { recursive: true });
        fs.renameSync(db, template);
        fs.rmSync(dir, { recursive: true, force: true });
    },

    async start(ctx) {
        const started = Date.now();
        const venv = await pipVenv("superset", requirements(ctx.versions.superset));
        const db = path.join(ctx.workDir, "superset.db");
        fs.copyFileSync(templateDb(ctx), db);
        fs.writeFileSync(path.join(ctx.workDir, "superset_config.py"), configFile(randomBytes(42).toString("base64"), db), { mode: 0o600 });
        const env = supersetEnv(ctx.workDir);

        // The admin the tier creates, so what logs in here is what logs in on the platform.
        const username = ADMIN_USER;
        const password = randomBytes(18).toString("base64url");
        await run(path.join(venv, "bin", "superset"), [
            "fab", "create-admin", "--username", username, "--password", password,
            "--firstname", "Integration", "--lastname", "Admin", "--email", "admin@example.invalid",
        ], { env });

        const port = await freePort();
        const url = `http://127.0.0.1:${port}`;
        const logFile = path.join(ctx.workDir, "superset.log");
        // One worker with threads: SQLite metadata and a 2-core box; gthread still serves requests concurrently.
        const pid = spawnDetached(path.join(venv, "bin", "gunicorn"), [
            "--bind", `127.0.0.1:${port}`, "--workers", "1", "--worker-class", "gthread", "--threads", "4",
            "--timeout", "120", "superset.app:create_app()",
        ], { env, cwd: ctx.workDir, logFile });
        await waitForHttp(`${url}/health`, { pid, logFile, timeoutMs: 120_000, intervalMs: 500 });
        ctx.log(`superset ${ctx.versions.superset} on ${url}`);

        return {
            name: "superset",
            version: ctx.versions.superset,
            endpoints: { url },
            details: { username, password },
            pids: [pid],
            logFiles: [logFile],
            startSeconds: (Date.now() - started) / 1000,
        };
    },
};
