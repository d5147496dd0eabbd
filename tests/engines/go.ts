/**
 * Go builds for the engines that come from the Go module proxy (the Pulumi CLI, the Kubernetes
 * control plane, kwok, MinIO). The harness installs every engine at once, but two multi-GB Go
 * builds side by side on a 2-core CI machine only slow each other and can exhaust memory: each
 * build runs in `serialGoBuild`, one at a time.
 */
import * as path from "node:path";
import { cacheRoot } from "./lib";

/** Go's module and build caches inside the engines' cache, so one folder holds every download. */
export function goEnv(): NodeJS.ProcessEnv {
    return {
        ...process.env,
        GOMODCACHE: path.join(cacheRoot(), "go", "mod"),
        GOCACHE: path.join(cacheRoot(), "go", "build"),
        GOFLAGS: "-mod=mod",
        CGO_ENABLED: "0",
    };
}

let queue: Promise<unknown> = Promise.resolve();

/** Runs `build` after every build queued before it has settled (failed ones included). */
export function serialGoBuild<T>(build: () => Promise<T>): Promise<T> {
    const next = queue.then(build, build);
    queue = next.catch(() => undefined);
    return next;
}
