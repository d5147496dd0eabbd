/**
 * The stack's rendered Kubernetes objects on a real control plane (kube-apiserver, controller-
 * manager, scheduler; kwok's fake nodes): server-side applied into a fresh namespace per render,
 * then everything must come up as a cluster would bring it up, except that no container runs.
 */
import { strict as assert } from "assert";
import { renderManifests, stackConfig, STORAGE_CLASS } from "./render";
import { ApiError, apply, type Cluster, clusterOf, find, get, type KObject, list } from "./api";
import { engine } from "../engines/state";
import { waitUntil } from "../engines/lib";

interface PodSpec {
    containers: { env?: { valueFrom?: { secretKeyRef?: { name: string }; configMapKeyRef?: { name: string } } }[]; envFrom?: { secretRef?: { name: string }; configMapRef?: { name: string } }[] }[];
    initContainers?: PodSpec["containers"];
    volumes?: { secret?: { secretName: string }; configMap?: { name: string }; projected?: { sources: { secret?: { name: string }; configMap?: { name: string } }[] } }[];
    imagePullSecrets?: { name: string }[];
    serviceAccountName?: string;
}
interface WorkloadSpec {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: { metadata: { name: string }; spec: { accessModes: string[]; storageClassName?: string; resources: { requests: { storage: string } } } }[];
}
interface Condition { type: string; status: string; reason?: string; message?: string }

const key = (o: KObject) => `${o.kind} ${o.metadata.name}`;
const spec = <T>(o: KObject) => o.spec as T;
const WORKLOADS = ["Deployment", "StatefulSet"];
/** Apply order: the namespace, then what pods read, then the rest. */
const ORDER = ["Namespace", "StorageClass", "ServiceAccount", "Secret", "ConfigMap", "NetworkPolicy", "Service", "PersistentVolumeClaim"];
const rank = (o: KObject) => (ORDER.includes(o.kind) ? ORDER.indexOf(o.kind) : ORDER.length);

/** Server-side applies the manifests, Namespace first; returns the objects as stored, by key. */
async function applyAll(cluster: Cluster, manifests: KObject[]): Promise<Map<string, KObject>> {
    const stored = new Map<string, KObject>();
    for (const m of [...manifests].sort((a, b) => rank(a) - rank(b))) stored.set(key(m), await apply(cluster, m));
    return stored;
}

/** The PersistentVolumeClaims the StatefulSets will make, with what each asks for. */
function claims(manifests: KObject[]): { name: string; storage: string; accessModes: string[]; storageClassName?: string }[] {
    return manifests
        .filter((m) => m.kind === "StatefulSet")
        .flatMap((m) => {
            const s = spec<WorkloadSpec>(m);
            return (s.volumeClaimTemplates ?? []).flatMap((t) =>
                Array.from({ length: s.replicas ?? 1 }, (_, i) => ({ name: `${t.metadata.name}-${m.metadata.name}-${i}`, storage: t.spec.resources.requests.storage, accessModes: t.spec.accessModes, storageClassName: t.spec.storageClassName })),
            );
        });
}

/** A hostPath PersistentVolume made for one claim: its exact size, access modes and class, reserved for it. */
function volumeFor(namespace: string, claim: ReturnType<typeof claims>[number]): KObject {
    return {
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: `${namespace}-${claim.name}`, labels: { "dataplatform-test/namespace": namespace } },
        spec: {
            capacity: { storage: claim.storage },
            accessModes: claim.accessModes,
            storageClassName: claim.storageClassName ?? STORAGE_CLASS,
            persistentVolumeReclaimPolicy: "Retain",
            hostPath: { path: `/tmp/kwok-volumes/${namespace}/${claim.name}`, type: "DirectoryOrCreate" },
            claimRef: { namespace, name: claim.name },
        },
    };
}

