/**
 * The MinIO provisioning providers (components/objectstore/minio-admin.ts) against the real
 * server at the release the platform deploys: the admin API's signed, encrypted calls are
 * accepted; what they create is what MinIO enforces (a user gets into its own bucket and nowhere
 * else); refresh sees changes made out of band; delete never drops data; a second create adopts.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
    CreateBucketCommand,
    DeleteObjectCommand,
    GetObjectCommand,
    ListObjectsV2Command,
    PutBucketPolicyCommand,
    PutObjectCommand,
    S3Client,
} from "@aws-sdk/client-s3";
import {
    adminCall,
    AttachmentProvider,
    BucketProvider,
    madminEncrypt,
    type MinioConnection,
    PolicyProvider,
    UserProvider,
} from "../../components/objectstore/minio-admin";
import { policyDocument } from "../../components/objectstore/types";
import { goEnv } from "../engines/go";
import { run } from "../engines/lib";
import { engine } from "../engines/state";

const s3 = (address: string, accessKeyId: string, secretAccessKey: string) =>
    new S3Client({ endpoint: `http://${address}`, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 3 });

/** The unit suite's pinned vector: fixed salt 07x32 and nonce 09x8, so its bytes never change. */
const VECTOR = { password: "minio-admin-known-answer", plaintext: '{"secretKey":"s3cr3t-k3y-value","status":"enabled"}', sha256: "e1610a94b30680f21e658ac636b717431db3a6c9b346194ae1975b0af579ef7b" };

const code = (e: unknown) => (e as { Code?: string; name?: string }).Code ?? (e as Error).name;

/**
 * Builds the madmin-decrypt helper (madmin-go at the version MinIO's go.mod pins) and decrypts
 * each hex body with `password`; one result per body, "error: ..." when DecryptData refuses it.
 */
