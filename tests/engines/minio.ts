/**
 * The real MinIO server, at the release the platform deploys (`versions.minio`), for the MinIO
 * provisioning providers (components/objectstore/minio-admin.ts): the admin API's wire format
 * (madmin) is undocumented, so only the server itself proves it. No registry here serves MinIO's
 * binaries or images; the Go module proxy serves its source. MinIO tags releases as
 * `RELEASE.<date>`, which is not semver: the proxy resolves it to a pseudo-version of the same
 * commit, and the build stamps the release's version, tag and commit as MinIO's own release
 * build does (buildscripts/gen-ldflags.go), so the server reports the release it is.
 *
 * Cold: a download and a build of a few minutes (one Go build at a time, `serialGoBuild`);
 * warm: nothing to do. One single-drive server on free ports, fresh data and root credentials
 * per start.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { goEnv, serialGoBuild } from "./go";
import { cacheRoot, freePort, hashKey, run, spawnDetached, waitForHttp } from "./lib";
import type { Engine } from "./types";

const MODULE = "github.com/minio/minio";

/** `RELEASE.2025-09-07T16-13-09Z` -> `2025-09-07T16:13:09Z` (MinIO's `Version` is RFC 3339). */
export function releaseTime(release: string): string {
    const m = /^RELEASE\.(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})Z$/.exec(release);
    if (!m) throw new Error(`MinIO release ${release}: expected RELEASE.YYYY-MM-DDTHH-MM-SSZ`);
    return `${m[1]}T${m[2]}:${m[3]}:${m[4]}Z`;
}

/** What the build does, beyond the release: a change here must not reuse a binary built the old way. */
const RECIPE = "go install -trimpath CGO_ENABLED=0 ldflags:-s -w Version CopyrightYear ReleaseTag CommitID ShortCommitID";

/** Builds (once per release and recipe) the server; returns the binary's path. */
async function ensureMinio(release: string, log: (message: string) => void): Promise<string> {
    const root = path.join(cacheRoot(), `minio-${release}-${hashKey([RECIPE])}`);
    const binary = path.join(root, "bin", "minio");
    if (fs.existsSync(binary)) return binary;

    fs.mkdirSync(root, { recursive: true });
    const env = goEnv();
    // The proxy's answer for the release tag: the pseudo-version to build and the full commit it names.
    const info = JSON.parse(await run("go", ["list", "-m", "-json", `${MODULE}@${release}`], { cwd: root, env })) as {
        Version: string;
        Origin?: { Hash?: string };
    };
    const commit = info.Origin?.Hash ?? info.Version.slice(-12);
    log(`building MinIO ${release} (${MODULE}@${info.Version}) from the Go module proxy (first run only)`);
    const t0 = Date.now();
    const partial = path.join(root, "bin.part");
    fs.rmSync(partial, { recursive: true, force: true });
    const x = (name: string, value: string) => ["-X", `${MODULE}/cmd.${name}=${value}`];
    const ldflags = [
        "-s", "-w",
        ...x("Version", releaseTime(release)),
        ...x("CopyrightYear", releaseTime(release).slice(0, 4)),
        ...x("ReleaseTag", release),
        ...x("CommitID", commit),
        ...x("ShortCommitID", commit.slice(0, 12)),
    ].join(" ");
    // `go install module@version` builds with MinIO's own go.mod (its exact dependency versions),
    // which a wrapper module could shift; GOBIN points into the cache.
    await serialGoBuild(() => run("go", ["install", "-trimpath", "-ldflags", ldflags, `${MODULE}@${info.Version}`], {
        cwd: root,
        env: { ...env, GOBIN: partial },
    }));
    fs.renameSync(partial, path.join(root, "bin")); // only a complete binary counts as built
    const size = fs.statSync(binary).size / 2 ** 20;
    log(`MinIO ${release} built in ${((Date.now() - t0) / 1000).toFixed(0)} s (${size.toFixed(0)} MiB)`);
    return binary;
}

export const minio: Engine = {
    name: "minio",
    dependsOn: [],

    async install(ctx) {
        await ensureMinio(ctx.versions.minio, ctx.log);
    },

    async start(ctx) {
        const started = Date.now();
        const binary = await ensureMinio(ctx.versions.minio, ctx.log);
        const [apiPort, consolePort] = [await freePort(), await freePort()];
        const url = `http://127.0.0.1:${apiPort}`;
        const dataDir = path.join(ctx.workDir, "data");
        fs.mkdirSync(dataDir, { recursive: true });
        const rootUser = `root-${randomBytes(6).toString("hex")}`;
        const rootPassword = randomBytes(24).toString("hex");
        const logFile = path.join(ctx.workDir, "minio.log");
        const pid = spawnDetached(
            binary,
            [
                "server", dataDir,
                "--address", `127.0.0.1:${apiPort}`,
                "--console-address", `127.0.0.1:${consolePort}`,
                // Its own certs folder: the default is ~/.minio, shared with anything else on the machine.
                "--certs-dir", path.join(ctx.workDir, "certs"),
                "--quiet",
            ],
            {
                logFile,
                env: {
                    ...process.env,
                    MINIO_ROOT_USER: rootUser,
                    MINIO_ROOT_PASSWORD: rootPassword,
                    MINIO_BROWSER: "off",
                    MINIO_UPDATE: "off",
                },
            },
        );
        // /minio/health/ready answers 200 once the server accepts writes (the platform's health check too).
        await waitForHttp(`${url}/minio/health/ready`, { pid, logFile, timeoutMs: 60_000 });
        ctx.log(`MinIO ${ctx.versions.minio} on ${url}`);
        return {
            name: "minio",
            version: ctx.versions.minio,
            endpoints: { url, address: `127.0.0.1:${apiPort}` },
            details: { rootUser, rootPassword, region: "us-east-1", dataDir },
            pids: [pid],
            logFiles: [logFile],
            startSeconds: (Date.now() - started) / 1000,
        };
    },
};
