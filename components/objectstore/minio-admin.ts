import * as pulumi from "@pulumi/pulumi";
import type { Reach } from "../platform/types";
import { describeReach, withReach } from "../shared/tunnel";

/**
 * MinIO's buckets, canned policies, users and policy attachments as dynamic providers. They
 * replace @pulumi/minio, a native plugin configured with one fixed address: on Kubernetes the
 * MinIO Service is only reachable through a tunnel, and `destroy`/`refresh` run without the
 * program, so each operation here opens its own way in (`withReach` on the state's `reach`).
 *
 * Buckets go through the S3 API (@aws-sdk/client-s3). Everything else goes through MinIO's admin
 * API (madmin), which has no JavaScript client: SigV4-signed HTTP (service `s3`) whose user and
 * attachment bodies are encrypted with the admin's secret key (`madminEncrypt`). The wire format
 * is madmin-go v3.0.109's, the version the pinned server (RELEASE.2025-09-07T16-13-09Z) builds with.
 *
 * Adopt or refuse: a bucket that already exists and is ours (BucketAlreadyOwnedByYou) is adopted,
 * because deleting one never loses data (delete refuses a non-empty bucket); that is also how a
 * stack moves over from @pulumi/minio. Policies, users and attachments hold no data and their
 * admin calls are upserts: creating one over an existing one makes it what the program declares.
 *
 * Dynamic providers are serialized closures: npm modules are required inside the functions.
 */

/** How every resource here reaches MinIO and signs in: the admin login is secret, the reach never is. */
export interface MinioConnection {
    reach: Reach;
    adminUser: string;
    adminPassword: string;
}

/** The region MinIO signs with unless configured otherwise (the platform leaves it unset). */
export const MINIO_REGION = "us-east-1";

// ---------------------------------------------------------------------------------------------
// madmin body encryption

/**
 * sio (github.com/secure-io/sio-go v0.3.1, the DARE stream format) with AES-GCM: the plaintext
 * in fragments of `bufSize` bytes, each sealed with the nonce `nonce8 || LE32(seq)`. The AD of
 * every fragment is a flag byte and the GCM tag of an empty seal at seq 0 over `associatedData`;
 * the flag is 0x00, and 0x80 on the last fragment (which holds 0..bufSize bytes), so a stream
 * cut at a fragment boundary does not authenticate. Exported for the known-answer tests
 * against sio-go's own test vectors.
 */
export function sioSeal(key: Buffer, nonce: Buffer, plaintext: Buffer, bufSize = 1 << 14, associatedData: Buffer = Buffer.alloc(0)): Buffer {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const crypto = require("node:crypto") as typeof import("node:crypto");
    if (nonce.length !== 8) throw new Error(`sio: the nonce is ${nonce.length} bytes, expected 8 (AES-GCM's 12 minus the sequence number)`);
    const algorithm = key.length === 32 ? "aes-256-gcm" : key.length === 16 ? "aes-128-gcm" : undefined;
    if (!algorithm) throw new Error(`sio: a ${key.length}-byte key; AES-GCM takes 16 or 32`);
    const seal = (seq: number, data: Buffer, ad: Buffer) => {
        const iv = Buffer.alloc(12);
        nonce.copy(iv, 0);
        iv.writeUInt32LE(seq, 8);
        const cipher = crypto.createCipheriv(algorithm, key, iv);
        cipher.setAAD(ad);
        return Buffer.concat([cipher.update(data), cipher.final(), cipher.getAuthTag()]);
    };
    const ad = Buffer.concat([Buffer.from([0x00]), seal(0, Buffer.alloc(0), associatedData)]);
    const out: Buffer[] = [];
    let seq = 1;
    let offset = 0;
    for (; plaintext.length - offset > bufSize; offset += bufSize) out.push(seal(seq++, plaintext.subarray(offset, offset + bufSize), ad));
    const last = Buffer.from(ad);
    last[0] = 0x80;
    out.push(seal(seq, plaintext.subarray(offset), last));
    return Buffer.concat(out);
}

