/**
 * The object store's least privilege, enforced by a real S3 API that evaluates IAM policies:
 * moto's server with its IAM checks switched on for this suite (`/moto-api/reset-auth`). Each
 * service gets a user, a key and the policy the tiers attach (`policyDocument` over `grants`),
 * then does with its own key what its S3 client does on its own buckets, and is refused on every
 * other bucket. The engine is given back with its checks off, as the other suites expect it.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
    AttachUserPolicyCommand, CreateAccessKeyCommand, CreatePolicyCommand, CreateUserCommand, DeleteAccessKeyCommand,
    DeletePolicyCommand, DeleteUserCommand, DetachUserPolicyCommand, IAMClient,
} from "@aws-sdk/client-iam";
import {
    AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteBucketCommand,
    DeleteObjectCommand, GetBucketLocationCommand, GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand,
    ListObjectsV2Command, ListPartsCommand, PutObjectCommand, S3Client, UploadPartCommand,
} from "@aws-sdk/client-s3";
import { bucketDefaults, BucketKey } from "../../components/config";
import { grants, policyDocument, StoreConsumer, storeConsumers } from "../../components/objectstore";
import { engine } from "../engines/state";
import { setUncheckedRequests } from "./fixtures";

interface Key { accessKeyId: string; secretAccessKey: string }

const run = randomUUID().slice(0, 8);
const bucketKeys = Object.keys(bucketDefaults) as BucketKey[];
const bucketOf = (key: BucketKey) => `${bucketDefaults[key]}-${run}`;
/**
 * What each service needs, stated here rather than read from `grants`, so a grant that widens
 * (Druid on the raw bucket, say) fails the refusals below instead of moving them.
 */
const needs: Record<StoreConsumer, BucketKey[]> = {
    flink: ["checkpoints", "warehouse"],
    iceberg: ["warehouse"],
    druid: ["druid"],
    archiver: ["raw"],
};
const ownBuckets = (consumer: StoreConsumer) => new Set(needs[consumer]);

function s3As(key: Key): S3Client {
    const { endpoints, details } = engine("s3");
    return new S3Client({
        endpoint: endpoints.url, region: details.region, forcePathStyle: true, credentials: key,
        requestChecksumCalculation: "WHEN_REQUIRED", maxAttempts: 1,
    });
}

async function refused(what: string, call: Promise<unknown>): Promise<void> {
    await assert.rejects(call, (error: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(error.name, "AccessDenied", `${what}: expected AccessDenied, got ${error.name}: ${error.message}`);
        assert.equal(error.$metadata?.httpStatusCode, 403, what);
        return true;
    }, `${what} must be refused`);
}

/**
 * What the services' S3 clients do on a bucket they own: Hadoop's S3A and Iceberg's S3FileIO
 * (Flink, the catalog), druid-s3-extensions, the archiver's JS SDK. Large files go up in parts
 * (checkpoints, segments), a failed upload is aborted, and files are deleted.
 */
