import { strict as assert } from "assert";
import { installMocks, isSecretInput, leakedSecrets, plain, resolve } from "./mocks";
installMocks();
import * as pulumi from "@pulumi/pulumi";
import { bucketDefaults } from "../../components/config";
import { grants, storeConsumers } from "../../components/objectstore";
import { build, Built, T } from "./build";

const S3 = { objectStore: "s3", "aws:region": "eu-west-1" };

type Statement = { Action: string[]; Resource: string[] };
const statements = (policy: unknown) => (JSON.parse(String(plain(policy))) as { Statement: Statement[] }).Statement;

describe("object-store tier", () => {
    describe("MinIO", () => {
        it("runs MinIO with its data on a volume and generated root credentials passed as secrets", async () => {
            const b = await build();
            const minio = b.one(T.container, "minio");
            assert.ok(isSecretInput(minio.inputs.envs), "container env holding the root credentials must be secret");
            const env = plain(minio.inputs.envs) as string[];
            assert.ok(env.some((e) => /^MINIO_ROOT_USER=root-\w+/.test(e)));
            assert.ok(env.some((e) => /^MINIO_ROOT_PASSWORD=secret-material-root-password$/.test(e)));
            assert.deepEqual(plain(minio.inputs.volumes), [{ volumeName: "dataplatform-test-minio-data", containerPath: "/data" }]);
            assert.equal(b.one(T.volume, "minio-data").inputs.name, "dataplatform-test-minio-data");
        });

        it("creates the four buckets, all private", async () => {
            const b = await build();
            const buckets = b.ofType(T.minioBucket);
            assert.deepEqual(buckets.map((x) => x.inputs.bucket).sort(), Object.values(bucketDefaults).sort());
            for (const x of buckets) assert.equal(x.inputs.acl, "private");
        });

        it("gives each consuming service its own user, limited to its buckets", async () => {
            const b = await build({ buckets: '{"raw": "my-raw"}' });
            for (const who of storeConsumers) {
                const user = b.one(T.minioUser, `${who}-user`);
                assert.equal(user.inputs.name, `svc-${who}`);
                assert.ok(isSecretInput(user.inputs.secretKey), `${who}'s secret key must be registered as a secret`);
                const allowed = new Set(grants[who].map((g) => (g.bucket === "raw" ? "my-raw" : bucketDefaults[g.bucket])));
                const touched = new Set(
                    statements(b.one(T.minioPolicy, `${who}-policy`).inputs.policy).flatMap((s) => s.Resource.map((r) => r.split(":::")[1].split("/")[0])),
                );
                assert.deepEqual([...touched].sort(), [...allowed].sort(), `${who} may touch only its own buckets`);
                const attach = b.one(T.minioAttach, `${who}-attach`);
                assert.deepEqual([attach.inputs.user, attach.inputs.policy], [`svc-${who}`, `svc-${who}-access`]);
            }
        });

        it("provisions through MinIO's API port as root: the login secret, the reach plain and free of secrets", async () => {
            const b = await build();
            const minioResources = [T.minioBucket, T.minioUser, T.minioPolicy, T.minioAttach].flatMap((t) => b.ofType(t));
            assert.equal(minioResources.length, 4 + 4 * 3);
            for (const r of minioResources) {
                assert.ok(isSecretInput(r.inputs.adminUser) && isSecretInput(r.inputs.adminPassword), `${r.name}: the root login must be secret`);
                assert.match(String(plain(r.inputs.adminUser)), /^root-\w+$/);
                // Docker: the published API port, reached directly (no tunnel).
                assert.deepEqual(r.inputs.reach, { address: "127.0.0.1:9000" }, r.name);
            }
        });

        it("never grants bucket administration or wildcard actions", async () => {
            const b = await build();
            for (const p of b.ofType(T.minioPolicy)) {
                for (const s of statements(p.inputs.policy)) {
                    assert.ok(s.Action.every((a) => /^s3:(List|Get|Put|Delete|Abort)\w+$/.test(a)), JSON.stringify(s.Action));
                    assert.ok(!s.Action.some((a) => /PutBucketPolicy|DeleteBucket$|\*/.test(a)));
                }
            }
        });

        it("outputs the same shape as S3: endpoint, path style, buckets, per-service secret credentials", async () => {
            const b = await build();
            const o = b.stack.outputs.objectStore as Record<string, pulumi.Input<unknown>>;
            assert.equal(await resolve(o.endpoint), "http://127.0.0.1:9000");
            assert.equal(await resolve(o.internalEndpoint), "http://minio:9000");
            assert.equal(await resolve(o.consoleUrl), "http://127.0.0.1:9001");
            assert.equal(o.pathStyle, true);
            assert.equal((await resolve(o.buckets as pulumi.Input<Record<string, string>>)).checkpoints, "flink-checkpoints");
            assert.ok(await pulumi.isSecret(pulumi.output(b.stack.outputs.objectStoreCredentials)));
            assert.ok(await pulumi.isSecret(pulumi.output(b.stack.outputs.objectStoreConsoleLogin)));
            const creds = (await resolve(b.stack.outputs.objectStoreCredentials)) as Record<string, { accessKeyId: string; secretAccessKey: string }>;
            assert.deepEqual(Object.keys(creds).sort(), [...storeConsumers].sort());
            assert.equal(creds.druid.accessKeyId, "svc-druid");
            assert.equal(creds.druid.secretAccessKey, "secret-material-druid-secret");
        });
    });

    describe("AWS S3", () => {
        it("creates no MinIO resource, container, volume or image", async () => {
            const b = await build(S3);
            assert.deepEqual(b.all.filter((r) => r.type.startsWith("minio:") || r.type === "pulumi:providers:minio" || /^pulumi-nodejs:dynamic\/dataplatform:Minio/.test(r.type)), []);
            assert.deepEqual(b.ofType(T.container).filter((c) => c.name === "minio"), []);
            assert.deepEqual(b.ofType(T.volume).filter((v) => v.name.startsWith("minio")), []);
            assert.deepEqual(b.ofType(T.image).filter((i) => String(i.inputs.name).includes("minio")), []);
        });

        it("makes every bucket private, encrypted, versioned and owner-enforced", async () => {
            const b = await build(S3);
            for (const key of Object.keys(bucketDefaults)) {
                assert.match(String(await resolve(b.one(T.s3Bucket, `bucket-${key}`).inputs.bucket as string)), new RegExp(`^${bucketDefaults[key as keyof typeof bucketDefaults]}-\\w+$`));
                assert.deepEqual(
                    plain(b.one(T.s3PublicAccess, `bucket-${key}-public-access`).inputs),
                    { bucket: `bucket-${key}-id`, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
                );
                assert.equal((b.one(T.s3Encryption, `bucket-${key}-encryption`).inputs.rules as { applyServerSideEncryptionByDefault: { sseAlgorithm: string } }[])[0].applyServerSideEncryptionByDefault.sseAlgorithm, "AES256");
                assert.deepEqual(b.one(T.s3Versioning, `bucket-${key}-versioning`).inputs.versioningConfiguration, { status: "Enabled" });
                assert.deepEqual(b.one(T.s3Ownership, `bucket-${key}-ownership`).inputs.rule, { objectOwnership: "BucketOwnerEnforced" });
            }
        });

        it("gives each consuming service an IAM user and a policy limited to its buckets", async () => {
            const b = await build(S3);
            for (const who of storeConsumers) {
                b.one(T.iamUser, `${who}-user`);
                b.one(T.iamKey, `${who}-key`);
                const touched = new Set(statements(b.one(T.iamPolicy, `${who}-policy`).inputs.policy).flatMap((s) => s.Resource.map((r) => r.split(":::")[1].split("/")[0].replace(/-\w+$/, ""))));
                assert.deepEqual([...touched].sort(), grants[who].map((g) => bucketDefaults[g.bucket]).sort());
            }
        });

        it("outputs virtual-hosted AWS endpoints and secret access keys", async () => {
            const b = await build(S3);
            const o = b.stack.outputs.objectStore as Record<string, pulumi.Input<unknown>>;
            assert.equal(await resolve(o.endpoint), "https://s3.eu-west-1.amazonaws.com");
            assert.equal(o.pathStyle, false);
            assert.equal(o.region, "eu-west-1");
            assert.ok(await pulumi.isSecret(pulumi.output(b.stack.outputs.objectStoreCredentials)));
            const creds = (await resolve(b.stack.outputs.objectStoreCredentials)) as Record<string, { secretAccessKey: string }>;
            assert.equal(creds.flink.secretAccessKey, "secret-material-flink-key");
        });
    });

    it("swapping MinIO for S3 changes only object-store resources and the store settings its consumers read", async () => {
        const isStore = (r: { type: string; parents: string[] }) =>
            r.type.startsWith("dataplatform:objectstore:") || r.parents.some((p) => p.startsWith("dataplatform:objectstore:"));
        // The MinIO image is pulled only for MinIO: it belongs to the store, though the platform pulls it.
        const isMinioImage = (r: { type: string; inputs: Record<string, unknown> }) => r.type === T.image && String(r.inputs.name).includes("minio");
        const outside = (b: Built) => new Map(b.all.filter((r) => !isStore(r) && !isMinioImage(r)).map((r) => [`${r.parents.join("$")}$${r.type}::${r.name}`, r]));
        const minio = outside(await build());
        const s3 = outside(await build(S3));
        assert.ok(minio.size > 10);
        assert.deepEqual([...s3.keys()].sort(), [...minio.keys()].sort(), "the same resources exist outside the store");

        // What consumers may see change: S3 endpoint, region, bucket names and keys, nothing else.
        const storeEnv = /^(AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|REGION)|CATALOG_(S3_\w+|WAREHOUSE|CLIENT_REGION)|druid_(storage_bucket|indexer_logs_s3Bucket|s3_\w+)|S3_(BUCKET|ENDPOINT|PATH_STYLE|REGION)|ICEBERG_WAREHOUSE_BUCKET)$/;
        const storeFlinkProps = new Set(["s3.endpoint", "fs.s3a.endpoint.region", "s3.path.style.access", "execution.checkpointing.dir", "execution.checkpointing.savepoint-dir"]);
        const asMap = (lines: string[], sep: string) => new Map(lines.map((l) => [l.slice(0, l.indexOf(sep)), l.slice(l.indexOf(sep) + sep.length)]));
        let consumersChanged = 0;
        for (const [key, before] of minio) {
            const after = s3.get(key)!;
            const { envs: envBefore, ...restBefore } = plain(before.inputs) as Record<string, unknown>;
            const { envs: envAfter, ...restAfter } = plain(after.inputs) as Record<string, unknown>;
            assert.deepEqual(restAfter, restBefore, `${key} changed beyond its environment`);
            if (JSON.stringify(envBefore) === JSON.stringify(envAfter)) continue;
            consumersChanged++;
            const eb = asMap(envBefore as string[], "=");
            const ea = asMap(envAfter as string[], "=");
            for (const name of new Set([...eb.keys(), ...ea.keys()])) {
                if (eb.get(name) === ea.get(name)) continue;
                if (name === "FLINK_PROPERTIES") {
                    const pb = asMap(eb.get(name)!.split("\n"), ": ");
                    const pa = asMap(ea.get(name)!.split("\n"), ": ");
                    for (const p of new Set([...pb.keys(), ...pa.keys()])) {
                        if (pb.get(p) !== pa.get(p)) assert.ok(storeFlinkProps.has(p), `${key}: Flink property ${p} changed`);
                    }
                } else assert.match(name, storeEnv, `${key}: ${name} changed`);
            }
        }
        assert.ok(consumersChanged > 0, "the store's consumers do get the new settings");
    });

    it("never registers generated secret material outside a secret, in either store", async () => {
        for (const cfg of [{}, S3]) {
            const b = await build(cfg);
            const leaks = b.all.flatMap((r) => leakedSecrets(r.inputs).map((p) => `${r.type}::${r.name}${p}`));
            assert.deepEqual(leaks, []);
        }
    });
});
