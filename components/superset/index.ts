import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { ProfileName, StackConfig } from "../config";
import { DeployedService, Platform, Reach, ServiceSpec } from "../platform/types";
import { builtImage, folderDigest } from "../shared/image";
import { MetadataDatabase, POSTGRES_PORT, postgresService } from "../shared/postgres";
import { SupersetConfig } from "./config";
import { SupersetDashboards, SupersetDashboardsArgs, viewingDashboard } from "./dashboards";

export { druidSqlalchemyUri, SupersetDashboards, viewingDashboard } from "./dashboards";

const WEB_PORT = 8088;
/** Superset's metadata: users, roles, databases, datasets, charts, dashboards. */
export const supersetDatabase: MetadataDatabase = { name: "superset-db", database: "superset", user: "superset" };
/** The cache: its service (host) name and the port the redis image listens on. */
export const supersetRedis = { name: "superset-redis", port: 6379 } as const;
const REDIS = supersetRedis.name;
const REDIS_PORT = supersetRedis.port;
/** Where the image's PYTHONPATH (/app/pythonpath) makes Superset find its config module. */
export const CONFIG_PATH = "/app/pythonpath/superset_config.py";
/** The UI login; deliberately not "admin", the name every scanner tries first. */
export const ADMIN_USER = "dataplatform";

/** Memory limits (MiB) per service and profile: web (gunicorn + the init steps before it), metadata DB, cache. */
const sizes: Record<ProfileName, { web: number; db: number; redis: number }> = {
    laptop: { web: 832, db: 128, redis: 64 },
    workstation: { web: 1024, db: 128, redis: 128 },
    cluster: { web: 1536, db: 256, redis: 128 },
};

export function supersetMemoryPlan(cfg: StackConfig): Record<string, number> {
    const size = sizes[cfg.profile];
    return { superset: size.web, [supersetDatabase.name]: size.db, [REDIS]: size.redis };
}

/**
 * Gunicorn inside a memory limit. One Superset worker process holds about 300 MiB once warm
 * (measured on the 6.1.0 engine: 270 MiB idle); 256 MiB stays free for query results and the
 * master. Threads are cheap (shared memory) and serve concurrent dashboard tiles, which mostly
 * wait on Druid.
 */
export function gunicornSizing(memoryMiB: number): { workers: number; threads: number } {
    return { workers: Math.max(1, Math.floor((memoryMiB - 256) / 300)), threads: 8 };
}

/** Redis keeps a quarter of its container for its own overhead; evicts least-recently-used keys beyond that (it is a cache only). */
export const redisMaxMemoryMiB = (memoryMiB: number) => Math.floor(memoryMiB * 0.75);

/**
 * superset_config.py. Secrets are read from the container's environment, so the file itself
 * holds none and can be shown in a diff; host names are the platform's service names.
 */
export function supersetConfigPy(): string {
    const redisUrl = `redis://:%s@${REDIS}:${REDIS_PORT}/`;
    return `# Written by the Pulumi program (components/superset). Secrets come from the environment.
import os
from urllib.parse import quote

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = "postgresql+psycopg2://${supersetDatabase.user}:%s@${supersetDatabase.name}:${POSTGRES_PORT}/${supersetDatabase.database}" % quote(os.environ["DATABASE_PASSWORD"], safe="")

_REDIS_URL = "${redisUrl}" % quote(os.environ["REDIS_PASSWORD"], safe="")


def _redis_cache(db, prefix, timeout):
    return {
        "CACHE_TYPE": "RedisCache",
        "CACHE_REDIS_URL": _REDIS_URL + str(db),
        "CACHE_KEY_PREFIX": prefix,
        "CACHE_DEFAULT_TIMEOUT": timeout,
    }


# Metadata and chart results for 5 minutes: dashboards on streaming data should not go stale longer.
CACHE_CONFIG = _redis_cache(0, "superset_meta_", 300)
DATA_CACHE_CONFIG = _redis_cache(1, "superset_data_", 300)
# Filter state and unsaved explore state must survive a container restart for a day.
FILTER_STATE_CACHE_CONFIG = _redis_cache(2, "superset_filter_", 86400)
EXPLORE_FORM_DATA_CACHE_CONFIG = _redis_cache(3, "superset_explore_", 86400)

# Rate-limit login attempts in Redis too (the default in-memory store is per process).
RATELIMIT_STORAGE_URI = _REDIS_URL + "4"
`;
}