async function worksOn(s3: S3Client, bucket: string, who: string): Promise<void> {
    const key = `${who}/part-${randomUUID()}.bin`;
    const body = `written by ${who}`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString(), body);
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentLength, body.length);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${who}/` }));
    assert.ok(listed.Contents?.some((o) => o.Key === key), `${who} lists its object in ${bucket}`);
    await s3.send(new GetBucketLocationCommand({ Bucket: bucket }));

    const big = `${who}/segment-${randomUUID()}.zip`;
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: big }));
    const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: big, UploadId, PartNumber: 1, Body: "segment bytes" }));
    assert.equal((await s3.send(new ListPartsCommand({ Bucket: bucket, Key: big, UploadId }))).Parts?.length, 1);
    assert.ok((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads?.some((u) => u.UploadId === UploadId));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: big, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    const aborted = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: `${big}.retry` }));
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: `${big}.retry`, UploadId: aborted.UploadId }));

    // Bulk delete (DeleteObjects, which S3FileIO and S3A use) is not provable here: moto 5.2
    // authorizes it against the bucket's ARN, where AWS and MinIO check s3:DeleteObject per key,
    // so a policy scoped to `bucket/*` is refused by moto alone. Single deletes are checked.
    for (const k of [big, key]) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: k }));
    assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${who}/` }))).KeyCount, 0);
}

describe("object store least privilege (moto S3 evaluating the tiers' IAM policies)", () => {
    const { details } = engine("s3");
    const admin = { accessKeyId: details.accessKeyId!, secretAccessKey: details.secretAccessKey! };
    const iam = new IAMClient({ endpoint: engine("s3").endpoints.url, region: details.region, credentials: admin });
    const keys = new Map<StoreConsumer, Key>();
    const policyArns = new Map<StoreConsumer, string>();
    let unprivileged: Key;
    let previous: string | undefined;

    // Buckets, users, keys and policies are made while the checks are off: nobody could make them after.
    before(async () => {
        const s3 = s3As(admin);
        for (const key of bucketKeys) await s3.send(new CreateBucketCommand({ Bucket: bucketOf(key) }));
        for (const consumer of [...storeConsumers, "nobody"] as const) {
            const userName = `svc-${consumer}-${run}`;
            await iam.send(new CreateUserCommand({ UserName: userName }));
            if (consumer !== "nobody") {
                // The document the tiers attach, over this run's bucket names.
                const document = policyDocument(grants[consumer].map((g) => ({ bucket: bucketOf(g.bucket), prefix: g.prefix })));
                const { Policy } = await iam.send(new CreatePolicyCommand({ PolicyName: `svc-${consumer}-access-${run}`, PolicyDocument: document }));
                policyArns.set(consumer, Policy!.Arn!);
                await iam.send(new AttachUserPolicyCommand({ UserName: userName, PolicyArn: Policy!.Arn! }));
            }
            const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: userName }));
            const key = { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
            if (consumer === "nobody") unprivileged = key;
            else keys.set(consumer, key);
        }
        previous = await setUncheckedRequests("0");
    });

    after(async () => {
        if (previous !== undefined) await setUncheckedRequests(previous);
        const s3 = s3As(admin);
        for (const key of bucketKeys) {
            const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucketOf(key) }));
            for (const o of listed.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket: bucketOf(key), Key: o.Key! }));
            await s3.send(new DeleteBucketCommand({ Bucket: bucketOf(key) }));
        }
        for (const consumer of [...storeConsumers, "nobody"] as const) {
            const userName = `svc-${consumer}-${run}`;
            const arn = policyArns.get(consumer as StoreConsumer);
            if (arn) {
                await iam.send(new DetachUserPolicyCommand({ UserName: userName, PolicyArn: arn }));
                await iam.send(new DeletePolicyCommand({ PolicyArn: arn }));
            }
            const key = consumer === "nobody" ? unprivileged : keys.get(consumer);
            if (key) await iam.send(new DeleteAccessKeyCommand({ UserName: userName, AccessKeyId: key.accessKeyId }));
            await iam.send(new DeleteUserCommand({ UserName: userName }));
        }
    });

    it("checks are really on: a key with no policy is refused, an unknown key is rejected", async () => {
        await refused("a user with no policy reading", s3As(unprivileged).send(new ListObjectsV2Command({ Bucket: bucketOf("raw") })));
        await assert.rejects(
            s3As({ accessKeyId: "AKIANOTAREALKEY00000", secretAccessKey: "x".repeat(40) }).send(new ListObjectsV2Command({ Bucket: bucketOf("raw") })),
            (error: Error) => error.name === "InvalidAccessKeyId",
        );
    });

    for (const consumer of storeConsumers) {
        const own = [...ownBuckets(consumer)];
        const others = bucketKeys.filter((b) => !ownBuckets(consumer).has(b));

        it(`${consumer} reads, writes, uploads in parts and deletes on its own bucket${own.length > 1 ? "s" : ""} (${own.join(", ")})`, async () => {
            const s3 = s3As(keys.get(consumer)!);
            for (const bucket of own) await worksOn(s3, bucketOf(bucket), consumer);
        });

        it(`${consumer} can neither read, list, write nor delete in ${others.join(", ")}`, async () => {
            const s3 = s3As(keys.get(consumer)!);
            // Something to try to read and delete, put there by its owner.
            const victim = `owned/${randomUUID()}`;
            for (const bucket of others) {
                const owner = storeConsumers.find((c) => ownBuckets(c).has(bucket))!;
                await s3As(keys.get(owner)!).send(new PutObjectCommand({ Bucket: bucketOf(bucket), Key: victim, Body: "not yours" }));
                const Bucket = bucketOf(bucket);
                await refused(`${consumer} listing ${bucket}`, s3.send(new ListObjectsV2Command({ Bucket })));
                await refused(`${consumer} reading ${bucket}`, s3.send(new GetObjectCommand({ Bucket, Key: victim })));
                await refused(`${consumer} writing ${bucket}`, s3.send(new PutObjectCommand({ Bucket, Key: `${consumer}/intruder`, Body: "x" })));
                await refused(`${consumer} deleting in ${bucket}`, s3.send(new DeleteObjectCommand({ Bucket, Key: victim })));
                await refused(`${consumer} starting an upload in ${bucket}`, s3.send(new CreateMultipartUploadCommand({ Bucket, Key: `${consumer}/big` })));
                await s3As(keys.get(owner)!).send(new GetObjectCommand({ Bucket, Key: victim }));
            }
        });
    }

    it("no service may create or delete buckets: the store makes them, and keeps them", async () => {
        for (const consumer of storeConsumers) {
            const s3 = s3As(keys.get(consumer)!);
            await refused(`${consumer} creating a bucket`, s3.send(new CreateBucketCommand({ Bucket: `${consumer}-own-${run}` })));
            const own = bucketOf([...ownBuckets(consumer)][0]!);
            await refused(`${consumer} deleting its bucket`, s3.send(new DeleteBucketCommand({ Bucket: own })));
        }
    });
});