/** Secrets and ConfigMaps a pod template refers to. */
function references(pod: PodSpec): { kind: "Secret" | "ConfigMap" | "ServiceAccount"; name: string }[] {
    const refs: { kind: "Secret" | "ConfigMap" | "ServiceAccount"; name: string }[] = [];
    if (pod.serviceAccountName) refs.push({ kind: "ServiceAccount", name: pod.serviceAccountName });
    for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
        for (const e of c.env ?? []) {
            if (e.valueFrom?.secretKeyRef) refs.push({ kind: "Secret", name: e.valueFrom.secretKeyRef.name });
            if (e.valueFrom?.configMapKeyRef) refs.push({ kind: "ConfigMap", name: e.valueFrom.configMapKeyRef.name });
        }
        for (const e of c.envFrom ?? []) {
            if (e.secretRef) refs.push({ kind: "Secret", name: e.secretRef.name });
            if (e.configMapRef) refs.push({ kind: "ConfigMap", name: e.configMapRef.name });
        }
    }
    for (const v of pod.volumes ?? []) {
        if (v.secret) refs.push({ kind: "Secret", name: v.secret.secretName });
        if (v.configMap) refs.push({ kind: "ConfigMap", name: v.configMap.name });
        for (const s of v.projected?.sources ?? []) {
            if (s.secret) refs.push({ kind: "Secret", name: s.secret.name });
            if (s.configMap) refs.push({ kind: "ConfigMap", name: s.configMap.name });
        }
    }
    for (const s of pod.imagePullSecrets ?? []) refs.push({ kind: "Secret", name: s.name });
    return refs;
}

const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

/** What is not up yet in the namespace: workloads, pods, claims, Services without ready endpoints. */
async function pending(cluster: Cluster, namespace: string, manifests: KObject[], nodes: string[]): Promise<string[]> {
    const notYet: string[] = [];
    for (const m of manifests.filter((o) => WORKLOADS.includes(o.kind))) {
        const o = await get(cluster, m.apiVersion, m.kind, namespace, m.metadata.name);
        const want = spec<WorkloadSpec>(o).replicas ?? 1;
        const s = (o.status ?? {}) as { observedGeneration?: number; replicas?: number; readyReplicas?: number; availableReplicas?: number; updatedReplicas?: number; conditions?: Condition[] };
        const current = (s.observedGeneration ?? 0) >= (o.metadata.generation ?? 1);
        if (m.kind === "Deployment") {
            const available = s.conditions?.some((c) => c.type === "Available" && c.status === "True");
            if (!(current && available && s.availableReplicas === want && s.updatedReplicas === want && s.replicas === want)) notYet.push(`Deployment ${m.metadata.name} not Available: ${JSON.stringify(s)}`);
        } else if (!(current && s.readyReplicas === want && s.updatedReplicas === want && s.replicas === want)) {
            notYet.push(`StatefulSet ${m.metadata.name} not Ready: ${JSON.stringify(s)}`);
        }
    }
    for (const p of await list(cluster, "v1", "Pod", namespace)) {
        const s = p.status as { phase?: string; conditions?: Condition[] };
        const node = (p.spec as { nodeName?: string }).nodeName;
        if (!node || !nodes.includes(node)) notYet.push(`Pod ${p.metadata.name} not on a kwok node (${node ?? "unscheduled"})`);
        else if (s.phase !== "Running" || !s.conditions?.some((c) => c.type === "Ready" && c.status === "True")) notYet.push(`Pod ${p.metadata.name} ${s.phase} not Ready`);
    }
    for (const c of await list(cluster, "v1", "PersistentVolumeClaim", namespace)) {
        const phase = (c.status as { phase?: string }).phase;
        if (phase !== "Bound") notYet.push(`PersistentVolumeClaim ${c.metadata.name} ${phase}`);
    }
    const slices = await list(cluster, "discovery.k8s.io/v1", "EndpointSlice", namespace);
    for (const svc of manifests.filter((o) => o.kind === "Service")) {
        const ready = slices
            .filter((s) => s.metadata.labels?.["kubernetes.io/service-name"] === svc.metadata.name)
            .flatMap((s) => (s as unknown as { endpoints?: { conditions?: { ready?: boolean } }[] }).endpoints ?? [])
            .filter((e) => e.conditions?.ready);
        if (!ready.length) notYet.push(`Service ${svc.metadata.name} has no ready endpoints`);
    }
    return notYet;
}

