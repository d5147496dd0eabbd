/**
 * Superset's REST API as a script (or the platform's provisioning) uses it: JWT login, a CSRF
 * token bound to the session cookie, then database connections. The connection is to the real
 * Druid router, because Superset checks a new connection by connecting: a made-up host is
 * refused, and SQLite is blocked by PREVENT_UNSAFE_DB_CONNECTIONS, which stays on (asserted).
 * Then the rendered cache settings at work: the Redis the tier renders, and the databases and key
 * prefixes superset_config.py gives Superset's caches and its login rate limiter.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { parseStackConfig } from "../../components/config";
import { redisMaxMemoryMiB, supersetMemoryPlan, supersetRedis } from "../../components/superset";
import { redisCommand, type SeenCommand, watchRedis } from "../engines/redis";
import { engine } from "../engines/state";
import { renderedRedisSettings } from "../engines/superset";

interface Reply<T> { status: number; body: T }

/** A logged-in API client: bearer token for auth, session cookie + CSRF token for writes. */
class SupersetClient {
    private cookie = "";
    private csrf = "";
    private token = "";

    constructor(private readonly base: string) {}

    async request<T>(method: string, path: string, body?: unknown): Promise<Reply<T>> {
        const headers: Record<string, string> = {};
        if (this.token) headers.authorization = `Bearer ${this.token}`;
        if (this.cookie) headers.cookie = this.cookie;
        if (this.csrf) headers["x-csrftoken"] = this.csrf;
        if (body !== undefined) headers["content-type"] = "application/json";
        const response = await fetch(`${this.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
        // Flask signs the CSRF token into the session cookie: keep the newest one.
        const session = response.headers.getSetCookie().find((c) => c.startsWith("session="));
        if (session) this.cookie = session.split(";")[0]!;
        const text = await response.text();
        return { status: response.status, body: (text.startsWith("{") || text.startsWith("[") ? JSON.parse(text) : text) as T };
    }

    async login(username: string, password: string): Promise<Reply<{ access_token?: string; message?: string }>> {
        const reply = await this.request<{ access_token?: string; message?: string }>("POST", "/api/v1/security/login", {
            username, password, provider: "db", refresh: false,
        });
        if (reply.body.access_token) {
            this.token = reply.body.access_token;
            const csrf = await this.request<{ result: string }>("GET", "/api/v1/security/csrf_token/");
            assert.equal(csrf.status, 200, JSON.stringify(csrf.body));
            this.csrf = csrf.body.result;
        }
        return reply;
    }
}

describe("superset engine (REST API, database connection to Druid)", () => {
    const { url } = engine("superset").endpoints;
    const { username, password } = engine("superset").details;
    const druidUri = `druid://${new URL(engine("druid").endpoints.router!).host}/druid/v2/sql/`;

    it("refuses a wrong password and accepts the generated admin", async () => {
        const denied = await new SupersetClient(url!).login(username!, `${password}-wrong`);
        assert.equal(denied.status, 401);
        assert.equal(denied.body.access_token, undefined);

        const client = new SupersetClient(url!);
        const ok = await client.login(username!, password!);
        assert.equal(ok.status, 200);
        const me = await client.request<{ result: { username: string } }>("GET", "/api/v1/me/");
        assert.equal(me.status, 200);
        assert.equal(me.body.result.username, username);
    });

    it("creates a Druid connection, reads it back, queries Druid through it, and deletes it", async () => {
        const client = new SupersetClient(url!);
        assert.equal((await client.login(username!, password!)).status, 200);

        const blocked = await client.request<{ message: { sqlalchemy_uri: string[] } }>("POST", "/api/v1/database/", {
            database_name: `sqlite-${randomUUID()}`, sqlalchemy_uri: "sqlite:////tmp/superset-it.db",
        });
        assert.equal(blocked.status, 422);
        assert.match(blocked.body.message.sqlalchemy_uri[0]!, /cannot be used as a data source for security reasons/);

        const tested = await client.request<{ message: string }>("POST", "/api/v1/database/test_connection/", { sqlalchemy_uri: druidUri });
        assert.equal(tested.status, 200, JSON.stringify(tested.body));

        const name = `druid-${randomUUID().slice(0, 8)}`;
        const created = await client.request<{ id: number; result: { database_name: string } }>("POST", "/api/v1/database/", {
            database_name: name, sqlalchemy_uri: druidUri, expose_in_sqllab: true,
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        assert.equal(created.body.result.database_name, name);
        const id = created.body.id;
        try {
            const read = await client.request<{ result: { database_name: string; backend: string; expose_in_sqllab: boolean } }>("GET", `/api/v1/database/${id}`);
            assert.equal(read.status, 200);
            assert.equal(read.body.result.database_name, name);
            assert.equal(read.body.result.backend, "druid");
            assert.equal(read.body.result.expose_in_sqllab, true);
            // The URI (it may hold credentials) is served only by the connection endpoint.
            const connection = await client.request<{ result: { sqlalchemy_uri: string } }>("GET", `/api/v1/database/${id}/connection`);
            assert.equal(connection.status, 200);
            assert.equal(connection.body.result.sqlalchemy_uri, druidUri);

            // SQL Lab runs the statement on Druid (synchronously) and returns Druid's answer.
            const query = await client.request<{ status: string; data: Array<Record<string, unknown>> }>("POST", "/api/v1/sqllab/execute/", {
                database_id: id, sql: "SELECT 6 * 7 AS answer", runAsync: false, queryLimit: 10,
            });
            assert.equal(query.status, 200, JSON.stringify(query.body));
            assert.equal(query.body.status, "success");
            assert.deepEqual(query.body.data, [{ answer: 42 }]);
        } finally {
            const deleted = await client.request<{ message: string }>("DELETE", `/api/v1/database/${id}`);
            assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
        }
        assert.equal((await client.request("GET", `/api/v1/database/${id}`)).status, 404);
    });
});

/** The databases in which Redis ran commands naming a key that starts with `prefix`. */
const databasesTouching = (seen: SeenCommand[], prefix: string) => [...new Set(seen.filter((c) => c.args.slice(1).some((a) => a.startsWith(prefix))).map((c) => c.db))];

describe("superset engine: the rendered Redis settings on a real Redis", () => {
    const redis = engine("redis");
    const { url } = engine("superset").endpoints;
    const { caches, rateLimitDb } = renderedRedisSettings();

    it("runs Redis as the tier renders it: password required, maxmemory from the plan, LRU eviction, no persistence", async () => {
        const config = async (name: string) => {
            const [key, value, ...rest] = await redisCommand(redis, { db: 0 }, "CONFIG", "GET", name);
            assert.deepEqual([key, rest], [name, []]);
            return value;
        };
        const planMiB = supersetMemoryPlan(parseStackConfig({}, "dataplatform", "engines"))[supersetRedis.name]!;
        assert.equal(Number(await config("maxmemory")), redisMaxMemoryMiB(planMiB) * 1024 * 1024);
        assert.equal(await config("maxmemory-policy"), "allkeys-lru");
        assert.equal(await config("save"), "");
        assert.equal(await config("appendonly"), "no");
        assert.equal((await redisCommand(redis, { db: 0, password: "" }, "PING"))[0], "NOAUTH Authentication required.");
        assert.deepEqual(await redisCommand(redis, { db: 0 }, "PING"), ["PONG"]);
    });

    it("counts requests for the rate limiter in Redis db RATELIMIT_STORAGE_URI names, and caches page metadata under CACHE_CONFIG's db and prefix", async () => {
        const { seen } = await watchRedis(redis, async () => {
            const page = await fetch(`${url}/login/`);
            await page.text();
            assert.equal(page.status, 200);
        });
        // Flask-Limiter keeps its counters under LIMITS:, the login page's bootstrap data is memoized in the metadata cache.
        assert.deepEqual(databasesTouching(seen, "LIMITS:"), [rateLimitDb], JSON.stringify(seen.slice(0, 20)));
        assert.deepEqual(databasesTouching(seen, caches.CACHE_CONFIG!.prefix), [caches.CACHE_CONFIG!.db], JSON.stringify(seen.slice(0, 20)));
    });
});
