/**
 * A real Kubernetes control plane for tests, without a kubelet: etcd, kube-apiserver,
 * kube-controller-manager and kube-scheduler, and kwok (Kubernetes WithOut Kubelet) playing
 * the nodes, so Deployments become Available, StatefulSets Ready, claims Bound and Services get
 * endpoints. Containers never run.
 *
 * Build: `k8s.io/kubernetes` cannot be `go install`ed (its go.mod replaces every staging module
 * with a local folder), so a wrapper module requires it at `versions.kubernetes` and replaces each
 * staging module its own go.mod names with the published `v0.<minor>.<patch>` (sample-cli-plugin
 * and sample-controller are not published and not needed), and requires etcd's server at the
 * version kubernetes pins. One wrapper builds kube-apiserver, kube-controller-manager,
 * kube-scheduler, kubectl and etcd. Cold: about 10 minutes and 2.7 GB of memory at peak on 2 cores;
 * warm: nothing to do. kwok is `go install`ed at `versions.kwok`.
 */
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { versions } from "../../components/versions";
import { apply, type Cluster, find, type KObject, list } from "../k8s/api";
import { goEnv, serialGoBuild } from "./go";
import { cacheRoot, freePort, hashKey, run, spawnDetached, waitForHttp, waitUntil } from "./lib";
import type { Engine, EngineContext } from "./types";

/** The staging modules kubernetes' go.mod points at local folders that are not published. */
const UNPUBLISHED = new Set(["k8s.io/sample-cli-plugin", "k8s.io/sample-controller"]);
const CONTROL_PLANE = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"] as const;

/** The go.mod `go` downloaded for k8s.io/kubernetes at `version` (its module cache copy). */
async function kubernetesGoMod(version: string): Promise<string> {
    const scratch = path.join(cacheRoot(), "go", "scratch");
    fs.mkdirSync(scratch, { recursive: true });
    const info = JSON.parse(await run("go", ["mod", "download", "-json", `k8s.io/kubernetes@v${version}`], { cwd: scratch, env: goEnv() })) as { GoMod: string };
    return fs.readFileSync(info.GoMod, "utf8");
}

