import type { versions } from "../../components/versions";

/** What the harness hands every engine when it installs or starts it. */
export interface EngineContext {
    /** Cache root outside the repo (default ~/.cache/netflix-data-platform); key sub-folders by version. */
    cacheDir: string;
    /** This run's folder for the engine's data and logs (created by the harness, one per engine). */
    workDir: string;
    /** The project's one version table. */
    versions: typeof versions;
    /** Endpoints of engines already started in this run, by engine name (dependsOn guarantees order). */
    running: Record<string, EngineHandle>;
    log(message: string): void;
}

/** A started engine: how to reach it, and how to stop it. */
export interface EngineHandle {
    name: string;
    version: string;
    /** Named endpoints, e.g. { bootstrap: "127.0.0.1:39092" } or { url: "http://127.0.0.1:38081" }. */
    endpoints: Record<string, string>;
    /** Extra facts tests need (credentials, bucket names, FLINK_HOME, ...). */
    details: Record<string, string>;
    /** Process ids to stop (each started as its own process group leader). */
    pids: number[];
    logFiles: string[];
    startSeconds: number;
}

export interface Engine {
    name: string;
    /** Engines that must be running first (their handles arrive in ctx.running). */
    dependsOn: string[];
    /** Idempotent; a second run with a warm cache must return in seconds. */
    install(ctx: EngineContext): Promise<void>;
    /** Starts, waits until healthy, returns the handle. Throws with the log tail if it cannot. */
    start(ctx: EngineContext): Promise<EngineHandle>;
}
