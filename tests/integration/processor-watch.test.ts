/**
 * The processor's keeper mode against the real Flink: /healthz answers 200 while the job runs,
 * and the keeper exits 1 (so the container restarts and resubmits) once the job is cancelled.
 */
import assert from "node:assert/strict";
import { parseProcessorConfig } from "../../pipeline/processor/config";
import { GatewaySession, JobManager } from "../../pipeline/processor/flink-api";
import { watch } from "../../pipeline/processor/main";
import { createLogger } from "../../pipeline/shared/log";
import { freePort, waitUntil } from "../engines/lib";
import { engine } from "../engines/state";
import { leavesFlinkAsFound } from "./fixtures";

describe("processor keeper mode on a real Flink job", () => {
    let jobId: string | undefined;
    // Cancelled by the test itself; after a failure, here.
    leavesFlinkAsFound(async () => {
        if (jobId) await fetch(`${engine("flink").endpoints.rest}/jobs/${jobId}?mode=cancel`, { method: "PATCH" });
    });

    it("is healthy while the job runs and exits 1 when it stops", async () => {
        const flink = engine("flink");
        const session = await GatewaySession.open(flink.endpoints.gateway!, {});
        await session.execute("CREATE TEMPORARY TABLE ticks (n BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '5')");
        await session.execute("CREATE TEMPORARY TABLE sink (n BIGINT) WITH ('connector' = 'blackhole')");
        ({ jobId } = await session.execute("INSERT INTO sink SELECT n FROM ticks"));
        await session.close();
        assert.ok(jobId);
        const jm = new JobManager(flink.endpoints.rest!);
        await jm.waitRunning(jobId);

        const port = await freePort();
        const config = parseProcessorConfig({
            FLINK_SQL_GATEWAY_URL: flink.endpoints.gateway,
            FLINK_REST_URL: flink.endpoints.rest,
            KAFKA_BOOTSTRAP_SERVERS: "unused:9092",
            ICEBERG_REST_URI: "http://unused:8181",
            ICEBERG_WAREHOUSE_BUCKET: "unused",
            WATCH_INTERVAL_SECONDS: "1",
            HEALTH_PORT: String(port),
            LOG_LEVEL: "error",
        });
        const exit = watch(config, jobId, createLogger("processor", "error"));
        const health = async () => fetch(`http://127.0.0.1:${port}/healthz`).then(async (r) => ({ status: r.status, body: (await r.json()) as { state: string } }));
        await waitUntil("healthz answers", async () => (await health().catch(() => undefined))?.status === 200, { timeoutMs: 30_000 });
        assert.deepEqual((await health()).body.state, "RUNNING");

        await fetch(`${flink.endpoints.rest}/jobs/${jobId}?mode=cancel`, { method: "PATCH" });
        assert.equal(await exit, 1);
        assert.equal(await jm.state(jobId), "CANCELED");
    });
});
