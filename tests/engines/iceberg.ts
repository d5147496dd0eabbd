/**
 * The Iceberg REST catalog: Iceberg's own REST fixture, published as the main jar of
 * iceberg-open-api (Main-Class org.apache.iceberg.rest.RESTCatalogServer; it bundles S3FileIO,
 * SQLite and Jetty). Table metadata and data go to a bucket on the `s3` engine; the catalog
 * itself is a SQLite file in the work dir. Configured, like the Docker image, by CATALOG_* vars.
 */
import * as path from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import type { Engine, EngineContext } from "./types";
import { freePort, javaBin, mvnCopy, spawnDetached, waitForHttp } from "./lib";

const BUCKET = "warehouse";

function jarDir(ctx: EngineContext): string {
    return path.join(ctx.cacheDir, `iceberg-rest-${ctx.versions.iceberg}`);
}

export const iceberg: Engine = {
    name: "iceberg",
    dependsOn: ["s3"],

    async install(ctx) {
        // The main jar is already the self-contained server: no transitive dependencies needed.
        await mvnCopy([`org.apache.iceberg:iceberg-open-api:${ctx.versions.iceberg}`], jarDir(ctx), { transitive: false });
    },

    async start(ctx) {
        const started = Date.now();
        const s3 = ctx.running.s3;
        if (!s3) throw new Error("iceberg needs the s3 engine running");
        const s3Url = s3.endpoints.url!;
        const { accessKeyId, secretAccessKey, region } = s3.details as Record<string, string>;

        // The catalog writes table metadata on create, so the bucket must exist first.
        const client = new S3Client({ endpoint: s3Url, region, forcePathStyle: true, credentials: { accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! } });
        await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
        client.destroy();

        const port = await freePort();
        const url = `http://127.0.0.1:${port}`;
        const warehouse = `s3://${BUCKET}/`;
        const logFile = path.join(ctx.workDir, "iceberg-rest.log");
        const jar = path.join(jarDir(ctx), `iceberg-open-api-${ctx.versions.iceberg}.jar`);
        const pid = spawnDetached(javaBin(), ["-Xmx512m", "-jar", jar], {
            logFile,
            cwd: ctx.workDir,
            env: {
                ...process.env,
                CATALOG_REST_PORT: String(port),
                CATALOG_URI: `jdbc:sqlite:file:${path.join(ctx.workDir, "catalog.db")}`,
                CATALOG_JDBC_USER: "user",
                CATALOG_JDBC_PASSWORD: "password",
                CATALOG_WAREHOUSE: warehouse,
                CATALOG_IO__IMPL: "org.apache.iceberg.aws.s3.S3FileIO",
                CATALOG_S3_ENDPOINT: s3Url,
                CATALOG_S3_PATH__STYLE__ACCESS: "true",
                CATALOG_S3_ACCESS__KEY__ID: accessKeyId,
                CATALOG_S3_SECRET__ACCESS__KEY: secretAccessKey,
                AWS_REGION: region,
            },
        });
        await waitForHttp(`${url}/v1/config`, { pid, logFile, timeoutMs: 120_000 });
        ctx.log(`iceberg REST ${ctx.versions.iceberg} on ${url}, warehouse ${warehouse}`);
        return {
            name: "iceberg",
            version: ctx.versions.iceberg,
            endpoints: { url },
            details: { warehouse, bucket: BUCKET },
            pids: [pid],
            logFiles: [logFile],
            startSeconds: (Date.now() - started) / 1000,
        };
    },
};
