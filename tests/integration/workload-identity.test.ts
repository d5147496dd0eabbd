/**
 * The consumers' S3 clients with no key at all, as they run on EKS: each finds its role's
 * credentials through its SDK's default chain, from a credentials endpoint named by
 * AWS_CONTAINER_CREDENTIALS_FULL_URI with the token in AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE,
 * which is what the EKS Pod Identity agent gives a pod. The endpoint here hands out what the
 * agent hands out: a role's temporary credentials, from a real AssumeRole (moto's STS), for a
 * role holding the tiers' own policy document; moto then checks every S3 call against that role
 * (its IAM checks on, as in least-privilege.test.ts). So a client that ignored the chain, lost
 * the session token or skipped the token file would be refused.
 *
 * The endpoint listens on 127.0.0.1, not the agent's 169.254.170.23: the SDKs allow plain http
 * to both, and only the address differs. Covered: the archiver (JS SDK v3, its own s3Client),
 * the Iceberg REST catalog (S3FileIO, Java SDK v2 2.33.0, started with the tier's rendered
 * environment without keys) and Flink's S3 filesystem (flink-s3-fs-hadoop: Hadoop 3.3.4, SDK v1
 * 1.12.779, loaded from the engine's plugins/ with the tier's s3 properties; see its test for
 * why moto's checks are off there). Not here: Druid
 * (the test Druid has no S3 deep storage: druid-s3-extensions 33 is not on Maven Central).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { CreateRoleCommand, DeleteRoleCommand, DeleteRolePolicyCommand, IAMClient, PutRolePolicyCommand } from "@aws-sdk/client-iam";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { bucketDefaults, BucketKey } from "../../components/config";
import { grants, policyDocument, StoreConsumer } from "../../components/objectstore";
import { versions } from "../../components/versions";
import { cacheRoot, freePort, javaBin, run as runCommand, stopPids } from "../engines/lib";
import { launchCatalog, localCatalog, renderedEnv } from "../engines/iceberg";
import { renderedFlink } from "../engines/flink-rendered";
import { engine } from "../engines/state";
import { setUncheckedRequests } from "./fixtures";

const run = randomUUID().slice(0, 8);
const repoRoot = path.join(__dirname, "..", "..");

interface Credentials { AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration: Date }

/** A credentials endpoint as the Pod Identity agent serves one: GET with the pod's token in Authorization, JSON back. */
async function credentialsEndpoint(token: string, credentials: Credentials) {
    const calls: { authorization?: string; path: string }[] = [];
    const server = http.createServer((req, res) => {
        calls.push({ authorization: req.headers.authorization, path: req.url ?? "" });
        if (req.headers.authorization !== token) {
            res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ message: "bad token" }));
            return;
        }
        res.writeHead(200, { "content-type": "application/json" }).end(
            JSON.stringify({ AccessKeyId: credentials.AccessKeyId, SecretAccessKey: credentials.SecretAccessKey, Token: credentials.SessionToken, Expiration: credentials.Expiration.toISOString() }),
        );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pod-identity-"));
    const tokenFile = path.join(dir, "eks-pod-identity-token");
    fs.writeFileSync(tokenFile, token, { mode: 0o600 });
    return {
        calls,
        /** The variables the agent's webhook puts into a pod, and a HOME without ~/.aws. */
        env: { AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/credentials`, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile, HOME: dir },
        close: async () => {
            await new Promise((r) => server.close(r));
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}

/** Runs `script` (TypeScript) in a fresh Node with only `env` and PATH: nothing of this process's AWS settings leaks in. */
function runIsolated(script: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        const child = spawn(path.join(repoRoot, "node_modules", ".bin", "tsx"), ["-e", script], { cwd: repoRoot, env: { PATH: process.env.PATH!, ...env } });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
}

describe("workload identity: the S3 clients take a role's credentials from the pod identity endpoint, with no key (real moto IAM/STS checks)", function () {
    const s3Engine = engine("s3");
    const { details } = s3Engine;
    const endpoint = s3Engine.endpoints.url!;
    const admin = { accessKeyId: details.accessKeyId!, secretAccessKey: details.secretAccessKey! };
    const aws = { endpoint, region: details.region!, credentials: admin };
    const iam = new IAMClient(aws);
    const sts = new STSClient(aws);
    const s3 = new S3Client({ ...aws, forcePathStyle: true, requestChecksumCalculation: "WHEN_REQUIRED" });
    /** This run's buckets, by the store's keys. */
    const bucketOf = (key: BucketKey) => `${bucketDefaults[key]}-${run}`;
    /** Per consumer under test, a bucket of its own and one it must not touch. */
    const buckets = {
        archiver: { own: bucketOf("raw"), other: bucketOf("checkpoints") },
        iceberg: { own: bucketOf("warehouse"), other: bucketOf("druid") },
        flink: { own: bucketOf("checkpoints"), other: bucketOf("raw") },
    };
    const consumers = Object.keys(buckets) as (keyof typeof buckets)[];
    const roles = new Map<StoreConsumer, Credentials>();
    let previous: string | undefined;

    // Roles and their credentials are made while the checks are off; then every call is checked.
    before(async () => {
        for (const key of Object.keys(bucketDefaults) as BucketKey[]) await s3.send(new CreateBucketCommand({ Bucket: bucketOf(key) }));
        for (const consumer of consumers) {
            const RoleName = `${consumer}-workload-${run}`;
            await iam.send(new CreateRoleCommand({
                RoleName,
                AssumeRolePolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "pods.eks.amazonaws.com" }, Action: ["sts:AssumeRole", "sts:TagSession"] }] }),
            }));
            // The document the store puts on the role, over this run's buckets.
            await iam.send(new PutRolePolicyCommand({ RoleName, PolicyName: "store", PolicyDocument: policyDocument(grants[consumer].map((g) => ({ bucket: bucketOf(g.bucket), prefix: g.prefix }))) }));
            const { Credentials: c } = await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::123456789012:role/${RoleName}`, RoleSessionName: `eks-${run}` }));
            roles.set(consumer, { AccessKeyId: c!.AccessKeyId!, SecretAccessKey: c!.SecretAccessKey!, SessionToken: c!.SessionToken!, Expiration: c!.Expiration! });
        }
        previous = await setUncheckedRequests("0");
    });

    after(async () => {
        if (previous !== undefined) await setUncheckedRequests(previous);
        for (const key of Object.keys(bucketDefaults) as BucketKey[]) {
            const Bucket = bucketOf(key);
            const listed = await s3.send(new ListObjectsV2Command({ Bucket })).catch(() => undefined);
            for (const o of listed?.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket, Key: o.Key! }));
            await s3.send(new DeleteBucketCommand({ Bucket })).catch(() => undefined);
        }
        for (const consumer of consumers) {
            const RoleName = `${consumer}-workload-${run}`;
            await iam.send(new DeleteRolePolicyCommand({ RoleName, PolicyName: "store" })).catch(() => undefined);
            await iam.send(new DeleteRoleCommand({ RoleName })).catch(() => undefined);
        }
    });

    it("the checks are on: the role's credentials without their session token are refused", async () => {
        const c = roles.get("archiver")!;
        const noToken = new S3Client({ endpoint, region: details.region!, forcePathStyle: true, credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey }, maxAttempts: 1 });
        await assert.rejects(noToken.send(new ListObjectsV2Command({ Bucket: buckets.archiver.own })), (e: Error) => /InvalidClientTokenId|InvalidAccessKeyId|AccessDenied|SignatureDoesNotMatch|InvalidToken/.test(e.name));
    });

    it("the archiver's S3 client (JS SDK v3 default chain) writes to its bucket with the role, and is refused elsewhere", async () => {
        const agent = await credentialsEndpoint(`pod-token-${run}`, roles.get("archiver")!);
        try {
            const script = `
                import { PutObjectCommand } from "@aws-sdk/client-s3";
                import { s3Client } from "./pipeline/consumer/archiver";
                const s3 = s3Client({ S3_ENDPOINT: ${JSON.stringify(endpoint)}, S3_REGION: ${JSON.stringify(details.region)}, S3_PATH_STYLE: true });
                const put = (Bucket: string) => s3.send(new PutObjectCommand({ Bucket, Key: "aggregates/identity.jsonl", Body: "{}\\n" })).then(() => "ok", (e) => e.name);
                (async () => console.log(JSON.stringify({ own: await put(${JSON.stringify(buckets.archiver.own)}), other: await put(${JSON.stringify(buckets.archiver.other)}) })))();
            `;
            const result = await runIsolated(script, agent.env);
            assert.equal(result.code, 0, result.stderr);
            assert.deepEqual(JSON.parse(result.stdout.trim().split("\n").pop()!), { own: "ok", other: "AccessDenied" }, result.stderr);
            assert.ok(agent.calls.length >= 1, "the endpoint was asked");
            assert.ok(agent.calls.every((c) => c.authorization === `pod-token-${run}`), "with the token file's content");
        } finally {
            await agent.close();
        }
    });

    it("the Iceberg REST catalog, rendered without keys, writes table metadata to its warehouse with the role (S3FileIO's SDK v2 chain)", async function () {
        this.timeout(240_000);
        const agent = await credentialsEndpoint(`pod-token-${run}`, roles.get("iceberg")!);
        const port = await freePort();
        const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "catalog-identity-"));
        const env = localCatalog(renderedEnv(s3Engine, engine("postgres"), buckets.iceberg.own, false), port);
        assert.deepEqual(Object.keys(env).filter((k) => /KEY/.test(k)), [], "rendered with no key");
        const catalog = await launchCatalog({ cacheDir: cacheRoot(), versions }, { env: { ...env, ...agent.env, CATALOG_WAREHOUSE: `s3://${buckets.iceberg.own}/` }, port, workDir, name: "catalog-identity" });
        try {
            const call = async (method: string, p: string, body?: unknown) => {
                const r = await fetch(`${catalog.url}${p}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
                return { status: r.status, body: await r.text() };
            };
            const namespace = `identity_${run}`;
            assert.equal((await call("POST", "/v1/namespaces", { namespace: [namespace] })).status, 200);
            const created = await call("POST", `/v1/namespaces/${namespace}/tables`, {
                name: "events",
                schema: { type: "struct", "schema-id": 0, fields: [{ id: 1, name: "id", required: true, type: "long" }] },
            });
            assert.equal(created.status, 200, `${created.body.slice(0, 2000)}\n${fs.readFileSync(catalog.logFile, "utf8").slice(-3000)}`);
            const location = (JSON.parse(created.body) as { "metadata-location": string })["metadata-location"];
            assert.match(location, new RegExp(`^s3://${buckets.iceberg.own}/${namespace}/events/metadata/.*\\.metadata\\.json$`));
            assert.ok(agent.calls.length >= 1 && agent.calls.every((c) => c.authorization === `pod-token-${run}`), `the catalog asked the endpoint with the token: ${JSON.stringify(agent.calls)}`);
            // The file is there, written under the role: read back with the role's own credentials.
            const c = roles.get("iceberg")!;
            const asRole = new S3Client({ endpoint, region: details.region!, forcePathStyle: true, credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken } });
            const listed = await asRole.send(new ListObjectsV2Command({ Bucket: buckets.iceberg.own, Prefix: `${namespace}/events/metadata/` }));
            assert.equal(listed.Contents?.length, 1);
            await call("DELETE", `/v1/namespaces/${namespace}/tables/events`);
            await call("DELETE", `/v1/namespaces/${namespace}`);
        } finally {
            await stopPids([catalog.pid]);
            await agent.close();
            fs.rmSync(workDir, { recursive: true, force: true });
        }
    });

    /**
     * Hadoop's S3A (SDK v1) against moto with its checks on gets 403 on its first listing
     * (ListObjectsV2, delimiter "/") even with a user's plain key whose policy allows it, and
     * retries it for minutes: moto refuses that request from SDK v1, whoever signs it. So this one
     * runs with the checks off: moto then takes any credentials, and what is proven is that the
     * filesystem found them where the pod identity agent puts them, and only there. What a role
     * may do is proven by the two consumers above, with the checks on.
     */
    it("Flink's S3 filesystem, loaded from plugins/ with the tier's s3 properties and no key, writes with the credentials the pod identity endpoint gives it, and has none without it", async function () {
        this.timeout(180_000);
        const checks = await setUncheckedRequests("inf");
        const agent = await credentialsEndpoint(`pod-token-${run}`, roles.get("flink")!);
        try {
            const home = engine("flink").details.flinkHome!;
            const properties = renderedFlink("laptop", endpoint).flinkProperties.split("\n").filter((l) => /^(s3|fs\.s3a)\./.test(l)).map((l) => l.replace(": ", "="));
            assert.ok(properties.some((p) => p.startsWith("fs.s3a.endpoint.region=")), `the tier renders the region: ${properties.join(" ")}`);
            const uri = `s3://${buckets.flink.own}/checkpoints/identity-${run}`;
            const write = async (env: Record<string, string>) => {
                const out = await runCommand(javaBin(), ["-cp", path.join(home, "lib", "*"), path.join(__dirname, "flink-s3-identity", "S3Identity.java"), ...properties, "--", uri], {
                    env: { PATH: process.env.PATH, ...(process.env.JAVA_HOME ? { JAVA_HOME: process.env.JAVA_HOME } : {}), FLINK_PLUGINS_DIR: path.join(home, "plugins"), ...env },
                });
                return out.trim().split("\n").find((l) => l.startsWith("s3://")) ?? out;
            };
            assert.equal(await write(agent.env), `${uri} ok`);
            assert.ok(agent.calls.length >= 1 && agent.calls.every((c) => c.authorization === `pod-token-${run}`), `the filesystem asked the endpoint with the token: ${JSON.stringify(agent.calls)}`);
            // The same process without the agent's variables has nothing to sign with.
            assert.match(await write({ HOME: agent.env.HOME }), /^s3:\/\/\S+ SdkClientException: Unable to load AWS credentials/);
        } finally {
            await agent.close();
            await setUncheckedRequests(checks);
        }
    });
});