/** The wrapper module: kubernetes and etcd's server, each staging module replaced by its published release. */
function wrapperGoMod(kubernetesMod: string, version: string, etcd: string): string {
    const staging = [...kubernetesMod.matchAll(/^\s*(k8s\.io\/[a-z0-9-]+)\s*=>\s*\.\/staging\//gm)].map((m) => m[1]!).filter((m) => !UNPUBLISHED.has(m));
    if (staging.length < 20) throw new Error(`k8s.io/kubernetes v${version}: found only ${staging.length} staging replaces in its go.mod`);
    const pinned = /go\.etcd\.io\/etcd\/server\/v3 (v[^\s]+)/.exec(kubernetesMod)?.[1];
    if (pinned && pinned !== `v${etcd}`) throw new Error(`versions.etcd is ${etcd} but k8s.io/kubernetes v${version} pins etcd server ${pinned}`);
    const published = `v0.${version.split(".").slice(1).join(".")}`;
    return [
        "module local.engines/kubernetes",
        "",
        "go 1.26",
        "",
        "require (",
        `\tk8s.io/kubernetes v${version}`,
        `\tgo.etcd.io/etcd/server/v3 v${etcd}`,
        ")",
        "",
        "replace (",
        ...staging.map((m) => `\t${m} => ${m} ${published}`),
        ")",
        "",
    ].join("\n");
}

let controlPlane: Promise<string> | undefined;

/** Builds (once per version and wrapper) the control plane and etcd; returns the folder of their binaries. */
function ensureControlPlane(log: (message: string) => void): Promise<string> {
    controlPlane ??= (async () => {
        const version = versions.kubernetes;
        const mod = wrapperGoMod(await kubernetesGoMod(version), version, versions.etcd);
        const root = path.join(cacheRoot(), `kubernetes-${version}-${hashKey([mod])}`);
        const bin = path.join(root, "bin");
        const wanted = [...CONTROL_PLANE, "etcd"];
        if (wanted.every((b) => fs.existsSync(path.join(bin, b)))) return bin;

        const src = path.join(root, "src");
        fs.mkdirSync(src, { recursive: true });
        fs.mkdirSync(bin, { recursive: true });
        fs.writeFileSync(path.join(src, "go.mod"), mod);
        const [major, minor] = version.split(".");
        const stamp = `-s -w -X k8s.io/component-base/version.gitVersion=v${version} -X k8s.io/component-base/version.gitMajor=${major} -X k8s.io/component-base/version.gitMinor=${minor}`;
        const builds: [string, string, string][] = [
            ...CONTROL_PLANE.map((c): [string, string, string] => [c, `k8s.io/kubernetes/cmd/${c}`, stamp]),
            ["etcd", "go.etcd.io/etcd/server/v3", "-s -w"],
        ];
        for (const [name, pkg, ldflags] of builds) {
            const binary = path.join(bin, name);
            if (fs.existsSync(binary)) continue;
            await serialGoBuild(async () => {
                log(`building ${name} ${name === "etcd" ? versions.etcd : version} from the Go module proxy (first run only)`);
                const t0 = Date.now();
                await run("go", ["build", "-trimpath", "-ldflags", ldflags, "-o", `${binary}.part`, pkg], { cwd: src, env: goEnv() });
                fs.renameSync(`${binary}.part`, binary); // only a complete binary counts as built
                log(`${name} built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
            });
        }
        return bin;
    })();
    controlPlane.catch(() => (controlPlane = undefined));
    return controlPlane;
}

let kwokBuild: Promise<string> | undefined;

/** `go install`s kwok (once per version); returns the binary. */
function ensureKwok(log: (message: string) => void): Promise<string> {
    kwokBuild ??= (async () => {
        const version = versions.kwok;
        const root = path.join(cacheRoot(), `kwok-${version}-${hashKey(["-trimpath", "-s -w"])}`);
        const binary = path.join(root, "bin", "kwok");
        if (fs.existsSync(binary)) return binary;
        const part = path.join(root, "bin.part");
        fs.rmSync(part, { recursive: true, force: true });
        await serialGoBuild(async () => {
            log(`building kwok ${version} from the Go module proxy (first run only)`);
            const t0 = Date.now();
            // `go install pkg@version` builds outside any module, where -mod=mod is refused.
            await run("go", ["install", "-trimpath", "-ldflags", "-s -w", `sigs.k8s.io/kwok/cmd/kwok@v${version}`], { env: { ...goEnv(), GOFLAGS: "", GOBIN: part } });
            log(`kwok built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
        });
        fs.mkdirSync(path.dirname(binary), { recursive: true });
        fs.renameSync(path.join(part, "kwok"), binary);
        fs.rmSync(part, { recursive: true, force: true });
        return binary;
    })();
    kwokBuild.catch(() => (kwokBuild = undefined));
    return kwokBuild;
}

/** GET over https, trusting `ca` (or any certificate when undefined: the components' own self-signed health ports). */
function httpsGet(url: string, options: { ca?: string; token?: string }): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = https.get(url, { ca: options.ca, rejectUnauthorized: options.ca !== undefined, headers: options.token ? { Authorization: `Bearer ${options.token}` } : {}, timeout: 5_000 }, (res) => {
            let body = "";
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
    });
}

const openssl = (args: string[], cwd: string) => run("openssl", args, { cwd });

/**
 * The cluster's PKI (openssl): a CA, the API server's serving certificate for 127.0.0.1, the
 * service-account key pair, the client certificate the API server shows kubelets (here kwok), and
 * a serving certificate for kwok's kubelet port.
 */
async function makePki(dir: string): Promise<void> {
    fs.mkdirSync(dir, { recursive: true });
    await openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "30", "-subj", "/CN=dataplatform-test-ca"], dir);
    const signed = async (name: string, subject: string, ext: string) => {
        fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
        await openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject], dir);
        await openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "30", "-extfile", `${name}.ext`], dir);
    };
    const serving = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1\n";
    await signed("apiserver", "/CN=kube-apiserver", serving);
    await signed("kwok-serving", "/CN=kwok", serving);
    await signed("kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client", "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n");
    await openssl(["genrsa", "-out", "sa.key", "2048"], dir);
    await openssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
}