/** The namespace's Events, oldest first: FailedCreate carries PodSecurity refusals, FailedScheduling the scheduler's reasons. */
async function events(cluster: Cluster, namespace: string): Promise<string> {
    const all = await list(cluster, "v1", "Event", namespace);
    const time = (e: KObject) => String((e as { lastTimestamp?: string }).lastTimestamp ?? (e as { eventTime?: string }).eventTime ?? "");
    return all
        .sort((a, b) => time(a).localeCompare(time(b)))
        .map((e) => {
            const x = e as unknown as { type: string; reason: string; message: string; involvedObject: { kind: string; name: string }; count?: number };
            return `${x.type} ${x.reason} ${x.involvedObject.kind}/${x.involvedObject.name}${x.count && x.count > 1 ? ` (x${x.count})` : ""}: ${x.message}`;
        })
        .slice(-60)
        .join("\n");
}

/** Waits (polling, generously: a busy 2-core machine) until everything is up; on timeout the error lists what is not, and the Events. */
async function waitUp(cluster: Cluster, namespace: string, manifests: KObject[], nodes: string[]): Promise<void> {
    await waitUntil(`every object up in ${namespace}`, async () => (await pending(cluster, namespace, manifests, nodes)).length === 0, {
        timeoutMs: 600_000,
        intervalMs: 1_000,
        diagnose: async () => `not up:\n${(await pending(cluster, namespace, manifests, nodes)).join("\n")}\n--- events in ${namespace} ---\n${await events(cluster, namespace)}`,
    });
}

interface Version { generation?: number; resourceVersion?: string }
async function versionsOf(cluster: Cluster, namespace: string, manifests: KObject[]): Promise<Map<string, Version>> {
    const out = new Map<string, Version>();
    for (const m of manifests) {
        const o = await find(cluster, m.apiVersion, m.kind, m.kind === "Namespace" ? undefined : namespace, m.metadata.name);
        if (o) out.set(key(m), { generation: o.metadata.generation, resourceVersion: o.metadata.resourceVersion });
    }
    return out;
}

/** Objects whose stored version differs from `before` (or that are new), by key. */
function changed(before: Map<string, Version>, after: Map<string, KObject>): string[] {
    return [...after].filter(([k, o]) => before.get(k)?.resourceVersion !== o.metadata.resourceVersion).map(([k]) => k).sort();
}

/**
 * The two renders, each with a Flink config change to roll out. The laptop's memory budget has no
 * room for a second TaskManager (the config is refused: 3008 MiB for Flink over its 2048 MiB
 * share), so there the change is one more slot per TaskManager, an in-place change; the cluster
 * profile adds a TaskManager.
 */
const profiles: Record<string, { config: Record<string, string>; storageClass: string; change: string; flink: (taskManagers: number) => { taskManagers?: number; slotsPerTaskManager?: number } }> = {
    "laptop (Pulumi.k8s.yaml)": { config: stackConfig("k8s"), storageClass: STORAGE_CLASS, change: "one more slot per TaskManager", flink: () => ({ slotsPerTaskManager: 5 }) },
    "cluster (Pulumi.k8s.yaml, profile: cluster)": { config: { ...stackConfig("k8s"), profile: "cluster" }, storageClass: STORAGE_CLASS, change: "one more TaskManager", flink: (taskManagers) => ({ taskManagers: taskManagers + 1 }) },
    // The Kubernetes half of the cloud stack: its own gp3 class (no EBS here: the claims bind to
    // the test's volumes of that class), ECR images, and the consumers' ServiceAccounts.
    "cluster on EKS (Pulumi.eks.yaml)": { config: stackConfig("eks"), storageClass: "gp3", change: "one more TaskManager", flink: (taskManagers) => ({ taskManagers: taskManagers + 1 }) },
};

