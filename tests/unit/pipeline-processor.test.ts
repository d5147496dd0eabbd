import assert from "node:assert/strict";
import { catalogue } from "../../pipeline/events";
import { parseProcessorConfig } from "../../pipeline/processor/config";
import { fillTemplate, renderJob, splitStatements } from "../../pipeline/processor/render";
import { pipelineJobs } from "../../pipeline/processor/submit";
import { eventsDue } from "../../pipeline/producer/pacing";
import { toMessage } from "../../pipeline/producer/generator-thread";
import { registerSchema } from "../../pipeline/producer/registry";
import { generateEvents, viewingEventJsonSchema } from "../../pipeline/events";

const config = parseProcessorConfig({
    FLINK_SQL_GATEWAY_URL: "http://gw:8083", FLINK_REST_URL: "http://jm:8081", KAFKA_BOOTSTRAP_SERVERS: "kafka-1:9092,kafka-2:9092",
    ICEBERG_REST_URI: "http://iceberg:8181", ICEBERG_WAREHOUSE_BUCKET: "iceberg-warehouse", S3_ENDPOINT: "http://minio:9000", S3_PATH_STYLE: "true",
    TOPIC_RAW: "raw", TOPIC_PROCESSED: "agg", TOPIC_DLQ: "dlq",
});

describe("processor SQL rendering and job identity", () => {
    it("splits statements at line-ending ';' but keeps a statement set whole", () => {
        const parts = splitStatements("-- c\nCREATE TABLE a (x INT);\n\nEXECUTE STATEMENT SET\nBEGIN\nINSERT INTO a SELECT 1;\nINSERT INTO a SELECT 2;\nEND;\n");
        assert.equal(parts.length, 2);
        assert.equal(parts[0], "CREATE TABLE a (x INT)");
        assert.match(parts[1]!, /^EXECUTE STATEMENT SET\nBEGIN\n.*SELECT 1;\n.*SELECT 2;\nEND$/s);
        assert.throws(() => splitStatements("SELECT 1"), /ends without ';'/);
    });

    it("refuses a template placeholder it has no value for", () => {
        assert.throws(() => fillTemplate("{{nope}}", {}), /\{\{nope\}\}/);
    });

    it("renders topics, servers, catalog options and the catalogue into the job", () => {
        const job = renderJob(config);
        const sql = job.statements.join("\n");
        assert.doesNotMatch(sql, /\{\{/);
        assert.match(sql, /'topic' = 'raw'/);
        assert.match(sql, /'topic' = 'agg'/);
        assert.match(sql, /'topic' = 'dlq'/);
        assert.match(sql, /'properties\.bootstrap\.servers' = 'kafka-1:9092,kafka-2:9092'/);
        assert.match(sql, /CREATE CATALOG lake WITH \('type' = 'iceberg', 'catalog-type' = 'rest', 'uri' = 'http:\/\/iceberg:8181'.*'s3\.path-style-access' = 'true'/);
        assert.ok(catalogue.every((t) => sql.includes(`WHEN '${t.title_id}' THEN '${t.title.replace(/'/g, "''")}'`)), "titles with quotes escaped");
        assert.match(sql, /TO_TIMESTAMP_LTZ\(TRY_CAST\(JSON_VALUE\(payload, '\$\.event_time'\) AS BIGINT\), 3\)/);
        assert.equal(job.properties["table.local-time-zone"], "UTC");
    });

    it("versions the job by its SQL: same config same version, any change another", () => {
        assert.equal(renderJob(config).version, renderJob({ ...config }).version);
        assert.notEqual(renderJob({ ...config, WATERMARK_DELAY_SECONDS: 6 }).version, renderJob(config).version);
        assert.notEqual(renderJob({ ...config, TOPIC_RAW: "raw2" }).version, renderJob(config).version);
    });

    it("finds the pipeline's live jobs by name, whatever their version", () => {
        const jobs = [
            { jid: "1", name: "viewing-pipeline@aaa", state: "RUNNING", "start-time": 0 },
            { jid: "2", name: "viewing-pipeline@bbb", state: "CANCELED", "start-time": 0 },
            { jid: "3", name: "viewing-pipeline-2@ccc", state: "RUNNING", "start-time": 0 },
            { jid: "4", name: "viewing-pipeline@ddd", state: "RESTARTING", "start-time": 0 },
        ];
        assert.deepEqual(pipelineJobs(jobs, "viewing-pipeline").map((j) => j.jid), ["1", "4"]);
    });
});

describe("producer pieces", () => {
    it("keys by user_id and sends the event as JSON", () => {
        const event = generateEvents({ seed: 1, users: 5, startTime: 0 }, 1)[0]!;
        const m = toMessage(event);
        assert.equal(m.key, event.user_id);
        assert.deepEqual(JSON.parse(m.value), event);
    });

    it("paces by rate: never ahead of the budget, capped by batch and remaining", () => {
        assert.equal(eventsDue({ rate: 100, elapsedMs: 1_000, sent: 0, batchMax: 500, remaining: Infinity }), 100);
        assert.equal(eventsDue({ rate: 100, elapsedMs: 1_000, sent: 100, batchMax: 500, remaining: Infinity }), 0);
        assert.equal(eventsDue({ rate: 100, elapsedMs: 10_000, sent: 0, batchMax: 500, remaining: Infinity }), 500);
        assert.equal(eventsDue({ rate: 0, elapsedMs: 0, sent: 0, batchMax: 500, remaining: 7 }), 7);
    });

    it("registers the JSON Schema with the Confluent API, retrying an unavailable registry", async () => {
        const calls: Array<{ url: string; init: RequestInit }> = [];
        const responses = [new Response("starting", { status: 503 }), new Response(JSON.stringify({ id: 7 }), { status: 200 })];
        const fakeFetch = (async (url: string, init: RequestInit) => { calls.push({ url, init }); return responses.shift()!; }) as unknown as typeof fetch;
        const result = await registerSchema("http://registry:8081", "viewing-events", viewingEventJsonSchema, { fetch: fakeFetch, retryMs: 1 });
        assert.deepEqual(result, { subject: "viewing-events-value", id: 7 });
        assert.equal(calls.length, 2);
        assert.equal(calls[1]!.url, "http://registry:8081/subjects/viewing-events-value/versions");
        assert.equal(calls[1]!.init.method, "POST");
        const body = JSON.parse(String(calls[1]!.init.body)) as { schemaType: string; schema: string };
        assert.equal(body.schemaType, "JSON");
        assert.deepEqual(JSON.parse(body.schema), viewingEventJsonSchema);
    });

    it("does not retry a schema the registry refuses", async () => {
        let calls = 0;
        const fakeFetch = (async () => { calls++; return new Response('{"error_code":409}', { status: 409 }); }) as unknown as typeof fetch;
        await assert.rejects(registerSchema("http://r", "t", {}, { fetch: fakeFetch, retryMs: 1 }), /409/);
        assert.equal(calls, 1);
    });
});