function kubeconfig(url: string, caFile: string, token: string): string {
    return JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "dataplatform-test", cluster: { server: url, "certificate-authority": caFile } }],
        users: [{ name: "admin", user: { token } }],
        contexts: [{ name: "dataplatform-test", context: { cluster: "dataplatform-test", user: "admin" } }],
        "current-context": "dataplatform-test",
    }, null, 2);
}

export const etcd: Engine = {
    name: "etcd",
    dependsOn: [],

    async install(ctx) {
        await ensureControlPlane(ctx.log);
    },

    async start(ctx) {
        const started = Date.now();
        const bin = await ensureControlPlane(ctx.log);
        const [client, peer] = [await freePort(), await freePort()];
        const url = `http://127.0.0.1:${client}`;
        const logFile = path.join(ctx.workDir, "etcd.log");
        const pid = spawnDetached(path.join(bin, "etcd"), [
            "--name", "default",
            "--data-dir", path.join(ctx.workDir, "data"),
            "--listen-client-urls", url, "--advertise-client-urls", url,
            "--listen-peer-urls", `http://127.0.0.1:${peer}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${peer}`,
            "--initial-cluster", `default=http://127.0.0.1:${peer}`,
            "--unsafe-no-fsync", "--quota-backend-bytes", String(2 * 1024 ** 3),
        ], { logFile });
        await waitForHttp(`${url}/health`, { pid, logFile, timeoutMs: 60_000 });
        ctx.log(`etcd ${versions.etcd} on ${url}`);
        return { name: "etcd", version: versions.etcd, endpoints: { url }, details: {}, pids: [pid], logFiles: [logFile], startSeconds: (Date.now() - started) / 1000 };
    },
};

/** Waits for a component's /healthz on its own secure port (self-signed; the path needs no credentials). */
function waitHealthz(what: string, port: number, pid: number, logFile: string): Promise<true> {
    return waitUntil(what, async () => (await httpsGet(`https://127.0.0.1:${port}/healthz`, {})).status === 200, { pid, logFile, timeoutMs: 180_000, intervalMs: 500 });
}

