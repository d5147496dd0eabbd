import { strict as assert } from "assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { installMocks, isSecretInput, leakedSecrets, plain, resetResources, resolve, resources, setConfig } from "./mocks";
installMocks();
import { loadStackConfig } from "../../components/config";
import { DockerPlatform } from "../../components/platform/docker";
import { ADMIN_USER, CONFIG_PATH, gunicornSizing, supersetConfigPy, supersetInitSteps, SupersetTier, supersetMemoryPlan } from "../../components/superset";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { findIds, login, NoAnswer, retryAfterMs, Session } from "../../components/superset/dashboards";
import { images } from "../../components/versions";
import { build, Built, env, T } from "./build";

const supersetContainers = (b: Built) =>
    b.ofType(T.container).filter((c) => (c.inputs.labels as { label: string; value: string }[]).some((l) => l.label === "dataplatform.tier" && l.value === "superset"));

describe("Superset tier", () => {
    describe("laptop profile", () => {
        let b: Built;
        before(async () => {
            b = await build();
        });

        it("runs Superset, its PostgreSQL and Redis within the tier's share", () => {
            const containers = supersetContainers(b);
            assert.deepEqual(containers.map((c) => c.name).sort(), ["superset", "superset-db", "superset-redis"]);
            const total = containers.reduce((n, c) => n + (c.inputs.memory as number), 0);
            assert.ok(total <= 1024, `superset tier uses ${total} MiB`);
            assert.deepEqual(Object.fromEntries(containers.map((c) => [c.name, c.inputs.memory])), supersetMemoryPlan(loadStackConfig()));
        });

        it("builds the image from the pinned lean image plus the pinned drivers, tagged by a digest", () => {
            const img = b.one(T.build, "superset-image");
            assert.deepEqual(img.inputs.buildArgs, { SUPERSET_IMAGE: images.superset });
            assert.match((img.inputs.context as { location: string }).location, /components\/superset\/image$/);
            assert.match((img.inputs.dockerfile as { location: string }).location, /components\/superset\/Dockerfile$/);
            assert.match((img.inputs.tags as string[])[0], /^dataplatform\/superset:[0-9a-f]{12}$/);
            assert.equal(b.one(T.container, "superset").inputs.image, (img.inputs.tags as string[])[0]);
            const requirements = fs.readFileSync(path.join((img.inputs.context as { location: string }).location, "requirements.txt"), "utf8");
            assert.match(requirements, /^psycopg2-binary==\d+\.\d+\.\d+$/m);
            assert.match(requirements, /^pydruid==\d+\.\d+\.\d+$/m);
        });

        it("re-tags only when the base changes", async () => {
            const same = await build({ ports: '{"minioConsole": 9101}' });
            assert.deepEqual(same.one(T.build, "superset-image").inputs.tags, b.one(T.build, "superset-image").inputs.tags);
            const rebased = await build({ images: '{"superset": "mirror.local/superset:6.1.0"}' });
            assert.notDeepEqual(rebased.one(T.build, "superset-image").inputs.tags, b.one(T.build, "superset-image").inputs.tags);
        });

        it("bootstraps idempotently before gunicorn, with credentials only from the environment", () => {
            const cmd = b.one(T.container, "superset").inputs.command as string[];
            assert.deepEqual(cmd.slice(0, 2), ["sh", "-c"]);
            const script = cmd[2]!.split("\n");
            assert.deepEqual(script, ["set -e", ...supersetInitSteps(), "exec /app/docker/entrypoints/run-server.sh"]);
            assert.ok(script.some((l) => l.startsWith("superset fab reset-password")));
            assert.doesNotMatch(cmd[2]!, /secret-material/);
            const e = env(b, "superset");
            assert.equal(e.SUPERSET_ADMIN_USER, ADMIN_USER);
            assert.notEqual(ADMIN_USER, "admin");
            assert.deepEqual({ workers: Number(e.SERVER_WORKER_AMOUNT), threads: Number(e.SERVER_THREADS_AMOUNT) }, gunicornSizing(832));
        });

        it("keeps SECRET_KEY, admin, database and Redis passwords secret everywhere", async () => {
            const e = env(b, "superset");
            for (const k of ["SUPERSET_SECRET_KEY", "SUPERSET_ADMIN_PASSWORD", "DATABASE_PASSWORD", "REDIS_PASSWORD"]) assert.match(e[k]!, /^secret-material-/, k);
            assert.equal(e.DATABASE_PASSWORD, env(b, "superset-db").POSTGRES_PASSWORD);
            assert.equal(e.REDIS_PASSWORD, env(b, "superset-redis").REDIS_PASSWORD);
            for (const c of supersetContainers(b)) assert.deepEqual(leakedSecrets(c.inputs), [], c.name);
            assert.ok(isSecretInput(b.one(T.container, "superset").inputs.envs));
            const out = b.stack.outputs.supersetLogin;
            assert.ok(await pulumi.isSecret(pulumi.output(out)), "supersetLogin output must be secret");
            assert.deepEqual(await resolve(out), { user: ADMIN_USER, password: "secret-material-admin-password" });
        });

        it("writes superset_config.py reading secrets from the environment, valid Python", () => {
            const uploads = plain(b.one(T.container, "superset").inputs.uploads) as { file: string; content: string }[];
            assert.deepEqual(uploads.map((u) => u.file), [CONFIG_PATH]);
            const py = uploads[0]!.content;
            assert.equal(py, supersetConfigPy());
            assert.match(py, /^SECRET_KEY = os\.environ\["SUPERSET_SECRET_KEY"\]$/m);
            assert.match(py, /postgresql\+psycopg2:\/\/superset:%s@superset-db:5432\/superset" % quote\(os\.environ\["DATABASE_PASSWORD"\]/);
            assert.match(py, /"CACHE_TYPE": "RedisCache"/);
            assert.match(py, /redis:\/\/:%s@superset-redis:6379\//);
            assert.doesNotMatch(py, /secret-material/);
            const parsed = spawnSync("python3", ["-c", "import ast, sys; ast.parse(sys.stdin.read())"], { input: py, encoding: "utf8" });
            assert.equal(parsed.status, 0, parsed.stderr);
        });

        it("publishes the UI on 127.0.0.1:8089 with a /health check; DB and Redis stay internal", async () => {
            const ports = (n: string) => plain(b.one(T.container, n).inputs.ports) as { ip: string; external: number; internal: number }[];
            assert.deepEqual(ports("superset"), [{ ip: "127.0.0.1", external: 8089, internal: 8088 }]);
            assert.deepEqual(ports("superset-db"), []);
            assert.deepEqual(ports("superset-redis"), []);
            assert.deepEqual((b.one(T.container, "superset").inputs.healthcheck as { tests: string[] }).tests, ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://localhost:8088/health"]);
            assert.equal(((await resolve(b.stack.outputs.superset)) as { url: string }).url, "http://127.0.0.1:8089");
        });
    });

    it("workstation: more memory for the web container, still within the share", async () => {
        const b = await build({ profile: "workstation" });
        const total = supersetContainers(b).reduce((n, c) => n + (c.inputs.memory as number), 0);
        assert.ok(total <= 1280 && total > 1024, `superset tier uses ${total} MiB`);
    });

    it("sizes gunicorn to the memory: one ~300 MiB worker per slot above 256 MiB headroom", () => {
        assert.deepEqual(gunicornSizing(512), { workers: 1, threads: 8 });
        assert.deepEqual(gunicornSizing(1024), { workers: 2, threads: 8 });
        assert.deepEqual(gunicornSizing(1600), { workers: 4, threads: 8 });
    });

    it("without the superset tier, nothing of it is registered", async () => {
        const b = await build({ tiers: '{"superset": false}' });
        assert.deepEqual(supersetContainers(b), []);
        assert.equal(b.stack.outputs.supersetLogin, undefined);
    });

    it("provisions the dashboard through the published URL, with the password secret, once Druid is given", async () => {
        resetResources();
        setConfig({});
        const cfg = loadStackConfig();
        const platform = new DockerPlatform("platform", { prefix: "dataplatform-test", bindAddress: "127.0.0.1" });
        new SupersetTier("superset", cfg, platform, { druidUri: "druid://druid-broker:8082/druid/v2/sql/" });
        const all = await resources();
        const dash = all.find((r) => r.type === "pulumi-nodejs:dynamic/dataplatform:SupersetDashboards" && r.name === "viewing-dashboard");
        assert.ok(dash, `no dashboards resource; have ${all.map((r) => `${r.type}::${r.name}`).join(", ")}`);
        assert.deepEqual(leakedSecrets(dash.inputs), []);
        assert.ok(isSecretInput(dash.inputs.password));
        const inputs = plain(dash.inputs) as Record<string, unknown>;
        assert.deepEqual(inputs.web, { address: "127.0.0.1:8089" });
        assert.equal(inputs.username, ADMIN_USER);
        assert.deepEqual(inputs.database, { name: "Druid", sqlalchemyUri: "druid://druid-broker:8082/druid/v2/sql/" });
        assert.deepEqual((inputs.dataset as { table: string }).table, "viewing_aggregates");
        assert.deepEqual((inputs.charts as { name: string }[]).map((c) => c.name), ["Plays per minute", "Top titles", "Plays by country", "Plays by device"]);
        assert.deepEqual(dash.parents.slice(-1), ["dataplatform:superset:Superset"]);
    });

    it("charts the datasource the Druid supervisor fills, also when druid.aggregates renames it", async () => {
        const b = await build({ druid: '{"aggregates": {"dataSource": "views_per_minute"}}' });
        const supervisor = plain(b.one("pulumi-nodejs:dynamic/dataplatform:DruidKafkaSupervisor", "supervisor-aggregates").inputs) as { dataSource: string };
        const dash = plain(b.one("pulumi-nodejs:dynamic/dataplatform:SupersetDashboards", "viewing-dashboard").inputs) as { dataset: { table: string } };
        assert.equal(supervisor.dataSource, "views_per_minute");
        assert.equal(dash.dataset.table, "views_per_minute");
    });

    it("titles and refreshes the dashboard from superset.dashboard; the slug stays, so a new title updates it", async () => {
        const dashboard = async (config: Record<string, string>) =>
            (plain((await build(config)).one("pulumi-nodejs:dynamic/dataplatform:SupersetDashboards", "viewing-dashboard").inputs) as { dashboard: unknown }).dashboard;
        assert.deepEqual(await dashboard({}), { title: "Viewing activity", slug: "viewing-activity", refreshSeconds: 60 });
        assert.deepEqual(await dashboard({ superset: '{"dashboard": {"title": "Views, live", "refreshSeconds": 30}}' }), { title: "Views, live", slug: "viewing-activity", refreshSeconds: 30 });
    });

    it("rejects a dashboard setting out of range, naming the key, the value and what is allowed", () => {
        setConfig({ superset: '{"dashboard": {"refreshSeconds": 1, "title": " "}}' });
        try {
            assert.throws(() => loadStackConfig(), (e: Error) =>
                /dataplatform:superset\.dashboard\.refreshSeconds = 1: expected 10 to 86400 seconds/.test(e.message) &&
                /dataplatform:superset\.dashboard\.title = " ": expected a title of 1 to 200 characters/.test(e.message));
        } finally {
            setConfig({});
        }
    });
});

describe("Superset lookups by name (the list API mixes up overlapping calls: apache/superset#33828)", () => {
    /** A session whose list calls answer, in turn, the given rows: what Superset sent back, mix-ups included. */
    const answering = (...answers: { id: number; slice_name: string }[][]) => {
        let calls = 0;
        const session: Session = {
            async call<T>() {
                const rows = answers[Math.min(calls++, answers.length - 1)]!;
                return { status: 200, body: { result: rows, ids: rows.map((r) => r.id) } as T };
            },
        };
        return { session, calls: () => calls };
    };
    const mine = { id: 7, slice_name: "Top titles" };
    const stranger = { id: 3, slice_name: "Plays by device" };

    it("skips an answer with another call's rows and returns what two clean answers agree on", async () => {
        const s = answering([stranger], [mine], [mine]);
        assert.deepEqual((await findIds(s.session, "chart", "slice_name", "Top titles")).map((r) => r.id), [7]);
        assert.equal(s.calls(), 3);
    });

    it("believes 'not found' only after three empty answers in a row", async () => {
        const s = answering([], [mine], [mine]);
        assert.deepEqual((await findIds(s.session, "chart", "slice_name", "Top titles")).map((r) => r.id), [7], "an empty answer was a mix-up");
        const none = answering([], [], []);
        assert.deepEqual(await findIds(none.session, "chart", "slice_name", "Top titles"), []);
        assert.equal(none.calls(), 3);
    });

    it("gives up with an error naming the bug when answers never settle", async () => {
        const s = answering([stranger]);
        await assert.rejects(() => findIds(s.session, "chart", "slice_name", "Top titles"), /chart list \(slice_name = "Top titles"\).*apache\/superset#33828/);
    });
});

describe("Superset requests that get no answer (a connection closed under the request)", () => {
    /** A peer that drops the connection of the requests `drop` picks, and answers the rest like Superset's login, CSRF and list endpoints. */
    async function flakyPeer(drop: (method: string, path: string, seen: number) => boolean) {
        const seen: string[] = [];
        const server = http.createServer((req, res) => {
            const key = `${req.method} ${req.url!.split("?")[0]}`;
            seen.push(key);
            if (drop(req.method!, req.url!, seen.filter((k) => k === key).length)) {
                req.socket.destroy();
                return;
            }
            res.setHeader("content-type", "application/json");
            if (req.url === "/api/v1/security/csrf_token/") res.setHeader("set-cookie", "session=s; Path=/");
            const body = req.url === "/api/v1/security/login" ? { access_token: "t" } : req.url === "/api/v1/security/csrf_token/" ? { result: "c" } : { id: 5, result: [], ids: [] };
            res.end(JSON.stringify(body));
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => new Promise((r) => server.close(r)) };
    }

    it("sends a login, a GET, a PUT again when the first attempt got no answer", async () => {
        const peer = await flakyPeer((_m, _p, n) => n === 1);
        try {
            const s = await login(peer.url, "u", "p");
            assert.equal((await s.call("GET", "/api/v1/chart/1")).status, 200);
            assert.equal((await s.call("PUT", "/api/v1/chart/1", { slice_name: "x" })).status, 200);
            assert.deepEqual(peer.seen, ["POST /api/v1/security/login", "POST /api/v1/security/login", "GET /api/v1/security/csrf_token/", "GET /api/v1/security/csrf_token/",
                "GET /api/v1/chart/1", "GET /api/v1/chart/1", "PUT /api/v1/chart/1", "PUT /api/v1/chart/1"]);
        } finally {
            await peer.close();
        }
    });

    it("never repeats a POST that creates blindly: it fails as NoAnswer after one attempt", async () => {
        const dropping = await flakyPeer((method, path) => method === "POST" && path === "/api/v1/chart/");
        try {
            const s = await login(dropping.url, "u", "p");
            await assert.rejects(() => s.call("POST", "/api/v1/chart/", { slice_name: "x" }), (e: Error) => e instanceof NoAnswer && /POST \/api\/v1\/chart\/ at http:\/\/127\.0\.0\.1:\d+: no answer after 1 attempt/.test(e.message));
            assert.equal(dropping.seen.filter((k) => k === "POST /api/v1/chart/").length, 1);
        } finally {
            await dropping.close();
        }
    });
});

describe("Superset's rate limiter (429 Too Many Requests)", () => {
    it("sends a refused request again, a POST too, after the answer's Retry-After", async () => {
        const seen: string[] = [];
        const server = http.createServer((req, res) => {
            seen.push(`${req.method} ${req.url}`);
            res.setHeader("content-type", "application/json");
            if (req.url === "/api/v1/chart/" && seen.filter((k) => k === "POST /api/v1/chart/").length === 1) {
                res.statusCode = 429;
                res.setHeader("retry-after", "1");
                res.end(JSON.stringify({ errors: [{ message: "429 Too Many Requests: 50 per 1 second" }] }));
                return;
            }
            if (req.url === "/api/v1/security/csrf_token/") res.setHeader("set-cookie", "session=s; Path=/");
            res.end(JSON.stringify(req.url === "/api/v1/security/login" ? { access_token: "t" } : req.url === "/api/v1/security/csrf_token/" ? { result: "c" } : { id: 7 }));
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        try {
            const s = await login(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, "u", "p");
            const started = Date.now();
            assert.deepEqual(await s.call("POST", "/api/v1/chart/", { slice_name: "x" }), { status: 200, body: { id: 7 } });
            assert.ok(Date.now() - started >= 1000, `sent again after ${Date.now() - started} ms, before Retry-After's 1 s`);
            assert.equal(seen.filter((k) => k === "POST /api/v1/chart/").length, 2);
        } finally {
            await new Promise((r) => server.close(r));
        }
    });

    it("waits Retry-After when given, else one window longer per refusal up to 5 s, never less than 200 ms", () => {
        const within = (ms: number, lo: number) => assert.ok(ms >= lo && ms < lo + 250, `${ms} not in [${lo}, ${lo + 250})`);
        within(retryAfterMs("3", 1), 3000);
        within(retryAfterMs(null, 1), 1000);
        within(retryAfterMs(null, 4), 4000);
        within(retryAfterMs(null, 9), 5000);
        within(retryAfterMs("0", 1), 200);
        within(retryAfterMs("Wed, 21 Oct 2026 07:28:00 GMT", 2), 2000);
    });
});
