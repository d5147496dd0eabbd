/**
 * GET /healthz for container healthchecks: 200 while `healthy()` says so, else 503, with a small
 * JSON status body. Any other path is 404.
 */
import * as http from "node:http";

export function startHealthServer(port: number, status: () => { healthy: boolean } & Record<string, unknown>): Promise<http.Server> {
    const server = http.createServer((req, res) => {
        if (req.method !== "GET" || req.url?.split("?")[0] !== "/healthz") {
            res.writeHead(404).end();
            return;
        }
        const body = status();
        res.writeHead(body.healthy ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify(body));
    });
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "0.0.0.0", () => resolve(server));
    });
}

/** Runs `stop` once on the first SIGTERM/SIGINT (Docker sends SIGTERM, a terminal SIGINT). */
export function onShutdown(stop: (signal: string) => Promise<void>): void {
    let stopping = false;
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
        process.on(signal, () => {
            if (stopping) return;
            stopping = true;
            void stop(signal);
        });
    }
}