/** madmin's AEAD id for PBKDF2-SHA256 + AES-256-GCM, which `DecryptData` accepts (madmin-go encrypt.go). */
export const MADMIN_PBKDF2_AES_GCM = 0x02;

/**
 * madmin `EncryptData`'s wire format: `salt(32) | id(1) | nonce(8) | sio stream`, the key derived
 * from `password` (the admin's secret key). madmin itself uses Argon2id unless in FIPS mode; the
 * server decrypts every id, and PBKDF2 (8192 rounds of SHA-256, a 32-byte key) is in Node's crypto.
 * `salt` and `nonce` are for known-answer tests only: a fixed nonce under a fixed key is not secure.
 */
export function madminEncrypt(password: string, data: Buffer, fixed: { salt?: Buffer; nonce?: Buffer } = {}): Buffer {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const crypto = require("node:crypto") as typeof import("node:crypto");
    const salt = fixed.salt ?? crypto.randomBytes(32);
    const nonce = fixed.nonce ?? crypto.randomBytes(8);
    const key = crypto.pbkdf2Sync(Buffer.from(password, "utf8"), salt, 8192, 32, "sha256");
    return Buffer.concat([salt, Buffer.from([MADMIN_PBKDF2_AES_GCM]), nonce, sioSeal(key, nonce, data)]);
}

// ---------------------------------------------------------------------------------------------
// Admin API calls

export interface AdminRequest {
    method: "GET" | "PUT" | "POST" | "DELETE";
    /** Under /minio/admin/v3, e.g. `/add-user`. */
    path: string;
    query?: Record<string, string>;
    body?: Buffer;
    contentType?: string;
}

/**
 * The URL and headers of a SigV4-signed admin call, as madmin-go sends it: service `s3`, the
 * payload's SHA-256 in `x-amz-content-sha256`, the host signed as `address`. Pure but for the
 * clock (`date` pins it in tests).
 */
export async function signAdminRequest(
    address: string,
    credentials: { accessKeyId: string; secretAccessKey: string },
    request: AdminRequest,
    date?: Date,
): Promise<{ url: string; headers: Record<string, string> }> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const crypto = require("node:crypto") as typeof import("node:crypto");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { SignatureV4 } = require("@smithy/signature-v4") as typeof import("@smithy/signature-v4");
    // The Checksum SignatureV4 expects, from Node's crypto (@aws-crypto is not installed): HMAC when keyed.
    class Sha256 {
        private hash: import("node:crypto").Hash | import("node:crypto").Hmac;
        constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
            this.hash = this.fresh();
        }
        private fresh() {
            const secret = this.secret;
            if (secret === undefined) return crypto.createHash("sha256");
            const key = typeof secret === "string" ? secret : ArrayBuffer.isView(secret) ? Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength) : Buffer.from(secret);
            return crypto.createHmac("sha256", key);
        }
        update(data: string | ArrayBuffer | ArrayBufferView): void {
            this.hash.update(typeof data === "string" ? data : ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data));
        }
        async digest(): Promise<Uint8Array> {
            return new Uint8Array(this.hash.digest());
        }
        reset(): void {
            this.hash = this.fresh();
        }
    }
    const [hostname, port] = address.split(":");
    const body = request.body ?? Buffer.alloc(0);
    const headers: Record<string, string> = {
        host: address,
        "x-amz-content-sha256": crypto.createHash("sha256").update(body).digest("hex"),
    };
    if (request.contentType) headers["content-type"] = request.contentType;
    const path = `/minio/admin/v3${request.path}`;
    const signer = new SignatureV4({ service: "s3", region: MINIO_REGION, credentials, sha256: Sha256, uriEscapePath: true });
    const signed = await signer.sign(
        { method: request.method, protocol: "http:", hostname, port: port ? Number(port) : undefined, path, query: request.query ?? {}, headers, body },
        { signingDate: date },
    );
    const query = new URLSearchParams(request.query ?? {}).toString().replace(/\+/g, "%20");
    return { url: `http://${address}${path}${query ? `?${query}` : ""}`, headers: signed.headers as Record<string, string> };
}

