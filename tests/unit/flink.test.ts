import { strict as assert } from "assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { installMocks, isSecretInput, plain, resolve } from "./mocks";
installMocks();
import { parseStackConfig } from "../../components/config";
import { flinkProperties } from "../../components/flink";
import { icebergCatalogOptions, withClause } from "../../components/iceberg";
import { checkJars } from "../../components/stack";
import { images } from "../../components/versions";
import { fetchJar } from "../../jars/fetch";
import { fileName, flinkLibJars, icebergRestJars, imageJars } from "../../jars/manifest";
import { jarProblems, jarsDir } from "../../jars/verify";
import { entrypointOptions, flinkPropertiesOptions, imageFlink, localFlink, localKeys, renderedFlink } from "../engines/flink-rendered";
import { build, Built, env, T } from "./build";

const props = (text: string) => Object.fromEntries(text.split("\n").map((l) => [l.slice(0, l.indexOf(": ")), l.slice(l.indexOf(": ") + 2)]));

describe("Flink tier and Iceberg catalog", () => {
    describe("laptop profile", () => {
        let b: Built;
        before(async () => {
            b = await build();
        });

        it("renders a JobManager, one TaskManager, the SQL Gateway, the REST catalog and its database", () => {
            const flink = b.ofType(T.container).filter((c) => (c.inputs.labels as { label: string; value: string }[]).some((l) => l.value === "flink"));
            assert.deepEqual(flink.map((c) => c.name).sort(), ["flink-jobmanager", "flink-sql-gateway", "flink-taskmanager-1", "iceberg-db", "iceberg-rest"]);
        });

        it("builds the Flink image from the pinned base and exactly the manifest's jars", () => {
            const img = b.one(T.build, "flink-image");
            assert.deepEqual(img.inputs.buildArgs, { FLINK_IMAGE: images.flink });
            assert.equal((img.inputs.context as { location: string }).location, jarsDir("flink"));
            assert.match((img.inputs.dockerfile as { location: string }).location, /components\/flink\/Dockerfile$/);
            assert.equal(img.inputs.load, true);
            assert.equal(img.inputs.push, false);
            assert.match((img.inputs.tags as string[])[0], /^dataplatform\/flink:[0-9a-f]{12}$/);
            for (const name of ["flink-jobmanager", "flink-taskmanager-1", "flink-sql-gateway"]) {
                assert.equal(b.one(T.container, name).inputs.image, (img.inputs.tags as string[])[0]);
            }
            const rest = b.one(T.build, "iceberg-rest-image");
            assert.deepEqual(rest.inputs.buildArgs, { ICEBERG_REST_IMAGE: images.icebergRest });
            assert.equal(b.one(T.container, "iceberg-rest").inputs.image, (rest.inputs.tags as string[])[0]);
        });

        it("re-tags (and so rebuilds and replaces) only when the base image changes", async () => {
            const again = await build({ ports: '{"minioConsole": 9101}' });
            assert.deepEqual(again.one(T.build, "flink-image").inputs.tags, b.one(T.build, "flink-image").inputs.tags);
            const rebased = await build({ images: '{"flink": "mirror.local/flink:2.0.0-java17"}' });
            assert.notDeepEqual(rebased.one(T.build, "flink-image").inputs.tags, b.one(T.build, "flink-image").inputs.tags);
            assert.deepEqual(rebased.one(T.build, "iceberg-rest-image").inputs.tags, b.one(T.build, "iceberg-rest-image").inputs.tags);
        });

        it("checkpoints to the checkpoint bucket over path-style S3 with the Flink user's keys", () => {
            for (const name of ["flink-jobmanager", "flink-taskmanager-1", "flink-sql-gateway"]) {
                const e = env(b, name);
                const p = props(e.FLINK_PROPERTIES);
                assert.equal(p["execution.checkpointing.dir"], "s3://flink-checkpoints/checkpoints");
                assert.equal(p["execution.checkpointing.savepoint-dir"], "s3://flink-checkpoints/savepoints");
                assert.equal(p["s3.endpoint"], "http://minio:9000");
                assert.equal(p["s3.path.style.access"], "true");
                assert.equal(p["jobmanager.rpc.address"], "flink-jobmanager");
                assert.equal(p["restart-strategy.type"], "exponential-delay");
                assert.equal(e.AWS_ACCESS_KEY_ID, "svc-flink");
                assert.equal(e.AWS_SECRET_ACCESS_KEY, "secret-material-flink-secret");
                assert.ok(isSecretInput(b.one(T.container, name).inputs.envs));
            }
            assert.equal(props(env(b, "flink-taskmanager-1").FLINK_PROPERTIES)["taskmanager.numberOfTaskSlots"], "4");
        });

        it("sizes Flink's memory to the container limits", () => {
            const p = props(env(b, "flink-jobmanager").FLINK_PROPERTIES);
            assert.equal(p["jobmanager.memory.process.size"], `${b.one(T.container, "flink-jobmanager").inputs.memory}m`);
            assert.equal(p["taskmanager.memory.process.size"], `${b.one(T.container, "flink-taskmanager-1").inputs.memory}m`);
            const heap = /-Xmx(\d+)m/.exec(env(b, "flink-sql-gateway").JVM_ARGS)!;
            assert.ok(Number(heap[1]) < Number(b.one(T.container, "flink-sql-gateway").inputs.memory));
        });

        it("points the gateway at the JobManager and publishes REST ports clear of 8081/8083", () => {
            const cmd = b.one(T.container, "flink-sql-gateway").inputs.command as string[];
            assert.deepEqual(cmd.slice(0, 2), ["/opt/flink/bin/sql-gateway.sh", "start-foreground"]);
            assert.ok(cmd.includes("-Drest.address=flink-jobmanager"));
            const published = (n: string) => (plain(b.one(T.container, n).inputs.ports) as { ip: string; external: number; internal: number }[]).map((p) => `${p.ip}:${p.external}->${p.internal}`);
            assert.deepEqual(published("flink-jobmanager"), ["127.0.0.1:18081->8081"]);
            assert.deepEqual(published("flink-sql-gateway"), ["127.0.0.1:18083->8083"]);
        });

        it("keeps the catalog's state in PostgreSQL on a volume, with its own S3 identity", () => {
            const e = env(b, "iceberg-rest");
            assert.equal(e.CATALOG_URI, "jdbc:postgresql://iceberg-db:5432/iceberg");
            assert.equal(e.CATALOG_JDBC_PASSWORD, "secret-material-db-password");
            assert.equal(env(b, "iceberg-db").POSTGRES_PASSWORD, "secret-material-db-password");
            assert.equal(e.CATALOG_WAREHOUSE, "s3://iceberg-warehouse/");
            assert.equal(e.CATALOG_S3_ACCESS__KEY__ID, "svc-iceberg");
            assert.equal(e.CATALOG_S3_ENDPOINT, "http://minio:9000");
            assert.ok(isSecretInput(b.one(T.container, "iceberg-rest").inputs.envs));
            assert.deepEqual(plain(b.one(T.container, "iceberg-db").inputs.volumes), [{ volumeName: "dataplatform-test-iceberg-db-data", containerPath: "/var/lib/postgresql/data" }]);
        });

        it("tells the catalog server its port the way the fixture reads it (catalog property rest.port)", () => {
            const internal = (plain(b.one(T.container, "iceberg-rest").inputs.ports) as { internal: number }[]).map((p) => p.internal);
            assert.deepEqual(internal, [Number(env(b, "iceberg-rest").CATALOG_REST_PORT)]);
        });

        it("outputs the URLs and the CREATE CATALOG options", async () => {
            const f = (await resolve(b.stack.outputs.flink)) as Record<string, unknown>;
            assert.equal(f.jobManagerUrl, "http://127.0.0.1:18081");
            assert.equal(f.sqlGatewayUrl, "http://127.0.0.1:18083");
            assert.equal(f.catalogUriInternal, "http://iceberg-rest:8181");
            assert.equal(f.warehouse, "s3://iceberg-warehouse/");
            assert.deepEqual(f.catalogOptions, {
                type: "iceberg",
                "catalog-type": "rest",
                uri: "http://iceberg-rest:8181",
                warehouse: "s3://iceberg-warehouse/",
                "io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
                "s3.endpoint": "http://minio:9000",
                "s3.path-style-access": "true",
                "client.region": "us-east-1",
            });
        });

        it("is what the test engines' Flink renders: FLINK_PROPERTIES, the gateway's command and JVM_ARGS", () => {
            const deployed = env(b, "flink-jobmanager").FLINK_PROPERTIES;
            const engine = renderedFlink("laptop", props(deployed)["s3.endpoint"]);
            for (const name of ["flink-jobmanager", "flink-taskmanager-1", "flink-sql-gateway"]) assert.equal(env(b, name).FLINK_PROPERTIES, engine.flinkProperties);
            assert.deepEqual(b.one(T.container, "flink-sql-gateway").inputs.command, engine.sqlGateway.command);
            assert.equal(env(b, "flink-sql-gateway").JVM_ARGS, engine.sqlGateway.jvmArgs);
            assert.equal(engine.checkpointsBucket, /^s3:\/\/([^/]+)\//.exec(props(deployed)["execution.checkpointing.dir"])![1]);
        });
    });

    it("on AWS S3 uses virtual-hosted S3 without an endpoint override", async () => {
        const b = await build({ objectStore: "s3", "aws:region": "eu-west-1" });
        const p = props(env(b, "flink-jobmanager").FLINK_PROPERTIES);
        assert.equal(p["s3.endpoint"], undefined);
        assert.equal(p["s3.path.style.access"], "false");
        assert.match(p["execution.checkpointing.dir"], /^s3:\/\/flink-checkpoints-\w+\/checkpoints$/);
        assert.equal(env(b, "iceberg-rest").CATALOG_S3_ENDPOINT, undefined);
    });

    it("workstation: two TaskManagers inside the tier's share", async () => {
        const b = await build({ profile: "workstation" });
        assert.ok(b.ofType(T.container).some((c) => c.name === "flink-taskmanager-2"));
    });

    it("rejects more TaskManagers than the profile's share holds, before any resource", async () => {
        await assert.rejects(() => build({ flink: '{"taskManagers": 3}' }), /dataplatform:flink = \{"taskManagers":3\}: the flink tier needs \d+ MiB .*share of 2048 MiB/);
    });

    it("refuses a Flink property value with whitespace, which the image would mangle", () => {
        assert.throws(
            () => flinkProperties({ checkpointsBucket: "a b", pathStyle: true, slots: 1, jobManagerMiB: 512, taskManagerMiB: 960 }),
            /execution\.checkpointing\.dir = "s3:\/\/a b\/checkpoints" contains whitespace/,
        );
    });

    it("renders catalog options as a Flink SQL WITH clause, quoting quotes", () => {
        const opts = icebergCatalogOptions({ uri: "http://x:8181", warehouseBucket: "w", pathStyle: false, region: "eu-west-1" });
        assert.equal(opts["s3.endpoint"], undefined);
        assert.equal(withClause({ a: "it's" }), "'a' = 'it''s'");
    });

    describe("the image's reading of FLINK_PROPERTIES, and the test engine's substitution", () => {
        // Expectations taken from bash 5.2 running the entrypoint's `IFS=':' read -r key value`.
        it("strips all whitespace, splits at the first ':', and drops a lone trailing ':' as bash's read does", () => {
            const text = ["  a.b :  x y ", "", "url: http://h:9000/", "c: v:", "d: v:w:", "e::", "f", "g: ${HOME_DIR}/$SUB-x", "h: $UNSET"].join("\n");
            assert.deepEqual(flinkPropertiesOptions(text, { HOME_DIR: "/data", SUB: "s" }), [
                ["a.b", "xy"], ["url", "http://h:9000/"], ["c", "v"], ["d", "v:w:"], ["e", ""], ["f", ""], ["g", "/data/s-x"], ["h", ""],
            ]);
        });

        it("refuses a glob character, which the entrypoint's unquoted echo would expand", () => {
            assert.throws(() => flinkPropertiesOptions("a: s3://b/*", {}), /glob character/);
        });

        it("sets the entrypoint's own options first, FLINK_PROPERTIES winning over them", () => {
            assert.deepEqual(entrypointOptions({ FLINK_PROPERTIES: "blob.server.port: 7000\nx: 1" }, "box"),
                { "jobmanager.rpc.address": "box", "blob.server.port": "7000", "query.server.port": "6125", x: "1" });
            assert.equal(entrypointOptions({ JOB_MANAGER_RPC_ADDRESS: "jm" }, "box")["jobmanager.rpc.address"], "jm");
        });

        const place = { ports: Object.fromEntries(localKeys.ports.map((k, i) => [k, 40000 + i])), tmpDir: "/run/tmp", flinkHome: "/cache/pyflink" };

        it("changes only hosts, ports and paths: every other rendered option runs as rendered", () => {
            const rendered = renderedFlink("laptop", "http://127.0.0.1:9999");
            const image = imageFlink(rendered, {}, "box");
            const local = localFlink(image, place);
            const substituted = new Set<string>(Object.values(localKeys).flat());
            assert.deepEqual(Object.keys(local.config), Object.keys(image.config));
            for (const [key, value] of Object.entries(image.config)) {
                if (!substituted.has(key)) assert.equal(local.config[key], value, key);
            }
            assert.equal(local.config["jobmanager.rpc.address"], "127.0.0.1");
            assert.equal(local.config["rest.port"], "40001");
            assert.equal(local.config["io.tmp.dirs"], "/run/tmp");
            assert.equal(local.config["execution.checkpointing.dir"], "s3://flink-checkpoints/checkpoints");
            assert.equal(local.config["taskmanager.memory.process.size"], "960m");
            assert.deepEqual(local.gatewayCommand, ["/cache/pyflink/bin/sql-gateway.sh", "start-foreground",
                "-Dsql-gateway.endpoint.rest.address=127.0.0.1", "-Dsql-gateway.endpoint.rest.port=40004", "-Drest.address=127.0.0.1"]);
        });

        it("refuses to run with the JobManager's service name left in an option it may not change", () => {
            const image = imageFlink(renderedFlink("laptop", "http://flink-jobmanager:9000"), {}, "box");
            assert.throws(() => localFlink(image, place), /s3\.endpoint = "http:\/\/flink-jobmanager:9000" is not runnable here/);
        });
    });

    describe("jars", () => {
        const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "jars-test-"));

        it("lists missing, altered and stray jars", () => {
            const root = tmp();
            fs.mkdirSync(path.join(root, "flink"));
            fs.writeFileSync(path.join(root, "flink", fileName(flinkLibJars[0])), "not the jar");
            fs.writeFileSync(path.join(root, "flink", "extra-1.0.jar"), "x");
            const problems = jarProblems("flink", root).join("\n");
            assert.match(problems, new RegExp(`${fileName(flinkLibJars[0])} has SHA-256 [0-9a-f]{64}, the manifest says ${flinkLibJars[0].sha256}`));
            for (const j of flinkLibJars.slice(1)) assert.match(problems, new RegExp(`${fileName(j)} is missing`));
            assert.match(problems, /extra-1\.0\.jar is not in jars\/manifest\.ts/);
        });

        it("the jars fetched by `npm run jars` match the manifest", () => {
            for (const image of Object.keys(imageJars) as (keyof typeof imageJars)[]) assert.deepEqual(jarProblems(image), []);
        });

        it("the Kafka connector finds zstd-jni on the image's classpath, so Flink reads the producer's zstd batches", () => {
            // The connector shades Kafka's client but not zstd-jni, which that client calls for zstd;
            // today the Iceberg runtime brings it. Dropping or reshading that jar fails here, not in production.
            const entries = (jar: (typeof flinkLibJars)[number]) => zipEntries(path.join(jarsDir("flink"), fileName(jar)));
            const connector = entries(flinkLibJars.find((j) => j.artifact === "flink-sql-connector-kafka")!);
            assert.ok(connector.some((e) => e.endsWith("/kafka/common/compress/ZstdCompression.class")));
            assert.ok(!connector.some((e) => e.startsWith("com/github/luben/")), "the connector bundles zstd-jni itself now: this test's reasoning is stale");
            const providers = flinkLibJars.filter((j) => {
                const names = entries(j);
                return names.includes("com/github/luben/zstd/Zstd.class") && names.some((e) => /^linux\/amd64\/libzstd-jni[^/]*\.so$/.test(e));
            });
            assert.ok(providers.length > 0, "no jar in the Flink image provides com.github.luben.zstd with its linux/amd64 library");
        });

        it("stops the program before any resource when jars are missing, naming the command", () => {
            const cfg = parseStackConfig({}, "dataplatform", "test");
            assert.throws(() => checkJars(cfg, tmp()), /jars that are missing or changed:\n {2}- .*flink-sql-connector-kafka-4\.0\.1-2\.0\.jar is missing[\s\S]*Run `npm run jars`/);
            assert.doesNotThrow(() => checkJars(parseStackConfig({ "dataplatform:tiers": '{"flink": false, "pipeline": false}' }, "dataplatform", "test"), tmp()));
        });

        it("rejects a fetched jar whose checksum differs from the manifest, leaving nothing behind", () => {
            const dir = tmp();
            const wrong = { ...icebergRestJars[0], sha256: "0".repeat(64) };
            assert.throws(() => fetchJar(wrong, dir), /checksum mismatch for org\.postgresql:postgresql:42\.7\.8: Maven gave SHA-256 2a32a9dc\w+, jars\/manifest\.ts expects 0{64}/);
            assert.deepEqual(fs.readdirSync(dir), []);
        });

        it("fetches a jar with Maven, checks it, and keeps it on the next run", () => {
            const dir = tmp();
            assert.equal(fetchJar(icebergRestJars[0], dir), "fetched");
            assert.equal(fetchJar(icebergRestJars[0], dir), "kept");
            assert.deepEqual(fs.readdirSync(dir), [fileName(icebergRestJars[0])]);
        });
    });
});

/** The file names in a zip (a jar), from its central directory. */
function zipEntries(file: string): string[] {
    const zip = fs.readFileSync(file);
    // The end-of-central-directory record: within the last 64 KiB (its comment's most) + 22 bytes.
    let eocd = zip.length - 22;
    while (eocd >= Math.max(0, zip.length - 65_557) && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--;
    if (eocd < 0 || zip.readUInt32LE(eocd) !== 0x06054b50) throw new Error(`${file}: not a zip`);
    const names: string[] = [];
    for (let at = zip.readUInt32LE(eocd + 16), n = zip.readUInt16LE(eocd + 10); n > 0; n--) {
        if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`${file}: bad central directory entry at ${at}`);
        const nameLength = zip.readUInt16LE(at + 28);
        names.push(zip.toString("utf8", at + 46, at + 46 + nameLength));
        at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    }
    return names;
}
