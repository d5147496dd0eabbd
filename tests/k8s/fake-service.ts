/**
 * A Service of the stack, as the Kubernetes platform names it, whose pod is a kwok pod and whose
 * port leads to a real engine on this host: kwok's PortForward object sends the pod's port there
 * (see port-forward.test.ts). A `kubectl port-forward svc/<name>` then goes kubectl -> API server
 * -> kwok's kubelet server -> the engine, as on a private cluster it goes to the container.
 */
import * as fs from "node:fs";
import { procStat, waitUntil } from "../engines/lib";
import { apply, type Cluster, get, type KObject, list } from "./api";

/** A namespace whose pods can start: the controller-manager has made its default ServiceAccount. */
export async function namespaceReady(cluster: Cluster, namespace: string): Promise<void> {
    await apply(cluster, { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
    await waitUntil(`ServiceAccount default in ${namespace}`, async () => (await list(cluster, "v1", "ServiceAccount", namespace)).length > 0, { timeoutMs: 120_000, intervalMs: 500 });
}

/** Service `name` with one `port`, its pod `<name>-0` Running, and the pod's port forwarded to 127.0.0.1:`target`. */
export async function serviceOnEngine(cluster: Cluster, namespace: string, name: string, port: number, target: number): Promise<void> {
    const labels = { "app.kubernetes.io/name": name };
    const pod = `${name}-0`;
    await apply(cluster, { apiVersion: "v1", kind: "Pod", metadata: { name: pod, namespace, labels }, spec: { automountServiceAccountToken: false, containers: [{ name, image: name, ports: [{ containerPort: port }] }] } });
    await apply(cluster, { apiVersion: "v1", kind: "Service", metadata: { name, namespace }, spec: { selector: labels, ports: [{ port, targetPort: port }] } });
    await waitUntil(`pod ${pod} Running`, async () => ((await get(cluster, "v1", "Pod", namespace, pod)).status as { phase?: string }).phase === "Running", { timeoutMs: 180_000, intervalMs: 500 });
    await forwardPodPort(cluster, namespace, pod, port, target);
}

/** Forwards `port` of the pod `name` (in `namespace`) to 127.0.0.1:`target`, through kwok's PortForward object, named and namespaced like the pod. */
export function forwardPodPort(cluster: Cluster, namespace: string, name: string, port: number, target: number): Promise<KObject> {
    return apply(cluster, {
        apiVersion: "kwok.x-k8s.io/v1alpha1",
        kind: "PortForward",
        metadata: { name, namespace },
        spec: { forwards: [{ ports: [port], target: { address: "127.0.0.1", port: target } }] },
    });
}

/** kubectl processes this test process started (what a tunnel left running). */
export function kubectls(): number[] {
    return fs
        .readdirSync("/proc")
        .filter((p) => /^\d+$/.test(p))
        .map(Number)
        .filter((pid) => {
            const stat = procStat(pid);
            if (Number(stat?.[1]) !== process.pid) return false;
            try {
                return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "kubectl";
            } catch {
                return false;
            }
        });
}

/** How many TCP connections this process holds to `port` on this host: a client that went around the tunnel. */
export function directConnections(port: number): number {
    const ours = new Set(
        fs.readdirSync("/proc/self/fd").flatMap((fd) => {
            try {
                return [/^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`))?.[1]].filter((i): i is string => i !== undefined);
            } catch {
                return [];
            }
        }),
    );
    const hex = port.toString(16).toUpperCase().padStart(4, "0");
    return ["/proc/self/net/tcp", "/proc/self/net/tcp6"]
        .flatMap((f) => fs.readFileSync(f, "utf8").split("\n").slice(1))
        .map((line) => line.trim().split(/\s+/))
        .filter((cols) => cols.length > 9 && cols[2]!.endsWith(`:${hex}`) && ours.has(cols[9]!)).length;
}

/** Runs `fn` while sampling connections to `port`; returns the most seen at once (0: nothing went around the tunnel). */
export async function connectionsDuring(port: number, fn: () => Promise<void>): Promise<number> {
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, directConnections(port))), 10);
    try {
        await fn();
    } finally {
        clearInterval(watch);
    }
    return most;
}
