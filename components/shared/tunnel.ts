import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { KubernetesVia, Reach } from "../platform/types";

/**
 * Runs `fn` with one local `host:port` per reach, in the same order, and closes whatever it opened
 * when `fn` settles. A reach without `via` (Docker) is handed over unchanged; a reach with `via`
 * (Kubernetes) gets a tunnel through the cluster's API server, `kubectl port-forward` to its Service.
 *
 * kubectl rather than a client library: it resolves `svc/NAME` to a ready pod itself and runs every
 * kubeconfig auth plugin (EKS, GKE, OIDC exec plugins), which is what a private cluster needs.
 * Each tunnel is opened before `fn` runs, so a missing kubectl, a wrong context or missing RBAC
 * fails the operation at once, with kubectl's own words.
 */
export async function withReach<T>(reaches: Reach[], fn: (addresses: string[]) => Promise<T>): Promise<T> {
    if (reaches.every((r) => r.via === undefined)) return fn(reaches.map((r) => r.address));
    return withTunnels(reaches, fn);
}

export interface TunnelOptions {
    /** The kubectl binary: $KUBECTL, else `kubectl` on PATH. */
    kubectl?: string;
    /** How long kubectl may take to say it is forwarding (auth plugins and API calls included). */
    upWithinMs?: number;
}

/** Long enough for an exec auth plugin (aws eks get-token takes seconds) and a slow API server. */
const DEFAULT_UP_WITHIN_MS = 60_000;

/** withReach with its knobs exposed, for tests. */
export async function withTunnels<T>(reaches: Reach[], fn: (addresses: string[]) => Promise<T>, options: TunnelOptions = {}): Promise<T> {
    const files = kubeconfigFiles(reaches);
    try {
        return await tunnelled(files.reaches, fn, options);
    } finally {
        files.remove();
    }
}

/**
 * A `via` that holds a kubeconfig's content (a cluster the stack created) gets a file of it,
 * readable by this user alone, for as long as its tunnels run: kubectl reads a kubeconfig from a
 * file only. One file per distinct content.
 */
function kubeconfigFiles(reaches: Reach[]): { reaches: Reach[]; remove: () => void } {
    const written = new Map<string, string>();
    let dir: string | undefined = undefined;
    const mapped = reaches.map((r) => {
        const data = r.via?.kubeconfigData;
        if (r.via === undefined || data === undefined) return r;
        if (typeof data !== "string") throw new Error(`cannot tunnel to ${r.address}: the kubeconfig content is not resolved (${typeof data})`);
        dir ??= fs.mkdtempSync(path.join(os.tmpdir(), "dataplatform-kubeconfig-"));
        let file = written.get(data);
        if (file === undefined) {
            file = path.join(dir, `kubeconfig-${written.size}`);
            fs.writeFileSync(file, data, { mode: 0o600 });
            written.set(data, file);
        }
        const { kubeconfigData: _data, ...via } = r.via;
        return { ...r, via: { ...via, kubeconfig: file } };
    });
    return { reaches: mapped, remove: () => dir !== undefined && fs.rmSync(dir, { recursive: true, force: true }) };
}

async function tunnelled<T>(reaches: Reach[], fn: (addresses: string[]) => Promise<T>, options: TunnelOptions): Promise<T> {
    const opening = reaches.map((r) => (r.via ? openTunnel(r, options) : Promise.resolve(undefined)));
    // Every open is awaited, failed or not, so none is left running when another one fails.
    const settled = await Promise.allSettled(opening);
    const tunnels = settled.map((s) => (s.status === "fulfilled" ? s.value : undefined));
    try {
        const failed = settled.filter((s): s is PromiseRejectedResult => s.status === "rejected").map((s) => (s.reason instanceof Error ? s.reason.message : String(s.reason)));
        if (failed.length) throw new Error(failed.join("\n"));
        try {
            return await fn(reaches.map((r, i) => tunnels[i]?.address ?? r.address));
        } catch (e) {
            // The operation's own error names the local end (127.0.0.1:NNNN): say what is behind it.
            throw explained(e, tunnels.filter((t): t is Tunnel => t !== undefined));
        }
    } finally {
        await Promise.all(tunnels.map((t) => t?.close()));
    }
}

/** `svc/NAME:PORT in namespace NS (context C)`: what a tunnel reaches, for every message about it. */
export function describeVia(address: string, via: KubernetesVia): string {
    const { service, port } = serviceAndPort(address);
    const context = via.context ? `context ${via.context}` : "the kubeconfig's current context";
    const kubeconfig = via.kubeconfig ? `, kubeconfig ${via.kubeconfig}` : via.kubeconfigData !== undefined ? ", the stack's own kubeconfig" : "";
    return `svc/${service}:${port} in namespace ${via.namespace} (${context}${kubeconfig})`;
}

/** A reach as error messages name it: its address, plus how it is tunnelled to on Kubernetes. */
export function describeReach(reach: Reach): string {
    return reach.via ? describeVia(reach.address, reach.via) : reach.address;
}