/** An admin API answer that was not a 2xx, with MinIO's own error code (`XMinioAdminNoSuchUser`, ...). */
export class MinioAdminError extends Error {
    constructor(message: string, readonly status: number, readonly code: string) {
        super(message);
    }
}

/** Calls the admin API at `address` (already local: inside `withReach`). `what` names the object in errors. */
export async function adminCall(address: string, conn: Pick<MinioConnection, "adminUser" | "adminPassword">, what: string, request: AdminRequest): Promise<Buffer> {
    const { url, headers } = await signAdminRequest(address, { accessKeyId: conn.adminUser, secretAccessKey: conn.adminPassword }, request);
    let response: Response;
    try {
        response = await fetch(url, {
            method: request.method,
            headers,
            body: request.body && request.body.length > 0 ? new Uint8Array(request.body) : undefined,
            signal: AbortSignal.timeout(60_000),
        });
    } catch (e) {
        throw new Error(`${what}: MinIO's admin API at ${address} did not answer: ${e instanceof Error ? `${e.message}${e.cause ? ` (${String(e.cause)})` : ""}` : String(e)}`);
    }
    const text = Buffer.from(await response.arrayBuffer());
    if (response.ok) return text;
    let code = "";
    let message = text.toString("utf8").slice(0, 500);
    try {
        const parsed = JSON.parse(message) as { Code?: string; Message?: string };
        code = parsed.Code ?? "";
        message = parsed.Message ?? message;
    } catch {
        // not MinIO's JSON error (a proxy in between, say): the raw text says more than nothing
    }
    throw new MinioAdminError(`${what}: MinIO at ${address} answered HTTP ${response.status}${code ? ` ${code}` : ""}: ${message}`, response.status, code);
}

/** adminCall, with MinIO's "no such ..." answer (`missing`, e.g. XMinioAdminNoSuchUser) as undefined: the object is gone. */
async function adminCallIfPresent(missing: string, ...call: Parameters<typeof adminCall>): Promise<Buffer | undefined> {
    try {
        return await adminCall(...call);
    } catch (e) {
        if (e instanceof MinioAdminError && e.code === missing) return undefined;
        throw e;
    }
}

/** Runs `fn` with MinIO's address as reachable from here (a tunnel on Kubernetes), for one operation. */
function onMinio<T>(conn: MinioConnection, fn: (address: string) => Promise<T>): Promise<T> {
    return withReach([conn.reach], ([address]) => fn(address!));
}

/** Where an object lives, for error messages: the address, and the tunnel to it on Kubernetes. */
const at = (conn: MinioConnection) => describeReach(conn.reach);

// ---------------------------------------------------------------------------------------------
// Buckets

export interface BucketState extends MinioConnection {
    bucket: string;
    /** Only "private": no bucket policy, so only users whose own policy names the bucket get in. */
    acl: "private";
}

/** An S3 client on a local address, signing as the admin; required lazily (serialized provider). */
function s3Client(address: string, conn: MinioConnection) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { S3Client } = require("@aws-sdk/client-s3") as typeof import("@aws-sdk/client-s3");
    return new S3Client({
        endpoint: `http://${address}`,
        region: MINIO_REGION,
        forcePathStyle: true,
        credentials: { accessKeyId: conn.adminUser, secretAccessKey: conn.adminPassword },
        maxAttempts: 3,
    });
}

