/**
 * An S3-compatible object store: moto's server mode (Apache-2.0, in memory, path-style), in
 * its own virtualenv. It stands in for MinIO/AWS S3, which the platform deploys but cannot run
 * here. Moto accepts any credentials; the fixed ones below are what clients should send.
 */
import * as path from "node:path";
import type { Engine } from "./types";
import { freePort, pipVenv, spawnDetached, waitForHttp } from "./lib";

function requirements(version: string): string[] {
    return [`moto[server]==${version}`];
}

export const s3: Engine = {
    name: "s3",
    dependsOn: [],

    async install(ctx) {
        await pipVenv("moto", requirements(ctx.versions.moto));
    },

    async start(ctx) {
        const started = Date.now();
        const venv = await pipVenv("moto", requirements(ctx.versions.moto));
        const port = await freePort();
        const url = `http://127.0.0.1:${port}`;
        const logFile = path.join(ctx.workDir, "moto.log");
        const pid = spawnDetached(path.join(venv, "bin", "moto_server"), ["-H", "127.0.0.1", "-p", String(port)], { logFile });
        // GET / is S3's ListBuckets: a 200 means the S3 API itself is answering.
        await waitForHttp(`${url}/`, { pid, logFile, timeoutMs: 60_000 });
        ctx.log(`moto ${ctx.versions.moto} S3 on ${url}`);
        return {
            name: "s3",
            version: ctx.versions.moto,
            endpoints: { url },
            details: { accessKeyId: "test", secretAccessKey: "test", region: "us-east-1" },
            pids: [pid],
            logFiles: [logFile],
            startSeconds: (Date.now() - started) / 1000,
        };
    },
};
