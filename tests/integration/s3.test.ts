/** The S3 engine (moto) with the AWS SDK the way the project's tools talk to S3-compatible stores. */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { engine } from "../engines/state";

describe("s3 engine", () => {
    let s3: S3Client;
    const bucket = `it-${randomUUID()}`;

    before(async () => {
        const { endpoints, details } = engine("s3");
        s3 = new S3Client({
            endpoint: endpoints.url,
            region: details.region,
            forcePathStyle: true,
            // Newer SDKs add trailing checksums by default, which S3 emulators may not accept.
            requestChecksumCalculation: "WHEN_REQUIRED",
            credentials: { accessKeyId: details.accessKeyId!, secretAccessKey: details.secretAccessKey! },
        });
        await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    });

    after(() => s3.destroy());

    it("reads back exactly the bytes that were written", async () => {
        const body = JSON.stringify({ id: 42, title: "Stranger Things", at: new Date().toISOString() });
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "raw/events/1.json", Body: body, ContentType: "application/json" }));
        const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "raw/events/1.json" }));
        assert.equal(await object.Body!.transformToString(), body);
        assert.equal(object.ContentType, "application/json");
        assert.equal(object.ContentLength, Buffer.byteLength(body));
    });

    it("lists objects under a prefix", async () => {
        await Promise.all(["a", "b", "c"].map((name) =>
            s3.send(new PutObjectCommand({ Bucket: bucket, Key: `list/${name}.txt`, Body: name }))));
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "other/x.txt", Body: "x" }));
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "list/" }));
        assert.deepEqual(listed.Contents?.map((o) => o.Key), ["list/a.txt", "list/b.txt", "list/c.txt"]);
        assert.deepEqual(listed.Contents?.map((o) => o.Size), [1, 1, 1]);
    });
});