export const kubernetes: Engine = {
    name: "kubernetes",
    dependsOn: ["etcd"],

    async install(ctx) {
        await ensureControlPlane(ctx.log);
    },

    async start(ctx) {
        const started = Date.now();
        const bin = await ensureControlPlane(ctx.log);
        const pki = path.join(ctx.workDir, "pki");
        await makePki(pki);
        const p = (f: string) => path.join(pki, f);
        const token = `admin-${hashKey([String(Date.now()), String(Math.random())])}`;
        fs.writeFileSync(p("tokens.csv"), `${token},admin,admin-uid,"system:masters"\n`, { mode: 0o600 });
        const port = await freePort();
        const url = `https://127.0.0.1:${port}`;
        const kubeconfigFile = path.join(ctx.workDir, "kubeconfig");
        fs.writeFileSync(kubeconfigFile, kubeconfig(url, p("ca.crt"), token), { mode: 0o600 });
        const ca = fs.readFileSync(p("ca.crt"), "utf8");

        const apiLog = path.join(ctx.workDir, "kube-apiserver.log");
        const apiserver = spawnDetached(path.join(bin, "kube-apiserver"), [
            `--etcd-servers=${ctx.running.etcd!.endpoints.url}`,
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", `--secure-port=${port}`,
            // A single API server on a loopback address: no `kubernetes` Service endpoints to reconcile.
            "--endpoint-reconciler-type=none",
            `--cert-dir=${pki}`, `--tls-cert-file=${p("apiserver.crt")}`, `--tls-private-key-file=${p("apiserver.key")}`,
            `--client-ca-file=${p("ca.crt")}`, `--token-auth-file=${p("tokens.csv")}`,
            "--authorization-mode=RBAC",
            // As on kubeadm, kind and managed clusters: Pod Security admission, not this flag, decides what a namespace admits.
            "--allow-privileged=true",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            `--service-account-key-file=${p("sa.pub")}`, `--service-account-signing-key-file=${p("sa.key")}`,
            "--service-cluster-ip-range=10.96.0.0/16",
            // How the API server reaches a node's kubelet (kwok's server) for port-forward, exec and logs.
            `--kubelet-client-certificate=${p("kubelet-client.crt")}`, `--kubelet-client-key=${p("kubelet-client.key")}`,
            "--kubelet-preferred-address-types=InternalIP",
            "--profiling=false",
        ], { logFile: apiLog });
        await waitUntil("kube-apiserver /readyz", async () => (await httpsGet(`${url}/readyz`, { ca, token })).status === 200, { pid: apiserver, logFile: apiLog, timeoutMs: 180_000, intervalMs: 500 });

        const shared = [`--kubeconfig=${kubeconfigFile}`, `--authentication-kubeconfig=${kubeconfigFile}`, `--authorization-kubeconfig=${kubeconfigFile}`, "--leader-elect=false", "--bind-address=127.0.0.1"];
        const [cmPort, schedPort] = [await freePort(), await freePort()];
        const cmLog = path.join(ctx.workDir, "kube-controller-manager.log");
        const controllerManager = spawnDetached(path.join(bin, "kube-controller-manager"), [
            ...shared, `--secure-port=${cmPort}`, `--cert-dir=${path.join(pki, "cm")}`,
            `--service-account-private-key-file=${p("sa.key")}`, `--root-ca-file=${p("ca.crt")}`,
            "--use-service-account-credentials=false",
            "--profiling=false",
        ], { logFile: cmLog });
        const schedLog = path.join(ctx.workDir, "kube-scheduler.log");
        const scheduler = spawnDetached(path.join(bin, "kube-scheduler"), [...shared, `--secure-port=${schedPort}`, `--cert-dir=${path.join(pki, "sched")}`, "--profiling=false"], { logFile: schedLog });
        await Promise.all([
            waitHealthz("kube-controller-manager /healthz", cmPort, controllerManager, cmLog),
            waitHealthz("kube-scheduler /healthz", schedPort, scheduler, schedLog),
        ]);
        const cluster: Cluster = { url, token, ca };
        // Pods need their namespace's `default` ServiceAccount, which the controller-manager makes.
        await waitUntil("the default ServiceAccount", async () => (await list(cluster, "v1", "ServiceAccount", "default")).some((s) => s.metadata.name === "default"), { timeoutMs: 120_000, intervalMs: 500, pid: controllerManager, logFile: cmLog });
        ctx.log(`kube-apiserver ${versions.kubernetes} on ${url}; kubeconfig ${kubeconfigFile}`);
        return {
            name: "kubernetes",
            version: versions.kubernetes,
            endpoints: { url },
            details: { kubeconfig: kubeconfigFile, token, caFile: p("ca.crt"), kubectl: path.join(bin, "kubectl"), pki },
            pids: [scheduler, controllerManager, apiserver], // stopped in this order
            logFiles: [apiLog, cmLog, schedLog],
            startSeconds: (Date.now() - started) / 1000,
        };
    },
};

/** Fake nodes: as many as the cluster profile's largest group of peers, so each peer gets a node of its own. */
export const KWOK_NODES = 3;
export const KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node";

/** kwok's module in the Go module cache: its stage and CRD files. */
const kwokModule = () => path.join(cacheRoot(), "go", "mod", `sigs.k8s.io/kwok@v${versions.kwok}`);

/** kwok's stages, read from its module: nodes come up and keep their lease, pods become ready, complete and go away. */
function kwokStages(): string {
    const dir = path.join(kwokModule(), "kustomize", "stage");
    const files = ["node/fast/node-initialize.yaml", "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml", "pod/fast/pod-ready.yaml", "pod/fast/pod-complete.yaml", "pod/fast/pod-delete.yaml"];
    return files.map((f) => fs.readFileSync(path.join(dir, f), "utf8").trim()).join("\n---\n");
}

export function kwokNode(name: string): KObject {
    return {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
            name,
            annotations: { [KWOK_NODE_ANNOTATION]: "fake", "node.alpha.kubernetes.io/ttl": "0" },
            labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", type: "kwok" },
        },
        status: {
            capacity: { cpu: "16", memory: "64Gi", pods: "110" },
            allocatable: { cpu: "16", memory: "64Gi", pods: "110" },
        },
    };
}