/** An AWS SDK error's code (`name`), or undefined for anything else. */
const s3Code = (e: unknown) => (e instanceof Error ? ((e as { Code?: string }).Code ?? e.name) : undefined);
const s3Status = (e: unknown) => (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;

async function onBucket<T>(what: string, conn: MinioConnection, fn: (client: ReturnType<typeof s3Client>) => Promise<T>): Promise<T> {
    return onMinio(conn, async (address) => {
        const client = s3Client(address, conn);
        try {
            return await fn(client);
        } catch (e) {
            if (e instanceof BucketRefusal) throw e;
            throw new Error(`${what} on MinIO at ${at(conn)}: ${s3Code(e) ?? ""}${e instanceof Error ? ` ${e.message}` : ` ${String(e)}`}`);
        } finally {
            client.destroy();
        }
    });
}

/** A refusal of ours, already worded for the user: not wrapped again. */
class BucketRefusal extends Error {}

/** Removes any bucket policy, so the bucket is private again (a 404 for "none" is what we want). */
async function makePrivate(client: ReturnType<typeof s3Client>, bucket: string): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { DeleteBucketPolicyCommand } = require("@aws-sdk/client-s3") as typeof import("@aws-sdk/client-s3");
    await client.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
}

/** "private" when the bucket has no bucket policy, "policy" when one lets someone else in. */
async function bucketAcl(client: ReturnType<typeof s3Client>, bucket: string): Promise<string> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { GetBucketPolicyCommand } = require("@aws-sdk/client-s3") as typeof import("@aws-sdk/client-s3");
    try {
        await client.send(new GetBucketPolicyCommand({ Bucket: bucket }));
        return "policy";
    } catch (e) {
        if (s3Code(e) === "NoSuchBucketPolicy") return "private";
        throw e;
    }
}

