/**
 * `kubectl port-forward` through the real API server to a kwok pod: the API server opens the
 * stream to the pod's node (kwok's kubelet server, over TLS with the API server's kubelet client
 * certificate), and kwok's PortForward object for the pod sends the port to a TCP server this
 * test runs on 127.0.0.1. This is how provisioning tunnels can be tested without a container.
 *
 * A test makes a pod's port reachable with one object, named and namespaced like the pod:
 *   { apiVersion: "kwok.x-k8s.io/v1alpha1", kind: "PortForward",
 *     metadata: { name: <pod>, namespace: <namespace> },
 *     spec: { forwards: [{ ports: [<containerPort>], target: { address: "127.0.0.1", port: <local server port> } }] } }
 * (`forwardPodPort` in fake-service.ts).
 */
import { strict as assert } from "assert";
import { type ChildProcess, spawn } from "node:child_process";
import * as net from "node:net";
import { apply, type Cluster, clusterOf, get } from "./api";
import { forwardPodPort, namespaceReady } from "./fake-service";
import { engine } from "../engines/state";
import { waitUntil } from "../engines/lib";

/** A TCP server answering each chunk with `echo:` + the chunk; `sockets` are its open connections (kwok may hold them open). */
function echoServer(): Promise<{ server: net.Server; sockets: Set<net.Socket> }> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        socket.on("error", () => undefined);
        socket.on("data", (d) => socket.write(Buffer.concat([Buffer.from("echo:"), d])));
    });
    return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, sockets })));
}

/** Starts `kubectl port-forward <target> :<port>` and resolves with the local port once it listens. */
function portForward(kubectl: string, kubeconfig: string, namespace: string, target: string, port: number): Promise<{ child: ChildProcess; local: number }> {
    const child = spawn(kubectl, ["--kubeconfig", kubeconfig, "port-forward", "-n", namespace, "--address", "127.0.0.1", target, `:${port}`], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => { child.kill(); reject(new Error(`kubectl port-forward ${target} did not listen in 60 s: ${out}`)); }, 60_000);
        const onData = (d: Buffer) => {
            out += d.toString();
            const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
            if (m) { clearTimeout(timer); resolve({ child, local: Number(m[1]) }); }
        };
        child.stdout!.on("data", onData);
        child.stderr!.on("data", onData);
        child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`kubectl port-forward exited ${code}: ${out}`)); });
    });
}

/** Sends `text` through the local end and returns what comes back. */
function roundTrip(port: number, text: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const socket = net.connect({ host: "127.0.0.1", port });
        let got = "";
        socket.setTimeout(30_000, () => socket.destroy(new Error(`no answer through port ${port}: got "${got}"`)));
        socket.on("connect", () => socket.write(text));
        socket.on("data", (d) => {
            got += d.toString();
            if (got.length >= text.length + 5) { socket.end(); resolve(got); }
        });
        socket.on("error", reject);
    });
}

describe("kubectl port-forward through the API server to a kwok pod", function () {
    const namespace = `pf-${Date.now().toString(36)}`;
    const pod = "tunnel-target";
    let cluster: Cluster;
    let server: net.Server;
    let sockets: Set<net.Socket>;
    const children: ChildProcess[] = [];

    before(async () => {
        const k = engine("kubernetes");
        cluster = clusterOf(k);
        ({ server, sockets } = await echoServer());
        await namespaceReady(cluster, namespace);
        const labels = { app: pod };
        await apply(cluster, { apiVersion: "v1", kind: "Pod", metadata: { name: pod, namespace, labels }, spec: { automountServiceAccountToken: false, containers: [{ name: "app", image: "busybox", ports: [{ containerPort: 8080, name: "http" }] }] } });
        await apply(cluster, { apiVersion: "v1", kind: "Service", metadata: { name: pod, namespace }, spec: { selector: labels, ports: [{ name: "http", port: 80, targetPort: 8080 }] } });
        await waitUntil(`pod ${pod} Running`, async () => ((await get(cluster, "v1", "Pod", namespace, pod)).status as { phase?: string }).phase === "Running", { timeoutMs: 180_000, intervalMs: 500 });
        await forwardPodPort(cluster, namespace, pod, 8080, (server.address() as net.AddressInfo).port);
    });

    after(async () => {
        for (const c of children) c.kill();
        for (const socket of sockets ?? []) socket.destroy();
        await new Promise((r) => (server ? server.close(r) : r(undefined)));
    });

    for (const target of [`pod/${pod}`, `svc/${pod}`]) {
        it(`carries bytes both ways through ${target}`, async () => {
            const k = engine("kubernetes");
            // kwok picks the PortForward up from a watch: the first connections may find no rule yet.
            const answer = await waitUntil(`a round trip through ${target}`, async () => {
                const { child, local } = await portForward(k.details.kubectl!, k.details.kubeconfig!, namespace, target, target.startsWith("svc/") ? 80 : 8080);
                children.push(child);
                try {
                    return await roundTrip(local, `hello ${target}`);
                } finally {
                    child.kill();
                }
            }, { timeoutMs: 120_000, intervalMs: 1_000 });
            assert.equal(answer, `echo:hello ${target}`);
        });
    }
});
