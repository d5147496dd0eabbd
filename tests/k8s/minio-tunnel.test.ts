/**
 * MinIO provisioned as on a private cluster: the MinIO providers reach `svc/minio:9000` only
 * through the tunnel they open themselves (kubectl port-forward via the real API server to a kwok
 * pod whose port kwok forwards to the real MinIO engine). The S3 API (buckets) and the signed,
 * encrypted admin API (policies, users, attachments) both go through it, and nothing connects to
 * MinIO directly while they work; the result is then checked on MinIO itself.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { HeadBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { AttachmentProvider, BucketProvider, type MinioConnection, PolicyProvider, UserProvider } from "../../components/objectstore/minio-admin";
import { policyDocument } from "../../components/objectstore/types";
import { withReach } from "../../components/shared/tunnel";
import { waitUntil } from "../engines/lib";
import { engine } from "../engines/state";
import { clusterOf } from "./api";
import { connectionsDuring, kubectls, namespaceReady, serviceOnEngine } from "./fake-service";

const s3 = (address: string, accessKeyId: string, secretAccessKey: string) =>
    new S3Client({ endpoint: `http://${address}`, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });

describe("MinIO provisioned through a tunnel into the namespace (kubectl port-forward via a real API server)", function () {
    const namespace = `minio-${Date.now().toString(36)}`;
    const run = randomUUID().slice(0, 8);
    const bucket = `tunnelled-${run}`;
    const user = { name: `tunnelled-user-${run}`, secretKey: randomBytes(20).toString("hex") };
    const policy = { name: `tunnelled-policy-${run}`, policy: policyDocument([{ bucket }]) };
    let direct: string;
    let conn: MinioConnection;
    const savedKubectl = process.env.KUBECTL;

    before(async () => {
        const k = engine("kubernetes");
        const minio = engine("minio");
        direct = minio.endpoints.address!;
        process.env.KUBECTL = k.details.kubectl!;
        const cluster = clusterOf(k);
        await namespaceReady(cluster, namespace);
        await serviceOnEngine(cluster, namespace, "minio", 9000, Number(direct.slice(direct.lastIndexOf(":") + 1)));
        // What the Kubernetes platform hands the providers: the Service's name and the namespace.
        conn = { reach: { address: "minio:9000", via: { namespace, kubeconfig: k.details.kubeconfig! } }, adminUser: minio.details.rootUser!, adminPassword: minio.details.rootPassword! };
        // kwok picks the PortForward up from a watch: the first connections may find no rule yet.
        await waitUntil("MinIO answering through the tunnel", () => withReach([conn.reach], async ([address]) => (await fetch(`http://${address}/minio/health/ready`)).ok), { timeoutMs: 120_000, intervalMs: 1_000 });
    });

    after(() => {
        if (savedKubectl === undefined) delete process.env.KUBECTL;
        else process.env.KUBECTL = savedKubectl;
    });

    afterEach(() => assert.deepEqual(kubectls(), [], "a kubectl is still running"));

    it("creates a bucket, a policy, a user and its attachment, and reads each back, without connecting to MinIO directly", async () => {
        const port = Number(direct.slice(direct.lastIndexOf(":") + 1));
        const around = await connectionsDuring(port, async () => {
            await new BucketProvider().create({ ...conn, bucket, acl: "private" });
            await new PolicyProvider().create({ ...conn, ...policy });
            await new UserProvider().create({ ...conn, ...user });
            await new AttachmentProvider().create({ ...conn, user: user.name, policy: policy.name });
            assert.equal((await new BucketProvider().read(bucket, { ...conn, bucket, acl: "private" })).props?.acl, "private");
            assert.deepEqual((await new AttachmentProvider().read("x", { ...conn, user: user.name, policy: policy.name })).props?.policy, policy.name);
        });
        assert.equal(around, 0, "a provider went around the tunnel");
    });

    it("made them on MinIO itself: the new user writes to its bucket with its own key", async () => {
        const root = s3(direct, conn.adminUser, conn.adminPassword);
        const own = s3(direct, user.name, user.secretKey);
        try {
            await root.send(new HeadBucketCommand({ Bucket: bucket }));
            await own.send(new PutObjectCommand({ Bucket: bucket, Key: "through/the/tunnel.txt", Body: "made on a private cluster" }));
        } finally {
            root.destroy();
            own.destroy();
        }
    });

    it("refuses, through the tunnel, to delete the bucket while it holds data, naming where MinIO was reached", async () => {
        await assert.rejects(new BucketProvider().delete(bucket, { ...conn, bucket, acl: "private" }), (e: Error) => {
            assert.match(e.message, new RegExp(`bucket ${bucket} .*not empty`));
            assert.match(e.message, new RegExp(`svc/minio:9000 in namespace ${namespace}`));
            return true;
        });
    });
});
