/**
 * Druid's overlord API as `pulumi up` reaches it: through the router's management proxy, the one
 * published Druid URL. The supervisor provider uses it, and so do the tests, so a test leaves
 * Druid exactly as a `pulumi destroy` would.
 */

/** A task as the overlord lists it (`/druid/indexer/v1/tasks`). */
export interface OverlordTask {
    id: string;
    type: string;
    dataSource: string;
    /** RUNNING, SUCCESS or FAILED. */
    statusCode: string;
    /** The runner's view: PENDING (waiting for a slot), RUNNING, WAITING, NONE. */
    runnerStatusCode?: string;
    createdTime?: string;
    location?: { host: string | null; port: number };
}

interface Worker {
    worker: { host: string; capacity: number };
    currCapacityUsed: number;
    runningTasks: string[];
}

interface SupervisorStatus {
    payload?: { state?: string; activeTasks?: { id: string }[]; publishingTasks?: { id: string }[] };
}

/** Druid's error bodies are JSON ({"error": ...} or {"errorMessage": ...}) or, from Jetty, plain text. */
export function druidMessage(body: string): string {
    try {
        const parsed = JSON.parse(body) as Record<string, unknown>;
        const message = parsed.errorMessage ?? parsed.error ?? parsed.message;
        if (typeof message === "string" && message) return message;
    } catch {
        // not JSON: fall through to the raw text
    }
    return body.trim().slice(0, 2000) || "(empty response body)";
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * One call to the overlord API. Retries only what a cluster that is still settling answers
 * (connection refused, 502/503/504 from the router while the overlord is elected); a 4xx is
 * Druid's verdict on the request and is returned at once.
 */
export async function overlordCall(url: string, method: "GET" | "POST", path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const attempts = 30;
    let lastProblem = "";
    for (let attempt = 1; attempt <= attempts; attempt++) {
        try {
            const res = await fetch(`${url.replace(/\/$/, "")}${path}`, {
                method,
                headers: body === undefined ? {} : { "content-type": "application/json" },
                body: body === undefined ? undefined : JSON.stringify(body),
                signal: AbortSignal.timeout(60_000),
            });
            const text = await res.text();
            if (![502, 503, 504].includes(res.status)) return { status: res.status, text };
            lastProblem = `HTTP ${res.status} ${druidMessage(text)}`;
        } catch (e) {
            lastProblem = e instanceof Error ? `${e.message}${e.cause instanceof Error ? ` (${e.cause.message})` : ""}` : String(e);
        }
        if (attempt < attempts) await sleep(2_000);
    }
    throw new Error(`Druid at ${url} did not answer ${method} ${path} after ${attempts} attempts: ${lastProblem}`);
}

/** A JSON answer of the overlord API; any status but 2xx is an error naming the call and Druid's reason. */
export async function overlordJson<T>(url: string, path: string): Promise<T> {
    const { status, text } = await overlordCall(url, "GET", path);
    if (status < 200 || status >= 300) throw new Error(`Druid at ${url}: GET ${path} answered HTTP ${status}: ${druidMessage(text)}`);
    return JSON.parse(text) as T;
}

/** Tasks that hold or wait for a slot: running, pending (no free slot) and waiting (not yet handed to a worker). */
export async function unfinishedTasks(url: string, dataSource?: string): Promise<OverlordTask[]> {
    const of = dataSource === undefined ? "" : `&datasource=${encodeURIComponent(dataSource)}`;
    const lists = await Promise.all(["running", "pending", "waiting"].map((state) => overlordJson<OverlordTask[]>(url, `/druid/indexer/v1/tasks?state=${state}${of}`)));
    const byId = new Map(lists.flat().map((t) => [t.id, t]));
    return [...byId.values()];
}

/**
 * What the overlord is doing, in a few lines: supervisors, unfinished tasks and each worker's
 * slots. Errors and test timeouts carry it, so a stall explains itself.
 */
export async function druidActivity(url: string): Promise<string> {
    try {
        const [supervisors, tasks, workers] = await Promise.all([
            overlordJson<string[]>(url, "/druid/indexer/v1/supervisor"),
            unfinishedTasks(url),
            overlordJson<Worker[]>(url, "/druid/indexer/v1/workers"),
        ]);
        const age = (t: OverlordTask) => (t.createdTime ? `${Math.round((Date.now() - Date.parse(t.createdTime)) / 1000)} s old` : "age unknown");
        return [
            `supervisors: ${supervisors.length ? supervisors.join(", ") : "none"}`,
            `unfinished tasks: ${tasks.length ? "" : "none"}`,
            ...tasks.map((t) => `  ${t.id} (${t.type}, ${t.dataSource}): ${t.statusCode}/${t.runnerStatusCode ?? "?"}, ${age(t)}`),
            ...workers.map((w) => `worker ${w.worker.host}: ${w.currCapacityUsed} of ${w.worker.capacity} slots used by ${w.runningTasks.join(", ") || "nothing"}`),
        ].join("\n");
    } catch (e) {
        return `(Druid's activity could not be read: ${e instanceof Error ? e.message : String(e)})`;
    }
}

export interface TerminateOptions {
    /** How long to wait for the supervisor to know every task it started (default: 2 minutes). */
    discoveryMs?: number;
    /** How long its tasks may take to publish and hand off after the terminate (default: 10 minutes). */
    drainMs?: number;
    pollMs?: number;
}

export interface TerminateResult {
    /** The supervisor existed and was terminated (false: it was already gone). */
    terminated: boolean;
    /** Tasks that published their segments and finished. */
    finished: string[];
    /** Tasks the supervisor never knew of, shut down: their rows were never committed and stay in Kafka. */
    shutDown: string[];
}

/**
 * Terminates a Kafka supervisor and returns once none of its tasks holds a slot any more.
 *
 * Druid 33's terminate asks the supervisor to stop the tasks it knows of: they stop reading,
 * publish and hand off. But a supervisor learns of the tasks it created only on its next run
 * (`ioConfig.period`, 30 s by default; the run a task's start triggers is dropped when it comes
 * within a second of the last one). A terminate in that window leaves its newest task reading for
 * ever, holding a task slot that nothing frees. So: wait until the supervisor lists every running
 * task of its datasource, terminate, shut down any task it still did not know (Druid commits a
 * task's Kafka offsets together with its segments, so such a task's rows are not lost: they are
 * still in the topic), and wait for the others to finish their handoff.
 */
export async function terminateSupervisor(url: string, dataSource: string, options: TerminateOptions = {}): Promise<TerminateResult> {
    const { discoveryMs = 120_000, drainMs = 600_000, pollMs = 2_000 } = options;
    const id = encodeURIComponent(dataSource);
    const ingestionTasks = async () => (await unfinishedTasks(url, dataSource)).filter((t) => t.type === "index_kafka");

    const known = new Set<string>();
    const readKnown = async (): Promise<boolean> => {
        const { status, text } = await overlordCall(url, "GET", `/druid/indexer/v1/supervisor/${id}/status`);
        if (status === 404) return false;
        if (status < 200 || status >= 300) throw new Error(`Druid at ${url}: the status of supervisor "${dataSource}" answered HTTP ${status}: ${druidMessage(text)}`);
        const payload = (JSON.parse(text) as SupervisorStatus).payload ?? {};
        for (const t of [...(payload.activeTasks ?? []), ...(payload.publishingTasks ?? [])]) known.add(t.id);
        return true;
    };

    let exists = await readKnown();
    const discoveryDeadline = Date.now() + discoveryMs;
    while (exists && Date.now() < discoveryDeadline && (await ingestionTasks()).some((t) => !known.has(t.id))) {
        await sleep(pollMs);
        exists = await readKnown();
    }

    let terminated = false;
    if (exists) {
        const { status, text } = await overlordCall(url, "POST", `/druid/indexer/v1/supervisor/${id}/terminate`);
        // 404: terminated by someone else in the meantime; its tasks are handled below all the same.
        if (status !== 404 && (status < 200 || status >= 300)) {
            throw new Error(`Druid at ${url} could not terminate the supervisor "${dataSource}" (HTTP ${status}): ${druidMessage(text)}`);
        }
        terminated = status !== 404;
    }

    const shutDown: string[] = [];
    for (const task of (await ingestionTasks()).filter((t) => !known.has(t.id))) {
        const { status, text } = await overlordCall(url, "POST", `/druid/indexer/v1/task/${encodeURIComponent(task.id)}/shutdown`);
        if (status !== 404 && (status < 200 || status >= 300)) {
            throw new Error(`Druid at ${url} could not shut down task ${task.id} of "${dataSource}" (HTTP ${status}): ${druidMessage(text)}`);
        }
        shutDown.push(task.id);
    }

    // Done when the overlord has no unfinished task of the datasource left and no worker still
    // holds a slot for one (a shut-down task leaves its worker a moment after the overlord forgets it).
    // After a shutdown that quiet must hold on two polls in a row: a task shut down between its
    // assignment and its start is forgotten by the overlord at once, yet its worker still starts
    // it and reports it running for a moment before the overlord's sync kills it (seen in CI:
    // shut down 60 ms after its creation, running again 70 ms later, gone 300 ms after that).
    const ours = new Set([...known, ...shutDown]);
    const quietPolls = shutDown.length > 0 ? 2 : 1;
    let quiet = 0;
    const drainDeadline = Date.now() + drainMs;
    for (;;) {
        const left = await ingestionTasks();
        left.forEach((t) => ours.add(t.id));
        const held = (await overlordJson<Worker[]>(url, "/druid/indexer/v1/workers")).flatMap((w) => w.runningTasks).filter((t) => ours.has(t));
        quiet = left.length === 0 && held.length === 0 ? quiet + 1 : 0;
        if (quiet >= quietPolls) break;
        if (Date.now() > drainDeadline) {
            throw new Error(
                `Druid at ${url}: ingestion tasks of "${dataSource}" still hold a slot ${Math.round(drainMs / 1000)} s after the ` +
                    `supervisor was terminated (publishing or waiting for the historicals to load their segments):\n${await druidActivity(url)}`,
            );
        }
        await sleep(pollMs);
    }
    return { terminated, finished: [...known].filter((t) => !shutDown.includes(t)), shutDown };
}
