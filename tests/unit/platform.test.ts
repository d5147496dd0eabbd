import { strict as assert } from "assert";
import { installMocks, plain, resetResources, resources } from "./mocks";
installMocks();
import * as pulumi from "@pulumi/pulumi";
import { images } from "../../components/versions";
import { DockerPlatform } from "../../components/platform/docker";
import { build, T } from "./build";

describe("Docker platform", () => {
    it("renders every container pinned, healthchecked, restartable, memory-limited and waited for", async () => {
        const b = await build();
        const containers = b.ofType(T.container);
        assert.ok(containers.length > 0);
        const pinned = new Set<string>(Object.values(images));
        for (const c of containers) {
            const pulled = b.all.find((r) => r.type === T.image && `sha256:${r.name}` === c.inputs.image);
            const built = b.ofType(T.build).find((r) => (r.inputs.tags as string[])[0] === c.inputs.image);
            assert.ok(pulled || built, `${c.name} runs a pulled or a built image, got ${String(c.inputs.image)}`);
            const base = pulled ? String(pulled.inputs.name) : Object.values(built!.inputs.buildArgs as Record<string, string>)[0];
            assert.ok(pinned.has(base), `${c.name}: ${base} comes from the version table`);
            assert.doesNotMatch(base, /:latest$|^[^:]+$/);
            const hc = c.inputs.healthcheck as { tests: string[]; retries: number };
            assert.equal(hc.tests[0], "CMD");
            assert.ok(hc.tests.length > 1 && hc.retries > 0);
            assert.equal(c.inputs.restart, "unless-stopped");
            assert.equal(c.inputs.wait, true, "creation waits for healthy, so dependents start in order");
            assert.ok(Number(c.inputs.memory) > 0);
            assert.equal(c.inputs.memorySwap, c.inputs.memory);
            assert.match(String(c.inputs.name), /^dataplatform-test-/);
            assert.deepEqual(plain(c.inputs.networksAdvanced), [{ name: "dataplatform-test-net", aliases: [c.name] }]);
        }
        assert.equal(b.one(T.network, "network").inputs.name, "dataplatform-test-net");
    });

    it("publishes ports on 127.0.0.1 by default", async () => {
        const b = await build();
        const ports = b.ofType(T.container).flatMap((c) => plain(c.inputs.ports) as { ip: string; external: number }[]);
        assert.ok(ports.length >= 3);
        assert.deepEqual([...new Set(ports.map((p) => p.ip))], ["127.0.0.1"]);
        for (const p of [9000, 9001, 9092, 8081, 8083, 8088, 8080]) assert.ok(ports.some((x) => x.external === p), `port ${p} published`);
        assert.equal(new Set(ports.map((p) => p.external)).size, ports.length, "no host port published twice");
    });

    it("publishes on another address only when configured", async () => {
        const b = await build({ bindAddress: "0.0.0.0", ports: '{"minioConsole": 19001}' });
        const ports = plain(b.one(T.container, "minio").inputs.ports) as { ip: string; external: number }[];
        assert.deepEqual(ports.map((p) => [p.ip, p.external]), [["0.0.0.0", 9000], ["0.0.0.0", 19001]]);
        const o = b.stack.outputs.objectStore as Record<string, pulumi.Input<string>>;
        assert.equal(await new Promise((r) => pulumi.output(o.consoleUrl).apply(r)), "http://127.0.0.1:19001");
    });

    it("renders a service description: env, secret env, files, health, dependencies, shared image pulls", async () => {
        resetResources();
        const parent = new pulumi.ComponentResource("test:index:Tier", "tier");
        const platform = new DockerPlatform("platform", { prefix: "p", bindAddress: "127.0.0.1" });
        const db = platform.deploy(
            {
                name: "db",
                tier: "test",
                image: images.postgres,
                env: { POSTGRES_DB: "meta" },
                secretEnv: { POSTGRES_PASSWORD: "pw" },
                ports: [{ name: "sql", containerPort: 5432 }],
                volumes: [{ name: "data", mountPath: "/var/lib/postgresql/data" }],
                health: { command: ["pg_isready"], startPeriodSeconds: 5, intervalSeconds: 2, retries: 3 },
                memoryMiB: 128,
            },
            parent,
        );
        const app = platform.deploy(
            {
                name: "app",
                tier: "test",
                image: images.postgres,
                command: ["psql"],
                files: [{ path: "/etc/app.conf", content: "x=1" }],
                health: { command: ["true"] },
                memoryMiB: 64,
                user: "1000:1000",
                dependsOn: [db],
            },
            parent,
        );
        assert.deepEqual(db.internal, { sql: "db:5432" });
        assert.deepEqual(db.published, {});
        assert.equal(app.memoryMiB, 64);
        const all = await resources();
        assert.equal(all.filter((r) => r.type === T.image).length, 1, "one pull per image reference");
        const dbc = all.find((r) => r.type === T.container && r.name === "db")!;
        assert.deepEqual(plain(dbc.inputs.envs), ["POSTGRES_DB=meta", "POSTGRES_PASSWORD=pw"]);
        assert.deepEqual(dbc.inputs.ports, []);
        assert.deepEqual(dbc.inputs.healthcheck, { tests: ["CMD", "pg_isready"], interval: "2s", timeout: "5s", retries: 3, startPeriod: "5s" });
        assert.equal(dbc.inputs.waitTimeout, 5 + 2 * 4 + 30);
        const appc = all.find((r) => r.type === T.container && r.name === "app")!;
        assert.deepEqual(appc.inputs.uploads, [{ file: "/etc/app.conf", content: "x=1" }]);
        assert.equal(appc.inputs.user, "1000:1000");
        assert.deepEqual(appc.inputs.command, ["psql"]);
        assert.equal(all.filter((r) => r.type === T.volume).length, 1);
    });
});
