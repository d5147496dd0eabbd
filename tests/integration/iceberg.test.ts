/**
 * The Iceberg REST catalog over its HTTP API (what Flink and other engines speak), with table
 * metadata really written to the S3 engine's bucket.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { engine } from "../engines/state";
import { jsonCall } from "./http";

interface LoadTableResult {
    "metadata-location": string;
    metadata: {
        "format-version": number;
        "table-uuid": string;
        location: string;
        schemas: Array<{ fields: Array<{ id: number; name: string; type: string; required: boolean }> }>;
        "partition-specs": Array<{ fields: Array<{ name: string; transform: string }> }>;
    };
}

const call = <T>(method: string, path: string, body?: unknown) => jsonCall<T>(engine("iceberg").endpoints.url!, method, path, body);

describe("iceberg engine (REST catalog on S3)", () => {
    const namespace = `it_${randomUUID().slice(0, 8)}`;
    const schema = {
        type: "struct",
        "schema-id": 0,
        fields: [
            { id: 1, name: "event_id", required: true, type: "string" },
            { id: 2, name: "title_id", required: true, type: "long" },
            { id: 3, name: "event_time", required: true, type: "timestamptz" },
            { id: 4, name: "watch_seconds", required: false, type: "int" },
        ],
    };

    // The namespace is the suite's own, created before its tests and dropped with its tables after them.
    before(() => call("POST", "/v1/namespaces", { namespace: [namespace], properties: { owner: "integration" } }));
    after(async () => {
        const tables = await call<{ identifiers: Array<{ name: string }> }>("GET", `/v1/namespaces/${namespace}/tables`);
        for (const t of tables.identifiers) await call("DELETE", `/v1/namespaces/${namespace}/tables/${t.name}?purgeRequested=true`);
        await call("DELETE", `/v1/namespaces/${namespace}`);
    });

    it("serves its configuration", async () => {
        const config = await call<{ defaults: object; overrides: object }>("GET", "/v1/config");
        assert.equal(typeof config.defaults, "object");
        assert.equal(typeof config.overrides, "object");
    });

    it("creates a namespace and a partitioned table whose metadata lives in the S3 bucket", async () => {
        const namespaces = await call<{ namespaces: string[][] }>("GET", "/v1/namespaces");
        assert.ok(namespaces.namespaces.some((n) => n.join(".") === namespace));

        const created = await call<LoadTableResult>("POST", `/v1/namespaces/${namespace}/tables`, {
            name: "playback_events",
            schema,
            "partition-spec": { "spec-id": 0, fields: [{ "source-id": 3, "field-id": 1000, name: "event_day", transform: "day" }] },
            properties: { "format-version": "2" },
        });
        const loaded = await call<LoadTableResult>("GET", `/v1/namespaces/${namespace}/tables/playback_events`);

        assert.equal(loaded["metadata-location"], created["metadata-location"]);
        assert.equal(loaded.metadata["table-uuid"], created.metadata["table-uuid"]);
        assert.equal(loaded.metadata["format-version"], 2);
        assert.deepEqual(loaded.metadata.schemas[0]!.fields.map((f) => [f.id, f.name, f.type, f.required]),
            schema.fields.map((f) => [f.id, f.name, f.type, f.required]));
        assert.deepEqual(loaded.metadata["partition-specs"][0]!.fields.map((f) => [f.name, f.transform]), [["event_day", "day"]]);

        const tables = await call<{ identifiers: Array<{ name: string }> }>("GET", `/v1/namespaces/${namespace}/tables`);
        assert.deepEqual(tables.identifiers.map((t) => t.name), ["playback_events"]);

        // The metadata file the catalog points at must really be in the bucket, and be this table's.
        const { bucket } = engine("iceberg").details;
        const location = loaded["metadata-location"];
        assert.ok(location.startsWith(`s3://${bucket}/${namespace}/playback_events/metadata/`), location);
        const s3Handle = engine("s3");
        const s3 = new S3Client({
            endpoint: s3Handle.endpoints.url,
            region: s3Handle.details.region,
            forcePathStyle: true,
            credentials: { accessKeyId: s3Handle.details.accessKeyId!, secretAccessKey: s3Handle.details.secretAccessKey! },
        });
        try {
            const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: location.slice(`s3://${bucket}/`.length) }));
            const metadata = JSON.parse(await object.Body!.transformToString()) as LoadTableResult["metadata"];
            assert.equal(metadata["table-uuid"], loaded.metadata["table-uuid"]);
            assert.equal(metadata.location, loaded.metadata.location);
        } finally {
            s3.destroy();
        }
    });

    it("rejects a table that already exists", async () => {
        const create = () => fetch(`${engine("iceberg").endpoints.url}/v1/namespaces/${namespace}/tables`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ name: "titles", schema }),
        }).then(async (response) => { await response.arrayBuffer(); return response.status; });
        assert.equal(await create(), 200);
        assert.equal(await create(), 409);
    });
});