async function ensureKwokStages(ctx: EngineContext): Promise<void> {
    await ensureKwok(ctx.log);
    // The stage files come with kwok's module, which the install downloads.
    if (!fs.existsSync(kwokModule())) {
        const scratch = path.join(cacheRoot(), "go", "scratch");
        fs.mkdirSync(scratch, { recursive: true });
        await run("go", ["mod", "download", `sigs.k8s.io/kwok@v${versions.kwok}`], { cwd: scratch, env: goEnv() });
    }
}

export const kwok: Engine = {
    name: "kwok",
    dependsOn: ["kubernetes"],

    async install(ctx) {
        await ensureKwokStages(ctx);
    },

    async start(ctx) {
        const started = Date.now();
        await ensureKwokStages(ctx);
        const binary = await ensureKwok(ctx.log);
        const k = ctx.running.kubernetes!;
        const pki = k.details.pki!;
        const config = path.join(ctx.workDir, "kwok.yaml");
        fs.writeFileSync(config, `${kwokStages()}\n`);
        const cluster: Cluster = { url: k.endpoints.url!, token: k.details.token!, ca: fs.readFileSync(k.details.caFile!, "utf8") };
        // kwok's PortForward objects say where a pod's forwarded port really goes (a test's own server).
        const crd = path.join(kwokModule(), "kustomize", "crd", "bases", "kwok.x-k8s.io_portforwards.yaml");
        await run(k.details.kubectl!, ["--kubeconfig", k.details.kubeconfig!, "apply", "--server-side", "--field-manager=dataplatform-test", "-f", crd]);
        await waitUntil("the PortForward CRD Established", async () => {
            const o = await find(cluster, "apiextensions.k8s.io/v1", "CustomResourceDefinition", undefined, "portforwards.kwok.x-k8s.io");
            return (o?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions?.some((c) => c.type === "Established" && c.status === "True");
        }, { timeoutMs: 60_000, intervalMs: 250 });
        // kwok's kubelet server: the nodes advertise this port, the API server connects to it for port-forward.
        const nodePort = await freePort();
        const logFile = path.join(ctx.workDir, "kwok.log");
        const pid = spawnDetached(binary, [
            `--kubeconfig=${k.details.kubeconfig}`, `--config=${config}`,
            "--manage-all-nodes=false", `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
            "--node-ip=127.0.0.1", `--node-port=${nodePort}`, `--server-address=127.0.0.1:${nodePort}`,
            `--tls-cert-file=${path.join(pki, "kwok-serving.crt")}`, `--tls-private-key-file=${path.join(pki, "kwok-serving.key")}`,
            "--enable-crds=PortForward",
            // Nodes renew a Lease, as kubelets do; the Ready condition is refreshed only every few minutes by the heartbeat stage.
            "--node-lease-duration-seconds=40",
        ], { logFile, env: { ...process.env, HOME: ctx.workDir } });
        await waitUntil("kwok /healthz", async () => (await httpsGet(`https://127.0.0.1:${nodePort}/healthz`, {})).status === 200, { pid, logFile, timeoutMs: 120_000, intervalMs: 500 });

        const names = Array.from({ length: KWOK_NODES }, (_, i) => `kwok-node-${i}`);
        for (const name of names) await apply(cluster, kwokNode(name));
        await waitUntil(`${KWOK_NODES} kwok nodes Ready`, async () => {
            const nodes = await list(cluster, "v1", "Node");
            const ready = nodes.filter((n) => (n.status as { conditions?: { type: string; status: string }[] }).conditions?.some((c) => c.type === "Ready" && c.status === "True"));
            return ready.length >= KWOK_NODES;
        }, { pid, logFile, timeoutMs: 120_000, intervalMs: 500 });
        ctx.log(`kwok ${versions.kwok}: nodes ${names.join(", ")} Ready; kubelet server https://127.0.0.1:${nodePort}`);
        return {
            name: "kwok",
            version: versions.kwok,
            endpoints: { kubelet: `https://127.0.0.1:${nodePort}` },
            details: { nodes: names.join(","), config },
            pids: [pid],
            logFiles: [logFile],
            startSeconds: (Date.now() - started) / 1000,
        };
    },
};