/** kubectl's flags for the cluster a `via` names: what the tunnels and the port-forward commands of the outputs share. */
export function kubeconfigArgs(via: KubernetesVia): string[] {
    return [...(via.kubeconfig ? ["--kubeconfig", via.kubeconfig] : []), ...(via.context ? ["--context", via.context] : [])];
}

/** The kubectl arguments that forward a free local port on 127.0.0.1 to a Service's port. */
export function portForwardArgs(address: string, via: KubernetesVia): string[] {
    const { service, port } = serviceAndPort(address);
    return [
        ...kubeconfigArgs(via),
        "port-forward",
        "-n",
        via.namespace,
        // IPv4 only: kubectl's default (localhost) also binds ::1, a second port nobody uses.
        "--address",
        "127.0.0.1",
        `svc/${service}`,
        // No local port: kubectl picks a free one and prints it.
        `:${port}`,
    ];
}

function serviceAndPort(address: string): { service: string; port: number } {
    const at = address.lastIndexOf(":");
    const service = address.slice(0, at);
    const port = Number(address.slice(at + 1));
    if (at <= 0 || !service || !Number.isInteger(port) || port < 1 || port > 65535) {
        throw new Error(`cannot tunnel to "${address}": a reach through Kubernetes must be <service>:<port>`);
    }
    return { service, port };
}

/** The local port from kubectl's `Forwarding from 127.0.0.1:NNNN -> PORT` line. */
export function forwardedPort(stdout: string): number | undefined {
    const m = /Forwarding from 127\.0\.0\.1:(\d+) ->/.exec(stdout);
    return m ? Number(m[1]) : undefined;
}

const kubectlBinary = (options: TunnelOptions) => options.kubectl ?? process.env.KUBECTL ?? "kubectl";

/** One running `kubectl port-forward`. */
interface Forward {
    child: ChildProcess;
    port: number;
    exited: Promise<void>;
    isExited: () => boolean;
    stderr: () => string;
}

/** The last few KiB of a stream: kubectl repeats itself on retries, the end says what happened. */
function tail(limit = 4000) {
    let text = "";
    return { add: (chunk: Buffer) => void (text = (text + chunk.toString()).slice(-limit)), text: () => text.trim() };
}

/**
 * kubectl's verdict from its stderr: its own `error: ...` lines, without the klog lines
 * (`E1127 02:16:27.498610 ...`) it logs for each retry of the same call; the last of those when
 * there is nothing else.
 */
export function kubectlSaid(stderr: string): string {
    const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
    const plain = lines.filter((l) => !/^[IWEF]\d{4} \d\d:\d\d:\d\d/.test(l));
    return (plain.length ? plain.join("\n") : lines.at(-1)) ?? "";
}

/**
 * Starts kubectl and resolves once it forwards. Its output is read for as long as it runs: kubectl
 * prints a line per connection, and a full pipe would block it.
 */
function startForward(reach: Reach & { via: KubernetesVia }, options: TunnelOptions): Promise<Forward> {
    const kubectl = kubectlBinary(options);
    const upWithinMs = options.upWithinMs ?? DEFAULT_UP_WITHIN_MS;
    const what = `kubectl port-forward to ${describeVia(reach.address, reach.via)}`;
    const args = portForwardArgs(reach.address, reach.via);
    return new Promise<Forward>((resolve, reject) => {
        // Not detached: a Ctrl-C at the terminal reaches kubectl (and its auth plugin) as well.
        const child = spawn(kubectl, args, { stdio: ["ignore", "pipe", "pipe"] });
        const stdout = tail();
        const stderr = tail();
        let exited = false;
        let settled = false;
        // Declared before every closure that uses it: Pulumi's closure serializer takes a name used
        // before its declaration for a captured variable, and cannot serialize the provider.
        let timedOut = false;
        let timer: NodeJS.Timeout | undefined = undefined;
        const exit = new Promise<void>((done) => {
            child.once("close", () => {
                exited = true;
                done();
            });
        });
        const fail = (message: string) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            reject(new Error(message));
        };
        // Rejected only once kubectl is gone: nothing outlives a failed open.
        timer = setTimeout(() => {
            timedOut = true;
            void stop(child, exit);
        }, upWithinMs);
        child.stdout!.on("data", (chunk: Buffer) => {
            stdout.add(chunk);
            const port = settled ? undefined : forwardedPort(stdout.text());
            if (port === undefined) return;
            settled = true;
            clearTimeout(timer);
            resolve({ child, port, exited: exit, isExited: () => exited, stderr: stderr.text });
        });
        child.stderr!.on("data", (chunk: Buffer) => stderr.add(chunk));
        child.once("error", (e: NodeJS.ErrnoException) => {
            exited = true;
            fail(
                e.code === "ENOENT"
                    ? `${what}: kubectl not found (ran "${kubectl}"; set KUBECTL to its path or put it on PATH)`
                    : `${what}: kubectl ("${kubectl}") could not be started: ${e.message}`,
            );
        });
        void exit.then(() =>
            fail(
                timedOut
                    ? `${what} did not start forwarding within ${upWithinMs / 1000} s; kubectl said: ${kubectlSaid(stderr.text()) || "nothing"}`
                    : `${what} failed (kubectl exited with ${child.exitCode ?? child.signalCode}): ${kubectlSaid(stderr.text()) || "no output"}`,
            ),
        );
    });
}