/**
 * The web container's bootstrap, run before gunicorn on every start. Every step is idempotent:
 * migrations apply only what is missing, create-admin leaves an existing user alone,
 * reset-password keeps a rotated password in step, init re-syncs roles and permissions. Running
 * it here (not in a one-shot container) means the healthcheck passes only after it finished,
 * so dependents of the web service wait for it. Credentials are expanded from the environment
 * by the shell, so they never appear in the command.
 */
export function supersetInitSteps(): string[] {
    return [
        "superset db upgrade",
        'superset fab create-admin --username "$SUPERSET_ADMIN_USER" --firstname Data --lastname Platform --email "$SUPERSET_ADMIN_EMAIL" --password "$SUPERSET_ADMIN_PASSWORD"',
        'superset fab reset-password --username "$SUPERSET_ADMIN_USER" --password "$SUPERSET_ADMIN_PASSWORD"',
        "superset init",
    ];
}

/** Redis as the tier's cache, as the platform runs it; also what the test engine runs. */
export function supersetRedisService(cfg: StackConfig, password: pulumi.Input<string>): Omit<ServiceSpec, "dependsOn"> {
    const memoryMiB = supersetMemoryPlan(cfg)[REDIS]!;
    return {
        name: REDIS,
        tier: "superset",
        image: cfg.images.redis,
        // A pure cache: no persistence, so no volume; the password keeps other containers on the network out.
        command: ["sh", "-c", `exec redis-server --requirepass "$REDIS_PASSWORD" --maxmemory ${redisMaxMemoryMiB(memoryMiB)}mb --maxmemory-policy allkeys-lru --save "" --appendonly no`],
        secretEnv: { REDIS_PASSWORD: password },
        ports: [{ name: "redis", containerPort: REDIS_PORT }],
        health: { command: ["sh", "-c", 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli ping | grep -q PONG'], startPeriodSeconds: 5, intervalSeconds: 5 },
        memoryMiB,
    };
}

/** The web container's secrets: generated and kept by the tier, per run by the test engine. */
export interface SupersetSecrets {
    secretKey: pulumi.Input<string>;
    adminPassword: pulumi.Input<string>;
    dbPassword: pulumi.Input<string>;
    redisPassword: pulumi.Input<string>;
}

/**
 * The web container (bootstrap, then gunicorn) as the platform runs it, from `image` (the
 * derived image); also what the test engine runs.
 */
export function supersetWebService(cfg: StackConfig, image: pulumi.Input<string>, secrets: SupersetSecrets): Omit<ServiceSpec, "dependsOn"> {
    const memoryMiB = supersetMemoryPlan(cfg).superset!;
    const gunicorn = gunicornSizing(memoryMiB);
    return {
        name: "superset",
        tier: "superset",
        image,
        command: ["sh", "-c", ["set -e", ...supersetInitSteps(), "exec /app/docker/entrypoints/run-server.sh"].join("\n")],
        env: {
            SUPERSET_ADMIN_USER: ADMIN_USER,
            SUPERSET_ADMIN_EMAIL: `${ADMIN_USER}@${cfg.stack}.invalid`,
            // Read by the image's run-server.sh.
            SERVER_WORKER_AMOUNT: String(gunicorn.workers),
            SERVER_THREADS_AMOUNT: String(gunicorn.threads),
            GUNICORN_TIMEOUT: "120",
            SUPERSET_PORT: String(WEB_PORT),
        },
        secretEnv: { SUPERSET_SECRET_KEY: secrets.secretKey, SUPERSET_ADMIN_PASSWORD: secrets.adminPassword, DATABASE_PASSWORD: secrets.dbPassword, REDIS_PASSWORD: secrets.redisPassword },
        files: [{ path: CONFIG_PATH, content: supersetConfigPy() }],
        ports: [{ name: "http", containerPort: WEB_PORT, hostPort: cfg.ports.superset }],
        // First start runs every migration on a fresh database: minutes on a small laptop.
        health: {
            command: ["curl", "-fsS", "-o", "/dev/null", `http://localhost:${WEB_PORT}/health`],
            http: { port: WEB_PORT, path: "/health" },
            startPeriodSeconds: 300,
        },
        memoryMiB,
    };
}

export interface SupersetTierArgs {
    /**
     * SQLAlchemy URI of Druid SQL as containers reach it (`druid://<broker>:8082/druid/v2/sql/`),
     * from the Druid tier. Without it the tier runs Superset alone and provisions no dashboards.
     */
    druidUri?: string;
    /** The Druid datasource the dashboard charts: the Druid tier's aggregates table. */
    druidTable?: string;
    /** What must be up before dashboards are provisioned (the Druid tier's services). */
    druidReady?: pulumi.Resource[];
}

/**
 * The viewing dashboard as the tier declares it: the admin's login (the password a secret), the
 * Druid connection, and charts over `table` (the Druid tier's aggregates datasource).
 */
export function viewingDashboardArgs(
    web: Reach,
    password: pulumi.Input<string>,
    druidUri: string,
    table: string | undefined,
    dashboard: SupersetConfig["dashboard"],
): SupersetDashboardsArgs {
    return { web, username: ADMIN_USER, password, ...viewingDashboard(druidUri, { table, ...dashboard }) };
}

/** Superset (web + bootstrap), its PostgreSQL metadata DB, Redis as cache, and the viewing dashboard as code. */
export class SupersetTier extends pulumi.ComponentResource {
    readonly services: DeployedService[];
    /** From the machine running `pulumi up`. */
    readonly url: string;
    readonly login: { user: string; password: pulumi.Output<string> };
    readonly dashboards?: SupersetDashboards;

    constructor(name: string, cfg: StackConfig, platform: Platform, args: SupersetTierArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("dataplatform:superset:Superset", name, {}, opts);
        const plan = supersetMemoryPlan(cfg);
        const secret = (n: string, length: number) => pulumi.secret(new random.RandomPassword(n, { length, special: false }, { parent: this }).result);
        // Signs sessions and encrypts stored connection passwords: fixed at first deploy, kept in state.
        const secretKey = secret("secret-key", 64);
        const adminPassword = secret("admin-password", 24);
        const dbPassword = secret("db-password", 32);
        const redisPassword = secret("redis-password", 32);
        this.login = { user: ADMIN_USER, password: adminPassword };

        const db = platform.deploy(
            postgresService({ ...supersetDatabase, tier: "superset", image: cfg.images.postgres, password: dbPassword, memoryMiB: plan[supersetDatabase.name] }),
            this,
        );
        const redis = platform.deploy(supersetRedisService(cfg, redisPassword), this);

        const image = builtImage(
            "superset-image",
            {
                context: path.join(__dirname, "image"),
                contextDigest: folderDigest(path.join(__dirname, "image")),
                dockerfile: path.join(__dirname, "Dockerfile"),
                baseArg: "SUPERSET_IMAGE",
                base: cfg.images.superset,
                repository: "dataplatform/superset",
            },
            this,
            platform.registry,
        );
        const web = platform.deploy(
            { ...supersetWebService(cfg, image, { secretKey, adminPassword, dbPassword, redisPassword }), dependsOn: [db, redis] },
            this,
        );
        this.services = [web, db, redis];
        this.url = `http://${web.published.http}`;

        if (args.druidUri !== undefined) {
            this.dashboards = new SupersetDashboards(
                "viewing-dashboard",
                viewingDashboardArgs(web.reach.http!, adminPassword, args.druidUri, args.druidTable, cfg.superset.dashboard),
                { parent: this, dependsOn: [web.ready, ...(args.druidReady ?? [])] },
            );
        }
        this.registerOutputs({ url: this.url });
    }
}
