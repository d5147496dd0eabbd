/**
 * The Iceberg REST catalog as the stack runs it: Iceberg's own REST fixture server (the main jar
 * of iceberg-open-api, class org.apache.iceberg.rest.RESTCatalogServer, which the
 * apache/iceberg-rest-fixture image runs) with the PostgreSQL driver of jars/manifest.ts beside
 * it, as the derived image has it, started with the environment the tier renders
 * (`icebergRestEnv`): a JdbcCatalog on the postgres engine's iceberg-db server, S3FileIO on
 * the s3 engine, the tier's heap. The tier takes the database's address and the store's endpoint
 * as inputs, so the engines' addresses go in where the platform's would; `localCatalog` changes
 * the one thing the tier fixes itself, the port.
 */
import * as path from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { parseStackConfig } from "../../components/config";
import { icebergDatabase, icebergRestEnv } from "../../components/iceberg";
import { flinkMemoryPlan } from "../../components/flink";
import { coordinate, fileName, icebergRestJars } from "../../jars/manifest";
import { sha256File } from "../../jars/verify";
import type { Engine, EngineContext, EngineHandle } from "./types";
import { freePort, javaBin, mvnCopy, spawnDetached, waitForHttp } from "./lib";
import { databasePassword } from "./postgres";

type Installed = Pick<EngineContext, "cacheDir" | "versions">;

function serverJar(ctx: Installed): string {
    return path.join(ctx.cacheDir, `iceberg-rest-${ctx.versions.iceberg}`, `iceberg-open-api-${ctx.versions.iceberg}.jar`);
}

/** The image's lib/: the jars the Dockerfile copies in, checked against the manifest's SHA-256. */
function libDir(ctx: Installed): string {
    return path.join(ctx.cacheDir, `iceberg-rest-${ctx.versions.iceberg}`, "lib");
}

/**
 * The tier's rendered environment for the laptop profile, as the container gets it, on these
 * engines: with the s3 engine's keys, or with none (`keys: false`), as on EKS, where S3FileIO's
 * default chain finds the pod's identity.
 */
export function renderedEnv(s3: EngineHandle, postgres: EngineHandle, bucket: string, keys = true): Record<string, string> {
    const cfg = parseStackConfig({}, "dataplatform", "engines");
    const { accessKeyId, secretAccessKey, region } = s3.details as Record<string, string>;
    const dbAddress = postgres.endpoints[icebergDatabase.name];
    if (!dbAddress) throw new Error(`the postgres engine runs no ${icebergDatabase.name}`);
    const { env, secretEnv } = icebergRestEnv({
        dbAddress,
        dbPassword: databasePassword(postgres, icebergDatabase),
        warehouse: `s3://${bucket}/`,
        s3Endpoint: s3.endpoints.url!,
        pathStyle: true,
        region: region!,
        credentials: keys ? { accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! } : undefined,
        memoryMiB: flinkMemoryPlan(cfg)["iceberg-rest"]!,
    });
    return { ...env, ...secretEnv };
}

/**
 * THE substitution: the port (rest.port) becomes a free one on this host. Every other variable,
 * the JDBC user and schema version, path-style access, region, heap, runs as rendered.
 */
export function localCatalog(env: Record<string, string>, port: number): Record<string, string> {
    if (!env.CATALOG_REST_PORT) throw new Error("the tier no longer renders CATALOG_REST_PORT");
    return { ...env, CATALOG_REST_PORT: String(port) };
}

export const iceberg: Engine = {
    name: "iceberg",
    dependsOn: ["s3", "postgres"],

    async install(ctx) {
        // The main jar is already the self-contained server: no transitive dependencies needed.
        await mvnCopy([`org.apache.iceberg:iceberg-open-api:${ctx.versions.iceberg}`], path.dirname(serverJar(ctx)), { transitive: false });
        await mvnCopy(icebergRestJars.map(coordinate), libDir(ctx), { transitive: false });
        for (const jar of icebergRestJars) {
            const actual = sha256File(path.join(libDir(ctx), fileName(jar)));
            if (actual !== jar.sha256) throw new Error(`${coordinate(jar)}: SHA-256 ${actual}, jars/manifest.ts says ${jar.sha256}`);
        }
    },

    async start(ctx) {
        const started = Date.now();
        const s3 = ctx.running.s3;
        const postgres = ctx.running.postgres;
        if (!s3 || !postgres) throw new Error("iceberg needs the s3 and postgres engines running");
        const s3Url = s3.endpoints.url!;
        const { accessKeyId, secretAccessKey, region } = s3.details as Record<string, string>;
        const bucket = parseStackConfig({}, "dataplatform", "engines").buckets.warehouse;

        // The catalog writes table metadata on create, so the bucket must exist first.
        const client = new S3Client({ endpoint: s3Url, region, forcePathStyle: true, credentials: { accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! } });
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
        client.destroy();

        const port = await freePort();
        const env = localCatalog(renderedEnv(s3, postgres, bucket), port);
        const { pid, url, logFile } = await launchCatalog(ctx, { env, port, workDir: ctx.workDir });
        ctx.log(`iceberg REST ${ctx.versions.iceberg} on ${url}, warehouse s3://${bucket}/, catalog in ${env.CATALOG_URI}`);
        return {
            name: "iceberg",
            version: ctx.versions.iceberg,
            endpoints: { url },
            details: { warehouse: env.CATALOG_WAREHOUSE!, bucket, catalogUri: env.CATALOG_URI!, heap: env.JAVA_TOOL_OPTIONS! },
            pids: [pid],
            logFiles: [logFile],
            startSeconds: (Date.now() - started) / 1000,
        };
    },
};

/**
 * Starts a catalog server the way the derived image's CMD does (the server jar and lib/ on one
 * classpath) with exactly `env` beside PATH and JAVA_HOME, and waits for its API.
 */
export async function launchCatalog(
    ctx: Installed,
    o: { env: Record<string, string>; port: number; workDir: string; name?: string },
): Promise<{ pid: number; url: string; logFile: string }> {
    const url = `http://127.0.0.1:${o.port}`;
    const logFile = path.join(o.workDir, `${o.name ?? "iceberg-rest"}.log`);
    const pid = spawnDetached(javaBin(), ["-cp", `${serverJar(ctx)}${path.delimiter}${path.join(libDir(ctx), "*")}`, "org.apache.iceberg.rest.RESTCatalogServer"], {
        logFile,
        cwd: o.workDir,
        env: { PATH: process.env.PATH, ...(process.env.JAVA_HOME ? { JAVA_HOME: process.env.JAVA_HOME } : {}), ...o.env },
    });
    await waitForHttp(`${url}/v1/config`, { pid, logFile, timeoutMs: 120_000 });
    return { pid, url, logFile };
}
