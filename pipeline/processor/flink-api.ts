/** Minimal clients for the two Flink REST APIs the submitter needs: SQL Gateway and JobManager. */
import { sleep } from "../shared/sleep";

export async function call<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${base}${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
    }).catch((error: Error) => {
        // fetch's own message ("fetch failed") names neither the URL nor the cause.
        throw new Error(`${method} ${base}${path}: ${(error.cause as Error | undefined)?.message ?? error.message}`);
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${base}${path} -> ${response.status}: ${flinkError(text)}`);
    return (text ? JSON.parse(text) : undefined) as T;
}

/** Flink answers errors as {"errors": [...stack traces]}: keep the root cause lines, not 300 frames. */
function flinkError(text: string): string {
    try {
        const errors = (JSON.parse(text) as { errors?: string[] }).errors ?? [];
        const causes = errors.join("\n").split("\n").filter((l) => /Exception|Error|Caused by/.test(l) && !/^\s+at /.test(l));
        return causes.slice(-6).join("\n") || text.slice(0, 2000);
    } catch {
        return text.slice(0, 2000);
    }
}

async function poll<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await check();
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`${what}: no result after ${timeoutMs} ms`);
        await sleep(300);
    }
}

/** One SQL Gateway session: statements one at a time, each to completion. */
export class GatewaySession {
    private constructor(private readonly base: string, readonly handle: string) {}

    static async open(base: string, properties: Record<string, string>): Promise<GatewaySession> {
        const { sessionHandle } = await call<{ sessionHandle: string }>(base, "POST", "/v1/sessions", { properties, sessionName: "pipeline-submitter" });
        return new GatewaySession(base, sessionHandle);
    }

    /** Runs a statement; returns the Flink job id for INSERTs / statement sets. Throws Flink's error. */
    async execute(statement: string): Promise<{ jobId?: string }> {
        const prefix = `/v1/sessions/${this.handle}`;
        const { operationHandle } = await call<{ operationHandle: string }>(this.base, "POST", `${prefix}/statements`, { statement });
        const operation = `${prefix}/operations/${operationHandle}`;
        const status = await poll(`statement ${statement.slice(0, 60)}`, 300_000, async () => {
            const { status } = await call<{ status: string }>(this.base, "GET", `${operation}/status`);
            return ["FINISHED", "ERROR", "CANCELED", "TIMEOUT", "CLOSED"].includes(status) ? status : undefined;
        });
        // For a failed statement the result endpoint answers 500 with Flink's exception: that is the error we want.
        const page = await call<{ jobID?: string }>(this.base, "GET", `${operation}/result/0?rowFormat=JSON`);
        if (status !== "FINISHED") throw new Error(`statement ended ${status}: ${statement.slice(0, 200)}`);
        return { jobId: page.jobID };
    }

    async close(): Promise<void> {
        await call(this.base, "DELETE", `/v1/sessions/${this.handle}`).catch(() => undefined);
    }
}

export interface JobOverview { jid: string; name: string; state: string; "start-time": number }

/** States after which a job will not run again by itself. */
export const terminalStates = new Set(["FINISHED", "CANCELED", "FAILED", "SUSPENDED"]);

export class JobManager {
    constructor(readonly base: string) {}

    async jobs(): Promise<JobOverview[]> {
        return (await call<{ jobs: JobOverview[] }>(this.base, "GET", "/jobs/overview")).jobs;
    }

    async state(jobId: string): Promise<string> {
        return (await call<{ state: string }>(this.base, "GET", `/jobs/${jobId}`)).state;
    }

    /** Stop-with-savepoint (no drain: windows stay open in the savepoint); returns the savepoint path. */
    async stopWithSavepoint(jobId: string, targetDirectory?: string): Promise<string> {
        const { "request-id": trigger } = await call<{ "request-id": string }>(this.base, "POST", `/jobs/${jobId}/stop`, {
            drain: false, ...(targetDirectory ? { targetDirectory } : {}),
        });
        return poll(`savepoint of ${jobId}`, 300_000, async () => {
            const r = await call<{ status: { id: string }; operation?: { location?: string; "failure-cause"?: { "stack-trace"?: string } } }>(
                this.base, "GET", `/jobs/${jobId}/savepoints/${trigger}`);
            if (r.status.id !== "COMPLETED") return undefined;
            if (!r.operation?.location) throw new Error(`stop-with-savepoint of ${jobId} failed: ${(r.operation?.["failure-cause"]?.["stack-trace"] ?? "").split("\n")[0]}`);
            return r.operation.location;
        });
    }

    /** Waits for RUNNING with all tasks running (a job can be RUNNING while tasks still deploy). */
    async waitRunning(jobId: string, timeoutMs = 120_000): Promise<void> {
        await poll(`job ${jobId} running`, timeoutMs, async () => {
            const job = await call<{ state: string; vertices: Array<{ status: string }> }>(this.base, "GET", `/jobs/${jobId}`);
            if (terminalStates.has(job.state)) {
                const exceptions = await call<{ "root-exception"?: string }>(this.base, "GET", `/jobs/${jobId}/exceptions`).catch(() => ({ "root-exception": "" }));
                throw new Error(`job ${jobId} ended ${job.state}: ${(exceptions["root-exception"] ?? "").split("\n").slice(0, 3).join(" ")}`);
            }
            return job.state === "RUNNING" && job.vertices.every((v) => v.status === "RUNNING") ? true : undefined;
        });
    }
}
