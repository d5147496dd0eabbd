/**
 * Runs the pipeline apps as the image does: the bundle pipeline/build.sh makes for the image
 * (built once per test process), one process per app, configured by environment variables; for
 * the pipeline suite and the benchmarks.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "../engines/state";

let bundle: string | undefined;

/** The image's main.js, built here by the image's own script into a folder of this process. */
export function pipelineBundle(): string {
    if (!bundle) {
        const dir = path.join(repoRoot, ".build", `pipeline-${process.pid}`);
        execFileSync("sh", [path.join(repoRoot, "pipeline", "build.sh"), dir], { cwd: repoRoot, stdio: "pipe" });
        process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
        bundle = path.join(dir, "main.js");
    }
    return bundle;
}

export interface AppProcess {
    child: ChildProcess;
    /** Parsed JSON log lines so far. */
    logs: Array<Record<string, unknown>>;
    /** Raw output (stdout + stderr), for failure messages. */
    output(): string;
    exited: Promise<number | null>;
}

export function startApp(app: "producer" | "consumer" | "processor", env: Record<string, string>): AppProcess {
    // process.execPath: the Node that runs the tests (22, from node_modules), not whatever `node` is on PATH.
    const child = spawn(process.execPath, [pipelineBundle(), app], {
        cwd: repoRoot,
        env: { ...process.env, HEALTH_PORT: "0", ...env },
        stdio: ["ignore", "pipe", "pipe"],
    });
    const logs: Array<Record<string, unknown>> = [];
    let raw = "";
    let pending = "";
    child.stdout!.on("data", (chunk: Buffer) => {
        raw += chunk;
        pending += chunk;
        const lines = pending.split("\n");
        pending = lines.pop()!;
        for (const line of lines) {
            try { logs.push(JSON.parse(line) as Record<string, unknown>); } catch { /* not a log line */ }
        }
    });
    child.stderr!.on("data", (chunk: Buffer) => { raw += chunk; });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    return { child, logs, output: () => raw.slice(-6000), exited };
}
