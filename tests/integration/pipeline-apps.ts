/**
 * Runs the pipeline apps as the image does (one process per app, configured by environment
 * variables), for the pipeline suite and the benchmarks.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { repoRoot } from "../engines/state";

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
    const child = spawn(process.execPath, ["--require", "tsx/cjs", path.join(repoRoot, "pipeline", "main.ts"), app], {
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