describe("the stack's Kubernetes objects on a real API server (kwok nodes)", function () {
    let cluster: Cluster;
    let nodes: string[];
    const run = Date.now().toString(36);

    before(async () => {
        cluster = clusterOf(engine("kubernetes"));
        nodes = engine("kwok").details.nodes!.split(",");
        // No provisioner: claims bind to the static volumes each suite makes, as soon as both exist.
        await apply(cluster, {
            apiVersion: "storage.k8s.io/v1",
            kind: "StorageClass",
            metadata: { name: STORAGE_CLASS },
            provisioner: "kubernetes.io/no-provisioner",
            volumeBindingMode: "Immediate",
            reclaimPolicy: "Retain",
        });
    });

    for (const [profile, { config, storageClass, change: changeName, flink }] of Object.entries(profiles)) {
        describe(`the ${profile} profile`, () => {
            const namespace = `dp-${profile.split(" (")[0]!.replace(/\s+/g, "-").toLowerCase()}-${run}`;
            let manifests: KObject[];
            let stored: Map<string, KObject>;

            before(async () => {
                manifests = await renderManifests({ namespace, config });
                assert.ok(manifests.some((m) => m.kind === "Namespace" && m.metadata.name === namespace), "the stack renders its namespace");
                for (const c of claims(manifests)) await apply(cluster, volumeFor(namespace, c));
                stored = await applyAll(cluster, manifests);
            });

            it("is accepted whole by the API server, the namespace enforcing the baseline Pod Security Standard", async () => {
                assert.equal(stored.size, manifests.length);
                const ns = await get(cluster, "v1", "Namespace", undefined, namespace);
                assert.equal(ns.metadata.labels?.["pod-security.kubernetes.io/enforce"], "baseline");
                // The label is enforced, not decoration: a privileged pod is refused in the stack's namespace.
                await assert.rejects(
                    apply(cluster, { apiVersion: "v1", kind: "Pod", metadata: { name: "privileged-probe", namespace }, spec: { containers: [{ name: "c", image: "busybox", securityContext: { privileged: true } }] } }),
                    (e: Error) => e instanceof ApiError && /violates PodSecurity "baseline/.test(e.message),
                );
            });

            it("brings every Deployment to Available and every StatefulSet to Ready on the kwok nodes, every claim Bound, every Service with ready endpoints", async () => {
                await waitUp(cluster, namespace, manifests, nodes);
                const pods = await list(cluster, "v1", "Pod", namespace);
                const workloads = manifests.filter((m) => WORKLOADS.includes(m.kind));
                const replicas = workloads.reduce((n, w) => n + (spec<WorkloadSpec>(w).replicas ?? 1), 0);
                assert.equal(pods.length, replicas, "one pod per replica");
                const pvcs = await list(cluster, "v1", "PersistentVolumeClaim", namespace);
                assert.deepEqual(pvcs.map((c) => c.metadata.name).sort(), claims(manifests).map((c) => c.name).sort());
                for (const c of pvcs) assert.equal((c.spec as { storageClassName?: string }).storageClassName, storageClass, c.metadata.name);
            });

            it("has every Secret, ConfigMap and ServiceAccount a pod template refers to", async () => {
                const missing: string[] = [];
                for (const w of manifests.filter((m) => WORKLOADS.includes(m.kind))) {
                    for (const ref of references(spec<WorkloadSpec>(w).template.spec)) {
                        if (!(await find(cluster, "v1", ref.kind, namespace, ref.name))) missing.push(`${w.kind} ${w.metadata.name} -> ${ref.kind} ${ref.name}`);
                    }
                }
                assert.deepEqual(missing, []);
            });

            it("has each PodDisruptionBudget expecting its group's pods, all healthy", async () => {
                const pdbs = manifests.filter((m) => m.kind === "PodDisruptionBudget");
                if (config.profile === "cluster") assert.ok(pdbs.length > 0, "the cluster profile's groups have budgets");
                const podLabels = manifests.filter((m) => WORKLOADS.includes(m.kind)).flatMap((w) => Array.from({ length: spec<WorkloadSpec>(w).replicas ?? 1 }, () => spec<WorkloadSpec>(w).template.metadata.labels));
                for (const m of pdbs) {
                    const selector = spec<{ selector: { matchLabels: Record<string, string> } }>(m).selector.matchLabels;
                    const expected = podLabels.filter((l) => selects(selector, l)).length;
                    assert.ok(expected >= 2, `${m.metadata.name}: a budget for a group of at least 2`);
                    const status = await waitUntil(`PodDisruptionBudget ${m.metadata.name} observed`, async () => {
                        const o = await get(cluster, m.apiVersion, m.kind, namespace, m.metadata.name);
                        const s = o.status as { observedGeneration?: number; expectedPods?: number; currentHealthy?: number } | undefined;
                        return s && (s.observedGeneration ?? 0) >= (o.metadata.generation ?? 1) && s.currentHealthy === expected ? s : undefined;
                    }, { timeoutMs: 120_000, intervalMs: 1_000, diagnose: () => events(cluster, namespace) });
                    assert.equal(status.expectedPods, expected, m.metadata.name);
                }
            });

            it("changes nothing when the same manifests are applied again (no generation, no resourceVersion)", async () => {
                await waitUp(cluster, namespace, manifests, nodes);
                const before = await versionsOf(cluster, namespace, manifests);
                const again = await applyAll(cluster, manifests);
                const moved = [...again].filter(([k, o]) => before.get(k)?.resourceVersion !== o.metadata.resourceVersion || before.get(k)?.generation !== o.metadata.generation).map(([k, o]) => `${k}: generation ${before.get(k)?.generation} -> ${o.metadata.generation}, resourceVersion ${before.get(k)?.resourceVersion} -> ${o.metadata.resourceVersion}`);
                assert.deepEqual(moved, []);
            });

            it(`applies a Flink config change (${changeName}) as exactly the objects whose rendered manifest differs`, async () => {
                await waitUp(cluster, namespace, manifests, nodes);
                const taskManagers = manifests.filter((m) => WORKLOADS.includes(m.kind) && /^flink-taskmanager-\d+$/.test(m.metadata.name)).length;
                assert.ok(taskManagers >= 1);
                const change = flink(taskManagers);
                const next = await renderManifests({ namespace, config: { ...config, flink: JSON.stringify(change) } });
                const previous = new Map(manifests.map((m) => [key(m), JSON.stringify(m)]));
                const differs = next.filter((m) => previous.get(key(m)) !== JSON.stringify(m)).map(key).sort();
                const gone = manifests.filter((m) => !next.some((n) => key(n) === key(m))).map(key);
                assert.deepEqual(gone, [], "adding a TaskManager removes nothing");

                const before = await versionsOf(cluster, namespace, manifests);
                const after = await applyAll(cluster, next);
                assert.deepEqual(changed(before, after), differs);
                if (change.taskManagers) {
                    const added = `flink-taskmanager-${change.taskManagers}`;
                    for (const k of [`Deployment ${added}`, `Service ${added}`]) assert.ok(differs.includes(k) && !before.has(k), `${k} new, among ${differs.join(", ")}`);
                } else {
                    // More slots: every TaskManager rolls (its configuration changed).
                    for (let i = 1; i <= taskManagers; i++) assert.ok(differs.includes(`Deployment flink-taskmanager-${i}`), `Deployment flink-taskmanager-${i} among ${differs.join(", ")}`);
                }
                assert.ok(differs.length > 0);
                manifests = next;
                await waitUp(cluster, namespace, manifests, nodes);
            });

            it("makes apply() throw with the server's message for an object it refuses", async () => {
                const labels = { app: "mismatch" };
                const bad: KObject = {
                    apiVersion: "apps/v1",
                    kind: "Deployment",
                    metadata: { name: "selector-mismatch", namespace },
                    spec: { replicas: 1, selector: { matchLabels: { app: "other" } }, template: { metadata: { labels }, spec: { containers: [{ name: "c", image: "busybox" }] } } },
                };
                await assert.rejects(apply(cluster, bad), (e: Error) => e instanceof ApiError && e.code === 422 && /selector.*does not match template.*labels/.test(e.message) && e.message.startsWith(`Deployment ${namespace}/selector-mismatch: `));
            });
        });
    }
});