export class BucketProvider implements pulumi.dynamic.ResourceProvider<BucketState, BucketState> {
    async check(_olds: BucketState, news: BucketState): Promise<pulumi.dynamic.CheckResult<BucketState>> {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        // S3's rules as MinIO enforces them: 3-63 lowercase letters, digits, dots and hyphens.
        if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(news.bucket ?? "")) {
            failures.push({ property: "bucket", reason: `bucket name "${news.bucket}": 3 to 63 lowercase letters, digits, dots or hyphens` });
        }
        if (news.acl !== "private") failures.push({ property: "acl", reason: `acl "${news.acl}": only "private" is supported` });
        return { inputs: news, failures };
    }

    async diff(_id: string, olds: BucketState, news: BucketState): Promise<pulumi.dynamic.DiffResult> {
        // A new address, tunnel or admin password is the same bucket reached another way.
        const replaces = olds.bucket !== news.bucket ? ["bucket"] : [];
        return { changes: replaces.length > 0 || olds.acl !== news.acl, replaces, deleteBeforeReplace: false };
    }

    async create(inputs: BucketState): Promise<pulumi.dynamic.CreateResult<BucketState>> {
        await onBucket(`creating bucket ${inputs.bucket}`, inputs, async (client) => {
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const { CreateBucketCommand } = require("@aws-sdk/client-s3") as typeof import("@aws-sdk/client-s3");
            try {
                await client.send(new CreateBucketCommand({ Bucket: inputs.bucket }));
            } catch (e) {
                // Ours already (a lost state, or a stack moving over from @pulumi/minio): adopt it.
                if (s3Code(e) !== "BucketAlreadyOwnedByYou") throw e;
            }
            await makePrivate(client, inputs.bucket);
        });
        return { id: inputs.bucket, outs: inputs };
    }

    async update(_id: string, _olds: BucketState, news: BucketState): Promise<pulumi.dynamic.UpdateResult<BucketState>> {
        await onBucket(`making bucket ${news.bucket} private`, news, (client) => makePrivate(client, news.bucket));
        return { outs: news };
    }

    /** The bucket as MinIO has it (`pulumi refresh`): gone, or with a bucket policy added out of band. */
    async read(id: string, props?: BucketState): Promise<pulumi.dynamic.ReadResult<BucketState>> {
        if (!props?.reach) throw new Error(`bucket ${id}: reading needs MinIO's reach and admin login from the state (import is not supported)`);
        return onBucket(`reading bucket ${id}`, props, async (client) => {
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const { HeadBucketCommand } = require("@aws-sdk/client-s3") as typeof import("@aws-sdk/client-s3");
            try {
                await client.send(new HeadBucketCommand({ Bucket: id }));
            } catch (e) {
                if (s3Status(e) === 404) return {};
                throw e;
            }
            return { id, props: { ...props, bucket: id, acl: (await bucketAcl(client, id)) as "private" } };
        });
    }

    /** Only an empty bucket, as @pulumi/minio's `forceDestroy: false`: the data is never Pulumi's to drop. */
    async delete(id: string, props: BucketState): Promise<void> {
        await onBucket(`deleting bucket ${id}`, props, async (client) => {
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const { DeleteBucketCommand, ListObjectsV2Command } = require("@aws-sdk/client-s3") as typeof import("@aws-sdk/client-s3");
            try {
                await client.send(new DeleteBucketCommand({ Bucket: id }));
            } catch (e) {
                const code = s3Code(e);
                if (code === "NoSuchBucket") return;
                if (code !== "BucketNotEmpty") throw e;
                const listed = await client.send(new ListObjectsV2Command({ Bucket: id, MaxKeys: 3 }));
                const sample = (listed.Contents ?? []).map((o) => o.Key).join(", ");
                throw new BucketRefusal(
                    `bucket ${id} on MinIO at ${at(props)} is not empty (${sample ? `holds ${sample}${listed.IsTruncated ? ", ..." : ""}` : "holds object versions or uploads"}): ` +
                        `Pulumi never deletes data. Empty it first, or keep it and drop it from the stack with \`pulumi state delete <urn>\``,
                );
            }
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Canned policies

export interface PolicyState extends MinioConnection {
    name: string;
    /** The IAM policy document, JSON. */
    policy: string;
}

/**
 * A policy document in a form where equal meaning compares equal: MinIO stores its parsed form
 * (string-or-list fields become lists, sets come back in its own order, whitespace differs).
 */
export function canonicalPolicy(policy: string): string {
    const sortKeys = (v: unknown): unknown => {
        if (Array.isArray(v)) return v.map(sortKeys);
        if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
        return v;
    };
    const asSet = (v: unknown) => (Array.isArray(v) ? [...v].map(String).sort() : typeof v === "string" ? [v] : v);
    const doc = JSON.parse(policy) as { Version?: string; Statement?: Record<string, unknown>[] | Record<string, unknown> };
    const statements = (Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : []).map((s) => {
        const out: Record<string, unknown> = { ...s };
        for (const key of ["Action", "NotAction", "Resource", "NotResource"]) if (key in out) out[key] = asSet(out[key]);
        // MinIO writes an empty Sid and Condition back; absent and empty mean the same.
        if (out.Sid === "") delete out.Sid;
        if (out.Condition && typeof out.Condition === "object") {
            // Condition values are sets too: {"StringLike": {"s3:prefix": "a/*"}} means ["a/*"].
            const conditions = Object.entries(out.Condition as Record<string, Record<string, unknown>>).map(
                ([op, keys]) => [op, Object.fromEntries(Object.entries(keys ?? {}).map(([k, v]) => [k, asSet(v)]))] as const,
            );
            if (conditions.length === 0) delete out.Condition;
            else out.Condition = Object.fromEntries(conditions);
        }
        return sortKeys(out);
    });
    return JSON.stringify({ Version: doc.Version, Statement: statements });
}

function samePolicy(a: string, b: string): boolean {
    try {
        return canonicalPolicy(a) === canonicalPolicy(b);
    } catch {
        return a === b;
    }
}

async function putPolicy(state: PolicyState): Promise<void> {
    await onMinio(state, (address) =>
        adminCall(address, state, `writing policy ${state.name}`, {
            method: "PUT",
            path: "/add-canned-policy",
            query: { name: state.name },
            body: Buffer.from(state.policy, "utf8"),
        }),
    );
}

export class PolicyProvider implements pulumi.dynamic.ResourceProvider<PolicyState, PolicyState> {
    async check(_olds: PolicyState, news: PolicyState): Promise<pulumi.dynamic.CheckResult<PolicyState>> {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (!news.name || /^\s|\s$|,/.test(news.name)) failures.push({ property: "name", reason: `policy name "${news.name}": no commas, no leading or trailing space` });
        // The policy may still be unknown in a preview; only a known one is checked.
        if (typeof news.policy === "string") {
            try {
                if (!(JSON.parse(news.policy) as { Version?: string }).Version) failures.push({ property: "policy", reason: `policy ${news.name}: the document needs a Version` });
            } catch (e) {
                failures.push({ property: "policy", reason: `policy ${news.name} is not JSON: ${e instanceof Error ? e.message : String(e)}` });
            }
        }
        return { inputs: news, failures };
    }

    async diff(_id: string, olds: PolicyState, news: PolicyState): Promise<pulumi.dynamic.DiffResult> {
        const replaces = olds.name !== news.name ? ["name"] : [];
        return { changes: replaces.length > 0 || !samePolicy(olds.policy, news.policy), replaces, deleteBeforeReplace: false };
    }

    async create(inputs: PolicyState): Promise<pulumi.dynamic.CreateResult<PolicyState>> {
        await putPolicy(inputs);
        return { id: inputs.name, outs: inputs };
    }

    async update(_id: string, _olds: PolicyState, news: PolicyState): Promise<pulumi.dynamic.UpdateResult<PolicyState>> {
        await putPolicy(news);
        return { outs: news };
    }

    /** The document MinIO enforces (`pulumi refresh`): one changed out of band shows as drift. */
    async read(id: string, props?: PolicyState): Promise<pulumi.dynamic.ReadResult<PolicyState>> {
        if (!props?.reach) throw new Error(`policy ${id}: reading needs MinIO's reach and admin login from the state (import is not supported)`);
        return onMinio(props, async (address) => {
            const found = await adminCallIfPresent("XMinioAdminNoSuchPolicy", address, props, `reading policy ${id}`, { method: "GET", path: "/info-canned-policy", query: { name: id } });
            if (!found) return {};
            const live = found.toString("utf8");
            // The state keeps our text while the meaning is the same, so a refresh changes nothing.
            return { id, props: { ...props, name: id, policy: samePolicy(live, props.policy) ? props.policy : live } };
        });
    }

    async delete(id: string, props: PolicyState): Promise<void> {
        await onMinio(props, async (address) => {
            await adminCallIfPresent("XMinioAdminNoSuchPolicy", address, props, `deleting policy ${id}`, { method: "DELETE", path: "/remove-canned-policy", query: { name: id } });
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Users

export interface UserState extends MinioConnection {
    /** The user's access key. */
    name: string;
    secretKey: string;
    /** As MinIO reports it; we keep every user "enabled". */
    status?: string;
}

/** MinIO's user-info, or undefined when there is no such user. */
async function userInfo(address: string, conn: MinioConnection, name: string): Promise<{ status?: string; policyName?: string } | undefined> {
    const found = await adminCallIfPresent("XMinioAdminNoSuchUser", address, conn, `reading user ${name}`, { method: "GET", path: "/user-info", query: { accessKey: name } });
    return found && JSON.parse(found.toString("utf8"));
}

async function putUser(state: UserState): Promise<void> {
    await onMinio(state, (address) =>
        adminCall(address, state, `writing user ${state.name}`, {
            method: "PUT",
            path: "/add-user",
            query: { accessKey: state.name },
            // madmin.AddOrUpdateUserReq; the body is encrypted with the admin's secret key.
            body: madminEncrypt(state.adminPassword, Buffer.from(JSON.stringify({ secretKey: state.secretKey, status: "enabled" }), "utf8")),
            contentType: "application/octet-stream",
        }),
    );
}

export class UserProvider implements pulumi.dynamic.ResourceProvider<UserState, UserState> {
    async check(_olds: UserState, news: UserState): Promise<pulumi.dynamic.CheckResult<UserState>> {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (!news.name || news.name.length < 3 || /^\s|\s$/.test(news.name)) failures.push({ property: "name", reason: `user name "${news.name}": at least 3 characters, no leading or trailing space` });
        if (typeof news.secretKey === "string" && news.secretKey.length < 8) failures.push({ property: "secretKey", reason: `the secret key of user ${news.name} has fewer than 8 characters (MinIO's minimum)` });
        return { inputs: news, failures };
    }

    async diff(_id: string, olds: UserState, news: UserState): Promise<pulumi.dynamic.DiffResult> {
        const replaces = olds.name !== news.name ? ["name"] : [];
        // A user disabled out of band (seen by refresh) is put back to enabled by an update.
        const changes = replaces.length > 0 || olds.secretKey !== news.secretKey || (olds.status !== undefined && olds.status !== "enabled");
        return { changes, replaces, deleteBeforeReplace: false };
    }

    async create(inputs: UserState): Promise<pulumi.dynamic.CreateResult<UserState>> {
        await putUser(inputs);
        return { id: inputs.name, outs: { ...inputs, status: "enabled" } };
    }

    async update(_id: string, _olds: UserState, news: UserState): Promise<pulumi.dynamic.UpdateResult<UserState>> {
        await putUser(news);
        return { outs: { ...news, status: "enabled" } };
    }

    /** Whether the user exists and is enabled (`pulumi refresh`); MinIO never returns the secret key. */
    async read(id: string, props?: UserState): Promise<pulumi.dynamic.ReadResult<UserState>> {
        if (!props?.reach) throw new Error(`user ${id}: reading needs MinIO's reach and admin login from the state (import is not supported)`);
        return onMinio(props, async (address) => {
            const info = await userInfo(address, props, id);
            return info ? { id, props: { ...props, name: id, status: info.status } } : {};
        });
    }

    async delete(id: string, props: UserState): Promise<void> {
        await onMinio(props, async (address) => {
            await adminCallIfPresent("XMinioAdminNoSuchUser", address, props, `deleting user ${id}`, { method: "DELETE", path: "/remove-user", query: { accessKey: id } });
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Policy attachments

export interface AttachmentState extends MinioConnection {
    user: string;
    policy: string;
}

/** The policies MinIO has attached to `user` directly (user-info's comma-separated `policyName`). */
const attachedPolicies = (info: { policyName?: string } | undefined) => (info?.policyName ?? "").split(",").map((p) => p.trim()).filter(Boolean);

async function attachOrDetach(operation: "attach" | "detach", state: AttachmentState, address: string): Promise<void> {
    await adminCall(address, state, `${operation === "attach" ? "attaching" : "detaching"} policy ${state.policy} ${operation === "attach" ? "to" : "from"} user ${state.user}`, {
        method: "POST",
        path: `/idp/builtin/policy/${operation}`,
        // madmin.PolicyAssociationReq, encrypted; the server insists on an opaque content type.
        body: madminEncrypt(state.adminPassword, Buffer.from(JSON.stringify({ policies: [state.policy], user: state.user }), "utf8")),
        contentType: "application/octet-stream",
    });
}

export class AttachmentProvider implements pulumi.dynamic.ResourceProvider<AttachmentState, AttachmentState> {
    async check(_olds: AttachmentState, news: AttachmentState): Promise<pulumi.dynamic.CheckResult<AttachmentState>> {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (typeof news.policy === "string" && news.policy.includes(",")) failures.push({ property: "policy", reason: `one policy per attachment, not "${news.policy}"` });
        return { inputs: news, failures };
    }

    async diff(_id: string, olds: AttachmentState, news: AttachmentState): Promise<pulumi.dynamic.DiffResult> {
        const replaces = (["user", "policy"] as const).filter((k) => olds[k] !== news[k]);
        return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
    }

    async create(inputs: AttachmentState): Promise<pulumi.dynamic.CreateResult<AttachmentState>> {
        await onMinio(inputs, async (address) => {
            // Attaching what is attached already is an error in MinIO ("no net effect"): look first.
            if (attachedPolicies(await userInfo(address, inputs, inputs.user)).includes(inputs.policy)) return;
            await attachOrDetach("attach", inputs, address);
        });
        return { id: `${inputs.user}/${inputs.policy}`, outs: inputs };
    }

    /** Attached still (`pulumi refresh`)? A detached policy, or a deleted user, is gone from the state. */
    async read(id: string, props?: AttachmentState): Promise<pulumi.dynamic.ReadResult<AttachmentState>> {
        if (!props?.reach) throw new Error(`policy attachment ${id}: reading needs MinIO's reach and admin login from the state (import is not supported)`);
        return onMinio(props, async (address) =>
            attachedPolicies(await userInfo(address, props, props.user)).includes(props.policy) ? { id, props } : {},
        );
    }

    async delete(_id: string, props: AttachmentState): Promise<void> {
        await onMinio(props, async (address) => {
            if (!attachedPolicies(await userInfo(address, props, props.user)).includes(props.policy)) return;
            await attachOrDetach("detach", props, address);
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Resources

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };
export type MinioConnectionArgs = Inputs<MinioConnection>;

/** One provider instance per kind: Pulumi serializes each once. */
const bucketProvider = new BucketProvider();
const policyProvider = new PolicyProvider();
const userProvider = new UserProvider();
const attachmentProvider = new AttachmentProvider();

/** The admin login is an input; keep it encrypted in the state's outputs as well. */
const ADMIN_SECRETS = ["adminUser", "adminPassword"];

export class MinioBucket extends pulumi.dynamic.Resource {
    declare readonly bucket: pulumi.Output<string>;

    constructor(name: string, args: MinioConnectionArgs & { bucket: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
        super(bucketProvider, name, { acl: "private", ...args }, { ...opts, additionalSecretOutputs: ADMIN_SECRETS }, "dataplatform", "MinioBucket");
    }
}

export class MinioPolicy extends pulumi.dynamic.Resource {
    declare readonly name: pulumi.Output<string>;
    declare readonly policy: pulumi.Output<string>;

    constructor(name: string, args: MinioConnectionArgs & { name: pulumi.Input<string>; policy: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
        super(policyProvider, name, args, { ...opts, additionalSecretOutputs: ADMIN_SECRETS }, "dataplatform", "MinioPolicy");
    }
}

export class MinioUser extends pulumi.dynamic.Resource {
    declare readonly name: pulumi.Output<string>;
    declare readonly status: pulumi.Output<string>;

    constructor(name: string, args: MinioConnectionArgs & { name: pulumi.Input<string>; secretKey: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
        super(userProvider, name, { status: undefined, ...args }, { ...opts, additionalSecretOutputs: [...ADMIN_SECRETS, "secretKey"] }, "dataplatform", "MinioUser");
    }
}

export class MinioPolicyAttachment extends pulumi.dynamic.Resource {
    declare readonly user: pulumi.Output<string>;
    declare readonly policy: pulumi.Output<string>;

    constructor(name: string, args: MinioConnectionArgs & { user: pulumi.Input<string>; policy: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
        super(attachmentProvider, name, args, { ...opts, additionalSecretOutputs: ADMIN_SECRETS }, "dataplatform", "MinioPolicyAttachment");
    }
}