/** Ends kubectl: SIGTERM, then SIGKILL if it lingers. */
async function stop(child: ChildProcess, exited: Promise<void>): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    child.kill("SIGTERM");
    const lingering = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(lingering);
}

interface Tunnel {
    /** Where `fn` connects: stable for the whole operation, whatever happens to kubectl behind it. */
    address: string;
    reach: Reach & { via: KubernetesVia };
    /** What went wrong re-opening kubectl during the operation, if anything. */
    problem: () => string | undefined;
    close: () => Promise<void>;
}

/**
 * A local listener in front of kubectl. kubectl port-forward ends when its pod goes away (a
 * restart, a rollout, a drained node), and a provider operation can outlast that (Druid's drain
 * waits up to 10 minutes). The next connection then starts a new kubectl, which resolves the
 * Service to a ready pod again; connections open at the time break, and the callers' own retries
 * (kafkajs, the overlord and Superset clients) reconnect.
 */
async function openTunnel(reach: Reach, options: TunnelOptions): Promise<Tunnel> {
    const target = reach as Reach & { via: KubernetesVia };
    let current = startForward(target, options);
    const first = await current;
    const forwards: Forward[] = [first];
    let latest = first;
    let problem: string | undefined;
    const sockets = new Set<net.Socket>();
    let closing = false;

    let restarting: Promise<Forward> | undefined;
    const restart = (): Promise<Forward> => {
        restarting ??= (async () => {
            try {
                const f = await startForward(target, options);
                forwards.push(f);
                latest = f;
                if (closing) await stop(f.child, f.exited);
                current = Promise.resolve(f);
                return f;
            } catch (e) {
                problem = e instanceof Error ? e.message : String(e);
                current = Promise.reject(e);
                current.catch(() => undefined);
                throw e;
            } finally {
                restarting = undefined;
            }
        })();
        return restarting;
    };

    const live = (): Promise<Forward> =>
        current.then(
            (f) => (f.isExited() ? restart() : f),
            () => restart(),
        );
    const relay = async (client: net.Socket) => {
        sockets.add(client);
        client.once("close", () => sockets.delete(client));
        client.on("error", () => client.destroy());
        for (let attempt = 1; attempt <= 2 && !closing; attempt++) {
            let forward: Forward;
            try {
                forward = await live();
            } catch {
                break;
            }
            const upstream = net.connect(forward.port, "127.0.0.1");
            sockets.add(upstream);
            upstream.once("close", () => sockets.delete(upstream));
            const connected = await new Promise<boolean>((resolve) => {
                upstream.once("connect", () => resolve(true));
                upstream.once("error", () => resolve(false));
            });
            if (connected) {
                upstream.on("error", () => client.destroy());
                upstream.once("close", () => client.destroy());
                client.once("close", () => upstream.destroy());
                client.pipe(upstream);
                upstream.pipe(client);
                return;
            }
            upstream.destroy();
            // kubectl's port refused: it is exiting; the second attempt starts a new one.
            await stop(forward.child, forward.exited);
        }
        client.destroy();
    };

    const server = net.createServer((client) => void relay(client));
    try {
        await new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen(0, "127.0.0.1", () => resolve());
        });
    } catch (e) {
        await stop(first.child, first.exited);
        throw new Error(`the local end of the tunnel to ${describeVia(target.address, target.via)} could not listen: ${e instanceof Error ? e.message : String(e)}`);
    }
    const { port } = server.address() as net.AddressInfo;
    return {
        address: `127.0.0.1:${port}`,
        reach: target,
        problem: () => problem ?? (latest.isExited() ? `its kubectl exited: ${kubectlSaid(latest.stderr()) || "no output"}` : undefined),
        close: async () => {
            closing = true;
            const closed = new Promise<void>((resolve) => server.close(() => resolve()));
            for (const s of sockets) s.destroy();
            await restarting?.catch(() => undefined);
            await Promise.all(forwards.map((f) => stop(f.child, f.exited)));
            await closed;
        },
    };
}

/** The error of an operation through tunnels, with what each local address stands for. */
function explained(e: unknown, tunnels: Tunnel[]): Error {
    const error = e instanceof Error ? e : new Error(String(e));
    const notes = tunnels.map((t) => {
        const problem = t.problem();
        return `${t.address} is a kubectl port-forward to ${describeVia(t.reach.address, t.reach.via)}${problem ? ` (${problem})` : ""}`;
    });
    error.message = `${error.message} [${notes.join("; ")}]`;
    return error;
}