async function madminDecrypt(password: string, bodies: Buffer[]): Promise<string[]> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "madmin-decrypt-"));
    try {
        fs.copyFileSync(path.join(__dirname, "madmin-decrypt", "main.go"), path.join(dir, "main.go"));
        fs.writeFileSync(path.join(dir, "go.mod"), "module local.test/madmin-decrypt\n\ngo 1.24\n\nrequire github.com/minio/madmin-go/v3 v3.0.109\n");
        const binary = path.join(dir, "madmin-decrypt");
        await run("go", ["build", "-o", binary, "."], { cwd: dir, env: goEnv() });
        const out = await run(binary, [password], { input: bodies.map((b) => b.toString("hex")).join("\n") + "\n" });
        return out.trimEnd().split("\n");
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("MinIO provisioning against a real MinIO server", function () {
    // The first run compiles madmin-go for the decrypt check.
    this.timeout(300_000);

    const users = new UserProvider();
    const policies = new PolicyProvider();
    const attachments = new AttachmentProvider();
    const buckets = new BucketProvider();
    let conn: MinioConnection;
    let address: string;
    let root: S3Client;
    const run_ = randomUUID().slice(0, 8);
    const mine = `it-mine-${run_}`;
    const other = `it-other-${run_}`;
    const user = { name: `it-user-${run_}`, secretKey: randomBytes(20).toString("hex") };
    const policyName = `it-policy-${run_}`;
    const document = policyDocument([{ bucket: mine }]);

    before(() => {
        const minio = engine("minio");
        address = minio.endpoints.address!;
        conn = { reach: { address }, adminUser: minio.details.rootUser!, adminPassword: minio.details.rootPassword! };
        root = s3(address, conn.adminUser, conn.adminPassword);
    });
    after(() => root?.destroy());

    it("madmin-go's own DecryptData reads what madminEncrypt writes, in one fragment and in several; a wrong password fails", async () => {
        const sizes = [0, 1, 57, 16_384, 16_385, 40_000];
        const plain = sizes.map((n) => randomBytes(n));
        const bodies = plain.map((p) => madminEncrypt(conn.adminPassword, p));
        const decrypted = await madminDecrypt(conn.adminPassword, [...bodies, madminEncrypt("another password", plain[2]!)]);
        assert.deepEqual(decrypted.slice(0, sizes.length), plain.map((p) => p.toString("hex")));
        assert.match(decrypted[sizes.length]!, /^error: /);
        // The known-answer vector the unit suite pins (tests/unit/minio-admin.test.ts) decrypts too.
        const vector = madminEncrypt(VECTOR.password, Buffer.from(VECTOR.plaintext), { salt: Buffer.alloc(32, 7), nonce: Buffer.alloc(8, 9) });
        assert.equal(createHash("sha256").update(vector).digest("hex"), VECTOR.sha256);
        assert.deepEqual(await madminDecrypt(VECTOR.password, [vector]), [Buffer.from(VECTOR.plaintext).toString("hex")]);
    });

    it("creates private buckets; creating one that is already ours adopts it with its objects", async () => {
        for (const bucket of [mine, other]) {
            assert.deepEqual((await buckets.check({} as never, { ...conn, bucket, acl: "private" })).failures, []);
            assert.equal((await buckets.create({ ...conn, bucket, acl: "private" })).id, bucket);
        }
        await root.send(new PutObjectCommand({ Bucket: other, Key: "keep/me.txt", Body: "data" }));
        // As after a lost state, or a stack moving over from @pulumi/minio: the bucket exists already.
        assert.equal((await buckets.create({ ...conn, bucket: other, acl: "private" })).id, other);
        const listed = await root.send(new ListObjectsV2Command({ Bucket: other }));
        assert.deepEqual(listed.Contents?.map((o) => o.Key), ["keep/me.txt"]);
    });

    it("refresh sees a bucket policy added out of band, and the update makes the bucket private again", async () => {
        const state = { ...conn, bucket: mine, acl: "private" as const };
        assert.equal((await buckets.read(mine, state)).props?.acl, "private");
        const anonymousRead = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: ["*"] }, Action: ["s3:GetObject"], Resource: [`arn:aws:s3:::${mine}/*`] }] };
        await root.send(new PutBucketPolicyCommand({ Bucket: mine, Policy: JSON.stringify(anonymousRead) }));
        const drifted = await buckets.read(mine, state);
        assert.equal(drifted.props?.acl, "policy");
        assert.equal((await buckets.diff(mine, drifted.props!, state)).changes, true);
        await buckets.update(mine, drifted.props!, state);
        assert.equal((await buckets.read(mine, state)).props?.acl, "private");
    });

    it("creates the canned policy, the user and the attachment; a re-create of each changes nothing", async () => {
        const policyState = { ...conn, name: policyName, policy: document };
        assert.deepEqual((await policies.check({} as never, policyState)).failures, []);
        await policies.create(policyState);
        await users.create({ ...conn, ...user });
        const attachment = { ...conn, user: user.name, policy: policyName };
        assert.equal((await attachments.create(attachment)).id, `${user.name}/${policyName}`);
        // MinIO refuses an attach with "no net effect": the provider looks first, so this is a no-op.
        await attachments.create(attachment);
        await policies.create(policyState);
        assert.deepEqual((await attachments.read("x", attachment)).props, attachment);
        const info = JSON.parse((await adminCall(address, conn, "test", { method: "GET", path: "/user-info", query: { accessKey: user.name } })).toString()) as { status: string; policyName: string };
        assert.equal(info.status, "enabled");
        assert.equal(info.policyName, policyName);
    });

    it("the user's own credentials reach its bucket and nothing else (least privilege, enforced by MinIO)", async () => {
        const client = s3(address, user.name, user.secretKey);
        try {
            await client.send(new PutObjectCommand({ Bucket: mine, Key: "hello.txt", Body: "hi" }));
            const got = await client.send(new GetObjectCommand({ Bucket: mine, Key: "hello.txt" }));
            assert.equal(await got.Body!.transformToString(), "hi");
            await assert.rejects(client.send(new GetObjectCommand({ Bucket: other, Key: "keep/me.txt" })), (e) => code(e) === "AccessDenied");
            await assert.rejects(client.send(new PutObjectCommand({ Bucket: other, Key: "x", Body: "x" })), (e) => code(e) === "AccessDenied");
            await assert.rejects(client.send(new CreateBucketCommand({ Bucket: `it-new-${run_}` })), (e) => code(e) === "AccessDenied");
            // A wrong secret is refused: the secret key really is the one we set.
            const wrong = s3(address, user.name, "not-the-secret-key");
            await assert.rejects(wrong.send(new GetObjectCommand({ Bucket: mine, Key: "hello.txt" })), (e) => code(e) === "SignatureDoesNotMatch");
            wrong.destroy();
        } finally {
            client.destroy();
        }
    });

    it("refresh reads the policy MinIO enforces: no drift when unchanged, an out-of-band edit shows and the update reverts it", async () => {
        const state = { ...conn, name: policyName, policy: document };
        const unchanged = await policies.read(policyName, state);
        assert.equal(unchanged.props?.policy, document, "an equal document keeps the state's text");
        assert.equal((await policies.diff(policyName, unchanged.props!, state)).changes, false);

        const widened = policyDocument([{ bucket: mine }, { bucket: other }]);
        await adminCall(address, conn, "out-of-band edit", { method: "PUT", path: "/add-canned-policy", query: { name: policyName }, body: Buffer.from(widened) });
        const drifted = await policies.read(policyName, state);
        assert.notEqual(drifted.props?.policy, document);
        assert.match(drifted.props!.policy, new RegExp(other));
        assert.equal((await policies.diff(policyName, drifted.props!, state)).changes, true);
        await policies.update(policyName, drifted.props!, state);
        assert.equal((await policies.read(policyName, state)).props?.policy, document);

        // A Condition (one value, as a string) comes back re-marshalled by MinIO: still no drift.
        const listUnder = { Effect: "Allow", Action: "s3:ListBucket", Resource: `arn:aws:s3:::${mine}`, Condition: { StringLike: { "s3:prefix": "events/*" } } };
        const prefixed = { ...state, policy: JSON.stringify({ Version: "2012-10-17", Statement: [listUnder] }) };
        await policies.update(policyName, state, prefixed);
        assert.equal((await policies.diff(policyName, (await policies.read(policyName, prefixed)).props!, prefixed)).changes, false);
        await policies.update(policyName, prefixed, state);
    });

    it("refresh sees a user disabled and a policy detached out of band; create and update put them back", async () => {
        const userState = { ...conn, ...user, status: "enabled" };
        await adminCall(address, conn, "out-of-band disable", { method: "PUT", path: "/set-user-status", query: { accessKey: user.name, status: "disabled" } });
        const disabled = await users.read(user.name, userState);
        assert.equal(disabled.props?.status, "disabled");
        assert.equal((await users.diff(user.name, disabled.props!, { ...conn, ...user })).changes, true);
        assert.equal((await users.update(user.name, disabled.props!, { ...conn, ...user })).outs?.status, "enabled");
        assert.equal((await users.read(user.name, userState)).props?.status, "enabled");

        const attachment = { ...conn, user: user.name, policy: policyName };
        await adminCall(address, conn, "out-of-band detach", {
            method: "POST",
            path: "/idp/builtin/policy/detach",
            body: madminEncrypt(conn.adminPassword, Buffer.from(JSON.stringify({ policies: [policyName], user: user.name }))),
            contentType: "application/octet-stream",
        });
        assert.deepEqual(await attachments.read("x", attachment), {}, "a detached policy is gone from the state");
        await attachments.create(attachment);
        assert.deepEqual((await attachments.read("x", attachment)).props, attachment);
    });

    it("a rotated secret key is an update: the old key stops working, the new one works", async () => {
        const rotated = { ...user, secretKey: randomBytes(20).toString("hex") };
        assert.equal((await users.diff(user.name, { ...conn, ...user }, { ...conn, ...rotated })).changes, true);
        assert.deepEqual((await users.diff(user.name, { ...conn, ...user }, { ...conn, ...user, reach: { address: "elsewhere:9000" } })).changes, false);
        await users.update(user.name, { ...conn, ...user }, { ...conn, ...rotated });
        const fresh = s3(address, user.name, rotated.secretKey);
        const stale = s3(address, user.name, user.secretKey);
        try {
            await fresh.send(new GetObjectCommand({ Bucket: mine, Key: "hello.txt" }));
            await assert.rejects(stale.send(new GetObjectCommand({ Bucket: mine, Key: "hello.txt" })), (e) => code(e) === "SignatureDoesNotMatch");
        } finally {
            fresh.destroy();
            stale.destroy();
        }
        user.secretKey = rotated.secretKey;
    });

    it("errors name the object and the server: a wrong admin password", async () => {
        const wrong = { ...conn, adminPassword: "not-the-root-password" };
        await assert.rejects(policies.create({ ...wrong, name: policyName, policy: document }), (e: Error) => {
            assert.match(e.message, new RegExp(`^writing policy ${policyName}: MinIO at ${address} answered HTTP 403 SignatureDoesNotMatch`));
            return true;
        });
        await assert.rejects(buckets.read(mine, { ...wrong, bucket: mine, acl: "private" }), new RegExp(`reading bucket ${mine} on MinIO at ${address}`));
    });

    it("refuses to delete a bucket that holds data, with the reason and the way out; deletes it once empty", async () => {
        const state = { ...conn, bucket: mine, acl: "private" as const };
        await assert.rejects(buckets.delete(mine, state), (e: Error) => {
            assert.match(e.message, new RegExp(`^bucket ${mine} on MinIO at ${address} is not empty \\(holds hello.txt\\): Pulumi never deletes data`));
            assert.match(e.message, /pulumi state delete/);
            return true;
        });
        assert.ok((await buckets.read(mine, state)).id, "the bucket is still there");
        await root.send(new DeleteObjectCommand({ Bucket: mine, Key: "hello.txt" }));
        await buckets.delete(mine, state);
        assert.deepEqual(await buckets.read(mine, state), {});
        await buckets.delete(mine, state); // already gone: nothing to do
    });

    it("deletes the attachment (the user loses access), the user and the policy; second deletes are no-ops, reads say gone", async () => {
        const attachment = { ...conn, user: user.name, policy: policyName };
        await root.send(new PutObjectCommand({ Bucket: other, Key: "probe", Body: "p" }));
        await attachments.delete("x", attachment);
        assert.deepEqual(await attachments.read("x", attachment), {});
        await attachments.delete("x", attachment);

        await users.delete(user.name, { ...conn, ...user });
        assert.deepEqual(await users.read(user.name, { ...conn, ...user }), {});
        await users.delete(user.name, { ...conn, ...user });
        const gone = s3(address, user.name, user.secretKey);
        await assert.rejects(gone.send(new ListObjectsV2Command({ Bucket: other })), (e) => code(e) === "InvalidAccessKeyId");
        gone.destroy();
        // An attachment of a deleted user reads as gone, and deleting it is a no-op.
        assert.deepEqual(await attachments.read("x", attachment), {});
        await attachments.delete("x", attachment);

        await policies.delete(policyName, { ...conn, name: policyName, policy: document });
        assert.deepEqual(await policies.read(policyName, { ...conn, name: policyName, policy: document }), {});
        await policies.delete(policyName, { ...conn, name: policyName, policy: document });

        for (const key of ["keep/me.txt", "probe"]) await root.send(new DeleteObjectCommand({ Bucket: other, Key: key }));
        await buckets.delete(other, { ...conn, bucket: other, acl: "private" });
    });
});
