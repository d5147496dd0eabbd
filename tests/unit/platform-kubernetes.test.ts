import { strict as assert } from "assert";
import { installMocks, isSecretInput, plain, PROJECT, Recorded, resetResources, resources, SECRET_MARK } from "./mocks";
installMocks();
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig, StackConfig } from "../../components/config";
import { DruidTier } from "../../components/druid";
import { FlinkTier } from "../../components/flink";
import { KafkaTier } from "../../components/kafka";
import { createObjectStore } from "../../components/objectstore";
import { Pipeline } from "../../components/pipeline";
import { GROUP_LABEL, KubernetesPlatform, KubernetesPlatformArgs } from "../../components/platform/kubernetes";
import { DEFAULT_VOLUME_GIB, DeployedService, ServiceSpec } from "../../components/platform/types";
import { checkMemoryPlan, memoryPlan } from "../../components/stack";
import { SupersetTier } from "../../components/superset";
import { build, K, T } from "./build";

const WORKLOADS: string[] = [K.deployment, K.statefulSet];

interface Meta {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations?: Record<string, string>;
}
interface Probe {
    httpGet?: { port: number; path: string };
    exec?: { command: string[] };
    tcpSocket?: { port: number };
    periodSeconds: number;
    timeoutSeconds: number;
    failureThreshold: number;
}
interface Container {
    image: string;
    command?: string[];
    args?: string[];
    env: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
    ports: { name: string; containerPort: number }[];
    volumeMounts: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
    startupProbe: Probe;
    readinessProbe: Probe;
    livenessProbe: Probe;
    resources: { requests: Record<string, string>; limits: Record<string, string> };
    securityContext: { allowPrivilegeEscalation: boolean; capabilities: { drop: string[] }; seccompProfile: { type: string } };
}
interface PodSecurity {
    runAsUser?: number;
    runAsGroup?: number;
    runAsNonRoot?: boolean;
    fsGroup?: number;
    seccompProfile: { type: string };
}
interface Workload {
    metadata: Meta;
    spec: {
        serviceName?: string;
        strategy?: { type: string };
        selector: { matchLabels: Record<string, string> };
        template: {
            metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
            spec: {
                containers: Container[];
                volumes?: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[];
                securityContext: PodSecurity;
                automountServiceAccountToken: boolean;
                enableServiceLinks: boolean;
                imagePullSecrets?: { name: string }[];
                affinity?: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: AffinityTerm[] } };
            };
        };
        volumeClaimTemplates?: { metadata: { name: string }; spec: { accessModes: string[]; storageClassName?: string; resources: { requests: { storage: string } } } }[];
    };
}
interface AffinityTerm {
    weight: number;
    podAffinityTerm: { labelSelector: { matchLabels: Record<string, string> }; topologyKey: string };
}
interface PodDisruptionBudget {
    metadata: Meta;
    spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } };
}
interface Service {
    metadata: Meta;
    spec: { type?: string; clusterIP?: string; selector: Record<string, string>; publishNotReadyAddresses: boolean; ports?: { name: string; port: number; targetPort: number }[] };
}
interface Ingress {
    metadata: Meta;
    spec: {
        ingressClassName: string;
        rules: { host: string; http: { paths: { path: string; backend: { service: { name: string; port: { name: string } } } }[] } }[];
        tls?: { hosts: string[]; secretName: string }[];
    };
}
interface NetworkPolicy {
    metadata: Meta;
    spec: { podSelector: Record<string, never>; policyTypes: string[]; ingress: { from: Record<string, unknown>[] }[] };
}

/** A resource as it was created: the object and its options (Pulumi's mocks see neither). */
interface Created {
    resource: pulumi.Resource;
    opts: pulumi.ResourceOptions;
}

/** A rendered cluster: the registered objects, and each resource as created, by `type::name`. */
class Rendered {
    constructor(
        readonly all: Recorded[],
        readonly platform: KubernetesPlatform,
        readonly created: Map<string, Created>,
    ) {}

    dependsOn(type: string, name: string): unknown[] {
        return this.created.get(`${type}::${name}`)!.opts.dependsOn as unknown[];
    }

    ofType<T>(type: string): T[] {
        return this.all.filter((r) => r.type === type).map((r) => plain(r.inputs) as T);
    }

    /** The one object of a type with that metadata.name. */
    one<T extends { metadata: Meta }>(type: string, name: string): T {
        const found = this.ofType<T>(type).filter((o) => o.metadata.name === name);
        assert.equal(found.length, 1, `one ${type} named ${name}; have ${this.ofType<T>(type).map((o) => o.metadata.name).join(", ")}`);
        return found[0]!;
    }

    workloads(name: string): Workload[] {
        return this.all.filter((r) => WORKLOADS.includes(r.type)).map((r) => plain(r.inputs) as Workload).filter((w) => w.metadata.name === name);
    }

    workload(name: string): Workload {
        const found = this.workloads(name);
        assert.equal(found.length, 1, `one workload named ${name}`);
        return found[0]!;
    }

    container(name: string): Container {
        return this.workload(name).spec.template.spec.containers[0]!;
    }

    /** Every Kubernetes object but Secrets, as text (secret wrappers undone): where no secret value may ever appear. */
    nonSecretText(): string {
        return JSON.stringify(this.all.filter((r) => r.type.startsWith("kubernetes:") && r.type !== K.secret).map((r) => [r.type, r.name, plain(r.inputs)]));
    }
}

/**
 * Renders on a fresh KubernetesPlatform. The parent records each resource's options through a
 * transformation (inherited by every child), since Pulumi's mocks do not see dependsOn.
 */
async function render(deploy: (platform: KubernetesPlatform, opts: pulumi.ComponentResourceOptions) => void, args: Partial<KubernetesPlatformArgs> = {}): Promise<Rendered> {
    resetResources();
    const created = new Map<string, Created>();
    const opts: pulumi.ComponentResourceOptions = {
        transformations: [
            ({ resource, type, name, opts: o }) => {
                created.set(`${type}::${name}`, { resource, opts: o });
                return undefined;
            },
        ],
    };
    const platform = new KubernetesPlatform("platform", { namespace: "dataplatform-test", ...args }, opts);
    deploy(platform, opts);
    return new Rendered(await resources(), platform, created);
}

/** The anti-affinity a group's pods carry: preferably no two on one node. */
function spreadAcrossNodes(group: string): Workload["spec"]["template"]["spec"]["affinity"] {
    return {
        podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchLabels: { [GROUP_LABEL]: group } }, topologyKey: "kubernetes.io/hostname" } }],
        },
    };
}

/** Whether a matchLabels selector selects pods with these labels. */
const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Stands in for something a service requires (a bucket, a topic). */
class Required extends pulumi.CustomResource {
    constructor(name: string) {
        super("test:index:Required", name, {});
    }
}

const TOKEN = `${SECRET_MARK}token`;
const KEY = `${SECRET_MARK}key`;

function dbSpec(): ServiceSpec {
    return {
        name: "db",
        tier: "test",
        image: "postgres:17.6",
        env: { POSTGRES_DB: "meta" },
        secretEnv: { POSTGRES_PASSWORD: `${SECRET_MARK}db` },
        ports: [{ name: "sql", containerPort: 5432 }],
        volumes: [
            { name: "data", mountPath: "/var/lib/postgresql/data", sizeGiB: 3 },
            { name: "wal", mountPath: "/wal" },
        ],
        health: { command: ["pg_isready"], startPeriodSeconds: 10, intervalSeconds: 5, retries: 3 },
        memoryMiB: 128,
        user: "999:999",
    };
}

function webSpec(overrides: Partial<ServiceSpec> = {}): ServiceSpec {
    return {
        name: "web",
        tier: "test",
        image: "web:1",
        entrypoint: ["/entry"],
        command: ["sh", "-c", 'echo "$HOME" $(date) $$'],
        env: { MODE: "serve", PATTERN: pulumi.output("a$(B)") },
        secretEnv: { TOKEN: pulumi.secret(TOKEN) },
        files: [
            { path: "/etc/web/web.conf", content: "workers=2" },
            { path: "/etc/web/key.pem", content: pulumi.secret(KEY) },
            { path: "/etc/web/plain.txt", content: pulumi.output("not secret"), secret: false },
        ],
        ports: [
            { name: "http", containerPort: 8080, hostPort: 18080 },
            { name: "admin", containerPort: 9090, hostPort: 19090 },
            { name: "metrics", containerPort: 9100 },
        ],
        health: { command: ["curl", "-f", "http://localhost:8080/health"], http: { port: 8080, path: "/health" }, intervalSeconds: 10, timeoutSeconds: 3, retries: 4, startPeriodSeconds: 95 },
        memoryMiB: 256,
        cpus: 0.5,
        ...overrides,
    };
}

function workerSpec(dependsOn: DeployedService[] = []): ServiceSpec {
    return { name: "worker", tier: "test", image: "worker:1", health: { command: ["test", "-f", "/tmp/ok"] }, memoryMiB: 64, dependsOn };
}

/** A test service set: a database with volumes, a web service with everything, a portless worker. */
function renderFixture(args: Partial<KubernetesPlatformArgs> = {}, web: Partial<ServiceSpec> = {}): Promise<Rendered & { required: Required; deployed: Record<string, DeployedService> }> {
    let required!: Required;
    const deployed: Record<string, DeployedService> = {};
    return render((platform, opts) => {
        const parent = new pulumi.ComponentResource("test:index:Tier", "tier", {}, opts);
        required = new Required("bucket");
        deployed.db = platform.deploy(dbSpec(), parent);
        deployed.web = platform.deploy(webSpec({ dependsOn: [deployed.db], requires: [required], ...web }), parent);
        deployed.worker = platform.deploy(workerSpec([deployed.web]), parent);
    }, args).then((r) => Object.assign(r, { required, deployed }));
}

describe("Kubernetes platform", () => {
    describe("one service at a time", () => {
        let r: Awaited<ReturnType<typeof renderFixture>>;
        before(async () => {
            r = await renderFixture({ storageClass: "fast-ssd", registry: { address: "registry.example:5000/team", auth: { username: "ci", password: `${SECRET_MARK}registry` } } });
        });

        it("puts everything in the stack's namespace, grouped under one component per service", () => {
            assert.equal(r.one<{ metadata: Meta }>(K.namespace, "dataplatform-test").metadata.labels["pod-security.kubernetes.io/enforce"], "baseline");
            const namespaced = r.all.filter((x) => x.type.startsWith("kubernetes:") && x.type !== K.namespace);
            for (const o of namespaced) assert.equal((plain(o.inputs) as { metadata: Meta }).metadata.namespace, "dataplatform-test", `${o.type} ${o.name}`);
            const groups = r.all.filter((x) => x.type === "dataplatform:platform:KubernetesService").map((x) => x.name);
            assert.deepEqual(groups.sort(), ["db", "web", "worker"]);
            // The namespace-wide objects (the policy, the registry login) belong to the platform itself.
            const perService = namespaced.filter((x) => x.type !== K.networkPolicy && x.name !== "registry-pull");
            for (const o of perService) assert.equal(o.parents.at(-1), "dataplatform:platform:KubernetesService", `${o.type} ${o.name}`);
        });

        it("runs a service with volumes as a StatefulSet with sized claims on the storage class and a headless Service; others as Deployments", () => {
            const db = r.workload("db");
            assert.equal(r.ofType<Workload>(K.statefulSet).length, 1);
            assert.deepEqual(r.ofType<Workload>(K.deployment).map((w) => w.metadata.name).sort(), ["web", "worker"]);
            assert.deepEqual(
                db.spec.volumeClaimTemplates!.map((c) => [c.metadata.name, c.spec.resources.requests.storage, c.spec.storageClassName, c.spec.accessModes]),
                [
                    ["data", "3Gi", "fast-ssd", ["ReadWriteOnce"]],
                    ["wal", `${DEFAULT_VOLUME_GIB}Gi`, "fast-ssd", ["ReadWriteOnce"]],
                ],
            );
            assert.deepEqual(r.container("db").volumeMounts, [{ name: "data", mountPath: "/var/lib/postgresql/data" }, { name: "wal", mountPath: "/wal" }]);
            const headless = r.one<Service>(K.service, "db-headless");
            assert.equal(db.spec.serviceName, "db-headless");
            assert.equal(headless.spec.clusterIP, "None");
            assert.equal(r.workload("web").spec.strategy?.type, "Recreate", "one pod at a time, as a Docker container is replaced");
        });

        it("names a ClusterIP Service like the service, selecting exactly its pod template's labels", () => {
            for (const name of ["db", "web", "worker"]) {
                const w = r.workload(name);
                const labels = w.spec.template.metadata.labels;
                assert.deepEqual(r.one<Service>(K.service, name).spec.selector, labels);
                assert.deepEqual(w.spec.selector.matchLabels, labels);
                assert.deepEqual(labels, {
                    "app.kubernetes.io/name": name,
                    "app.kubernetes.io/instance": "dataplatform-test",
                    "app.kubernetes.io/component": "test",
                    "app.kubernetes.io/part-of": PROJECT,
                    "app.kubernetes.io/managed-by": "pulumi",
                });
            }
            assert.deepEqual(r.one<Service>(K.service, "db-headless").spec.selector, r.workload("db").spec.template.metadata.labels);
            const web = r.one<Service>(K.service, "web");
            assert.equal(web.spec.type, "ClusterIP");
            assert.deepEqual(web.spec.ports, [
                { name: "http", port: 8080, targetPort: 8080 },
                { name: "admin", port: 9090, targetPort: 9090 },
                { name: "metrics", port: 9100, targetPort: 9100 },
            ]);
            assert.equal(web.spec.publishNotReadyAddresses, true, "peers resolve before they are ready, as Docker aliases do");
            // A ClusterIP Service needs ports: a portless service still gets its name, headless.
            assert.equal(r.one<Service>(K.service, "worker").spec.clusterIP, "None");
            assert.deepEqual(r.deployed.web.internal, { http: "web:8080", admin: "web:9090", metrics: "web:9100" });
            assert.deepEqual(r.deployed.db.internal, { sql: "db:5432" });
        });

        it("keeps secret env in one Secret per service, read through secretKeyRef; no secret value anywhere else", () => {
            const secret = r.all.find((x) => x.type === K.secret && x.name === "web-env")!;
            assert.ok(isSecretInput(secret.inputs.stringData), "stringData is registered as a Pulumi secret");
            assert.deepEqual(plain(secret.inputs.stringData), { TOKEN });
            const env = r.container("web").env;
            assert.deepEqual(env.find((e) => e.name === "TOKEN"), { name: "TOKEN", valueFrom: { secretKeyRef: { name: "web-env", key: "TOKEN" } } });
            assert.deepEqual(r.container("db").env.find((e) => e.name === "POSTGRES_PASSWORD")?.valueFrom, { secretKeyRef: { name: "db-env", key: "POSTGRES_PASSWORD" } });
            assert.equal(r.all.filter((x) => x.type === K.secret && x.name === "worker-env").length, 0, "no Secret without secret env");
            const text = r.nonSecretText();
            for (const value of [TOKEN, KEY, `${SECRET_MARK}db`]) assert.ok(!text.includes(value), `${value} outside a Secret`);
            assert.ok(!text.includes(SECRET_MARK));
        });

        it("mounts each file by subPath from a ConfigMap, or a Secret when secret (an Output is presumed secret unless said otherwise)", () => {
            const configMap = r.one<{ metadata: Meta; data: Record<string, string> }>(K.configMap, "web-files");
            assert.deepEqual(configMap.data, { "etc_web_web.conf": "workers=2", "etc_web_plain.txt": "not secret" });
            const secret = r.all.find((x) => x.type === K.secret && x.name === "web-secret-files")!;
            assert.ok(isSecretInput(secret.inputs.stringData));
            assert.deepEqual(plain(secret.inputs.stringData), { "etc_web_key.pem": KEY });
            assert.deepEqual(r.container("web").volumeMounts, [
                { name: "files", mountPath: "/etc/web/web.conf", subPath: "etc_web_web.conf", readOnly: true },
                { name: "secret-files", mountPath: "/etc/web/key.pem", subPath: "etc_web_key.pem", readOnly: true },
                { name: "files", mountPath: "/etc/web/plain.txt", subPath: "etc_web_plain.txt", readOnly: true },
            ]);
            assert.deepEqual(r.workload("web").spec.template.spec.volumes, [
                { name: "files", configMap: { name: "web-files" } },
                { name: "secret-files", secret: { secretName: "web-secret-files" } },
            ]);
        });

        it("rolls the pods through a checksum of files and secret env that changes with either and shows neither", async () => {
            const checksum = (x: Rendered) => x.workload("web").spec.template.metadata.annotations!["dataplatform/checksum"]!;
            const base = checksum(r);
            assert.match(base, /^[0-9a-f]{64}$/);
            const raw = r.all.find((x) => x.type === K.deployment && x.name === "web")!.inputs as { spec: { template: { metadata: { annotations: Record<string, unknown> } } } };
            assert.equal(typeof raw.spec.template.metadata.annotations["dataplatform/checksum"], "string", "not a secret: the hash stays visible in the preview");
            const changedFile = await renderFixture({}, { files: [{ path: "/etc/web/web.conf", content: "workers=3" }, ...webSpec().files!.slice(1)] });
            const changedSecret = await renderFixture({}, { secretEnv: { TOKEN: pulumi.secret(`${TOKEN}-rotated`) } });
            const same = await renderFixture();
            assert.equal(checksum(same), base, "deterministic");
            assert.notEqual(checksum(changedFile), base);
            assert.notEqual(checksum(changedSecret), base);
            assert.equal(r.workload("worker").spec.template.metadata.annotations, undefined, "nothing to hash, no annotation");
        });

        it("probes over HTTP when the spec gives it, exec otherwise, with the Docker healthcheck's timings", () => {
            const web = r.container("web");
            // interval 10, timeout 3, retries 4, start period 95: ceil(95 / 10) + 4 startup attempts.
            const http = { httpGet: { port: 8080, path: "/health" }, periodSeconds: 10, timeoutSeconds: 3 };
            assert.deepEqual(web.startupProbe, { ...http, failureThreshold: 14 });
            assert.deepEqual(web.readinessProbe, { ...http, failureThreshold: 4 });
            assert.deepEqual(web.livenessProbe, { ...http, failureThreshold: 4 });
            const db = r.container("db");
            const exec = { exec: { command: ["pg_isready"] }, periodSeconds: 5, timeoutSeconds: 5 };
            assert.deepEqual(db.startupProbe, { ...exec, failureThreshold: 2 + 3 });
            assert.deepEqual(db.readinessProbe, { ...exec, failureThreshold: 3 });
            // One exec check at a time: liveness is a TCP connect to the first port.
            assert.deepEqual(db.livenessProbe, { tcpSocket: { port: 5432 }, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 3 });
            // Defaults as on Docker: interval 10, timeout 5, retries 6, start period 30.
            const worker = r.container("worker");
            assert.deepEqual(worker.startupProbe, { exec: { command: ["test", "-f", "/tmp/ok"] }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 + 6 });
            assert.deepEqual(worker.livenessProbe.exec, { command: ["test", "-f", "/tmp/ok"] }, "no port to connect to: the check itself");
        });

        it("requests the memory it limits, and CPU when the spec gives it", () => {
            assert.deepEqual(r.container("web").resources, { requests: { memory: "256Mi", cpu: "500m" }, limits: { memory: "256Mi" } });
            assert.deepEqual(r.container("db").resources, { requests: { memory: "128Mi" }, limits: { memory: "128Mi" } });
        });

        it("runs without privileges: the spec's user and its group for volumes, no capabilities, default seccomp, no token", () => {
            for (const name of ["db", "web", "worker"]) {
                const pod = r.workload(name).spec.template.spec;
                assert.deepEqual(pod.containers[0]!.securityContext, { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } });
                assert.equal(pod.automountServiceAccountToken, false);
                assert.equal(pod.enableServiceLinks, false, "no KAFKA_*_PORT-style variables for the images to misread");
                assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
                assert.deepEqual(pod.imagePullSecrets, [{ name: "registry-pull" }]);
            }
            const db = r.workload("db").spec.template.spec.securityContext;
            assert.deepEqual([db.runAsUser, db.runAsGroup, db.fsGroup, db.runAsNonRoot], [999, 999, 999, true]);
            assert.equal(r.workload("web").spec.template.spec.securityContext.runAsUser, undefined, "the image's own user when the spec names none");
        });

        it("runs the entrypoint as command and the command as args, with every $ kept literal", () => {
            const web = r.container("web");
            assert.equal(web.image, "web:1");
            assert.deepEqual(web.command, ["/entry"]);
            // Kubernetes reduces $$ to $ and expands $(VAR): doubled, the shell sees what Docker passes.
            assert.deepEqual(web.args, ["sh", "-c", 'echo "$$HOME" $$(date) $$$$']);
            assert.deepEqual(web.env.slice(0, 2), [{ name: "MODE", value: "serve" }, { name: "PATTERN", value: "a$$(B)" }]);
            assert.equal(r.container("worker").args, undefined);
        });

        it("starts a workload after the workloads it depends on and the resources it requires", () => {
            // `ready` is the workload itself, which Pulumi awaits until its pods are ready.
            assert.equal(r.deployed.db.ready, r.created.get(`${K.statefulSet}::db`)!.resource);
            assert.equal(r.deployed.web.ready, r.created.get(`${K.deployment}::web`)!.resource);
            const dependsOn = (name: string) => r.dependsOn(name === "db" ? K.statefulSet : K.deployment, name);
            // And after the registry login, without which the first pull fails.
            const pull = r.platform.pullSecret!;
            assert.deepEqual(dependsOn("web"), [r.deployed.db.ready, r.required, pull]);
            assert.deepEqual(dependsOn("worker"), [r.deployed.web.ready, pull]);
            assert.deepEqual(dependsOn("db"), [pull]);
            // Long enough for the health check's grace, beyond scheduling and pulling the image.
            const awaitFor = `${95 + 10 * (4 + 1) + 600}s`;
            assert.deepEqual(r.created.get(`${K.deployment}::web`)!.opts.customTimeouts, { create: awaitFor, update: awaitFor });
        });

        it("publishes nothing: a port-forward command per published port, listening where Docker publishes it; never a LoadBalancer or NodePort", () => {
            assert.deepEqual(r.deployed.web.published, { http: "127.0.0.1:18080", admin: "127.0.0.1:19090" });
            assert.equal(r.platform.hostAddress, "127.0.0.1");
            assert.deepEqual(r.platform.access, [
                { service: "web", port: "http", portForward: "kubectl port-forward -n dataplatform-test svc/web 18080:8080" },
                { service: "web", port: "admin", portForward: "kubectl port-forward -n dataplatform-test svc/web 19090:9090" },
            ]);
            assert.deepEqual(r.ofType(K.ingress), []);
            for (const s of r.ofType<Service>(K.service)) assert.ok(s.spec.type === undefined || s.spec.type === "ClusterIP", `${s.metadata.name}: ${s.spec.type}`);
        });

        it("pulls through a registry login Secret whose content is a Pulumi secret, for the registry's host", async () => {
            const secret = r.one<{ metadata: Meta; type: string }>(K.secret, "registry-pull");
            assert.equal(secret.type, "kubernetes.io/dockerconfigjson");
            const raw = r.all.find((x) => x.type === K.secret && x.name === "registry-pull")!.inputs as { stringData: Record<string, unknown> };
            assert.ok(isSecretInput(raw.stringData[".dockerconfigjson"]) || isSecretInput(raw.stringData), "the login stays a secret");
            const config = JSON.parse((plain(raw.stringData) as Record<string, string>)[".dockerconfigjson"]!);
            const login = `ci:${SECRET_MARK}registry`;
            assert.deepEqual(config, { auths: { "registry.example:5000": { username: "ci", password: `${SECRET_MARK}registry`, auth: Buffer.from(login).toString("base64") } } });
        });

        it("admits traffic only from the namespace itself", () => {
            const policy = r.one<NetworkPolicy>(K.networkPolicy, "same-namespace-only");
            assert.deepEqual(policy.spec, { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: {} }] }] });
        });
    });

    describe("ingress mode", () => {
        let r: Rendered;
        before(async () => {
            r = await renderFixture({ ingress: { className: "traefik", baseDomain: "data.example", controllerNamespace: "kube-system", tlsSecret: "wildcard-tls" } });
        });

        it("creates an Ingress per published HTTP port, with TLS from the given secret", () => {
            const ingresses = r.ofType<Ingress>(K.ingress);
            assert.deepEqual(
                ingresses.map((i) => [i.metadata.name, i.spec.ingressClassName, i.spec.rules[0]!.host, i.spec.rules[0]!.http.paths[0]!.backend.service, i.spec.tls]),
                [
                    ["web-http", "traefik", "web-http.data.example", { name: "web", port: { name: "http" } }, [{ hosts: ["web-http.data.example"], secretName: "wildcard-tls" }]],
                    ["web-admin", "traefik", "web-admin.data.example", { name: "web", port: { name: "admin" } }, [{ hosts: ["web-admin.data.example"], secretName: "wildcard-tls" }]],
                ],
            );
            assert.deepEqual(r.platform.access.map((a) => a.url), ["https://web-http.data.example", "https://web-admin.data.example"]);
        });

        it("names a service's only UI after the service, and keeps a TCP port to port-forward alone", async () => {
            const one = await render(
                (platform, opts) => {
                    const parent = new pulumi.ComponentResource("test:index:Tier", "tier", {}, opts);
                    platform.deploy({ ...workerSpec(), name: "ui", ports: [{ name: "http", containerPort: 8080, hostPort: 8080 }] }, parent);
                    platform.deploy({ ...workerSpec(), name: "broker", ports: [{ name: "host", containerPort: 19092, hostPort: 9092, protocol: "tcp" }] }, parent);
                },
                { ingress: { className: "nginx", baseDomain: "local.test", controllerNamespace: "ingress-nginx" } },
            );
            const ingresses = one.ofType<Ingress>(K.ingress);
            assert.deepEqual(ingresses.map((i) => i.spec.rules[0]!.host), ["ui.local.test"]);
            assert.equal(ingresses[0]!.spec.tls, undefined);
            assert.deepEqual(one.platform.access, [
                { service: "ui", port: "http", portForward: "kubectl port-forward -n dataplatform-test svc/ui 8080:8080", url: "http://ui.local.test" },
                { service: "broker", port: "host", portForward: "kubectl port-forward -n dataplatform-test svc/broker 9092:19092" },
            ]);
        });

        it("admits the ingress controller's namespace besides the stack's own", () => {
            const policy = r.one<NetworkPolicy>(K.networkPolicy, "same-namespace-only");
            assert.deepEqual(policy.spec.ingress, [{ from: [{ podSelector: {} }, { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } } }] }]);
        });
    });

    it("spreads a group's pods across nodes and creates its one PodDisruptionBudget when a second member joins", async () => {
        const r = await render((platform) => {
            for (const name of ["peer-1", "peer-2", "peer-3"]) platform.deploy({ ...workerSpec(), name, group: "peers" }, platform);
            platform.deploy({ ...workerSpec(), name: "solo", group: "solo" }, platform);
            platform.deploy(workerSpec(), platform);
        });
        assert.deepEqual(
            r.ofType<PodDisruptionBudget>(K.pdb).map((p) => [p.metadata.name, p.metadata.namespace, p.spec]),
            [["peers", "dataplatform-test", { maxUnavailable: 1, selector: { matchLabels: { [GROUP_LABEL]: "peers" } } }]],
        );
        for (const [name, group] of [["peer-1", "peers"], ["peer-2", "peers"], ["peer-3", "peers"], ["solo", "solo"]]) {
            const pod = r.workload(name).spec.template;
            assert.equal(pod.metadata.labels[GROUP_LABEL], group, name);
            assert.deepEqual(pod.spec.affinity, spreadAcrossNodes(group), name);
        }
        const worker = r.workload("worker").spec.template;
        assert.equal(worker.spec.affinity, undefined);
        assert.equal(worker.metadata.labels[GROUP_LABEL], undefined);
    });

    it("refuses a user that is not a numeric uid[:gid]", async () => {
        await assert.rejects(
            render((platform) => platform.deploy({ ...workerSpec(), user: "postgres" }, platform)),
            /worker: user must be a numeric uid\[:gid\], got postgres/,
        );
    });

    describe("every tier's services", () => {
        // One combined KRaft node and one of each other peer on a laptop.
        const single = { "kafka-broker": 1, "flink-taskmanager": 1, "druid-broker": 1, "druid-historical": 1 };
        /** Each configuration with the size of each group of peers it runs. */
        const configs: Record<string, { raw: Record<string, string>; groups: Record<string, number> }> = {
            laptop: { raw: {}, groups: single },
            workstation: { raw: { [`${PROJECT}:profile`]: "workstation" }, groups: { "kafka-controller": 3, "kafka-broker": 3, "flink-taskmanager": 2, "druid-broker": 1, "druid-historical": 1 } },
            cluster: { raw: { [`${PROJECT}:profile`]: "cluster" }, groups: { "kafka-controller": 3, "kafka-broker": 3, "flink-taskmanager": 3, "druid-broker": 2, "druid-historical": 2 } },
            "s3, Control Center": { raw: { [`${PROJECT}:objectStore`]: "s3", "aws:region": "eu-west-1", [`${PROJECT}:kafka`]: '{"ui": "control-center"}' }, groups: single },
        };
        for (const [label, { raw, groups }] of Object.entries(configs)) {
            describe(label, () => {
                let r: Rendered;
                let cfg: StackConfig;
                let specs: ServiceSpec[];
                let deployed: DeployedService[];
                before(async () => {
                    cfg = parseStackConfig(raw, PROJECT, "test");
                    specs = [];
                    r = await render((platform, opts) => {
                        const deploy = platform.deploy.bind(platform);
                        platform.deploy = (spec, parent) => {
                            specs.push(spec);
                            return deploy(spec, parent);
                        };
                        deployed = buildTiers(cfg, platform, opts);
                    });
                });

                it("renders each service as exactly one workload and one Service of its name, selecting the workload's pod labels", () => {
                    assert.ok(specs.length >= 15, `${specs.length} services`);
                    assert.deepEqual(deployed.map((d) => d.name).sort(), specs.map((s) => s.name).sort());
                    const workloadNames = r.all.filter((x) => WORKLOADS.includes(x.type)).map((x) => (plain(x.inputs) as Workload).metadata.name);
                    assert.deepEqual(workloadNames.sort(), specs.map((s) => s.name).sort());
                    for (const spec of specs) {
                        const w = r.workload(spec.name);
                        assert.equal(r.all.find((x) => WORKLOADS.includes(x.type) && x.name === spec.name)!.type, spec.volumes?.length ? K.statefulSet : K.deployment, spec.name);
                        const service = r.one<Service>(K.service, spec.name);
                        assert.deepEqual(service.spec.selector, w.spec.template.metadata.labels, spec.name);
                        assert.deepEqual(w.spec.selector.matchLabels, w.spec.template.metadata.labels, spec.name);
                        assert.deepEqual((service.spec.ports ?? []).map((p) => [p.name, p.port]), (spec.ports ?? []).map((p) => [p.name, p.containerPort]), spec.name);
                        assert.match(spec.name, /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/, "a DNS label");
                        for (const p of spec.ports ?? []) assert.match(p.name, /^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/, `${spec.name}: port name ${p.name}`);
                    }
                    const headless = r.ofType<Service>(K.service).filter((s) => s.metadata.name.endsWith("-headless"));
                    assert.deepEqual(headless.map((s) => s.metadata.name).sort(), r.ofType<Workload>(K.statefulSet).map((w) => `${w.metadata.name}-headless`).sort());
                });

                it("gives every container probes and a memory limit equal to its request and the memory plan", () => {
                    for (const spec of specs) {
                        const c = r.container(spec.name);
                        for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) assert.ok(probe.httpGet || probe.exec || probe.tcpSocket, spec.name);
                        assert.equal(c.resources.limits.memory, `${spec.memoryMiB}Mi`, spec.name);
                        assert.equal(c.resources.requests.memory, c.resources.limits.memory, spec.name);
                    }
                });

                it("renders exactly the services and memory of the memory plan, so the preflight checks what runs", () => {
                    assert.deepEqual(Object.assign({}, ...Object.values(memoryPlan(cfg))), Object.fromEntries(specs.map((s) => [s.name, s.memoryMiB])));
                });

                it("spreads each group's pods across nodes; a group of two or more gets one PodDisruptionBudget of maxUnavailable 1 selecting exactly its pods", () => {
                    const members = new Map<string, string[]>();
                    for (const s of specs.filter((x) => x.group)) members.set(s.group!, [...(members.get(s.group!) ?? []), s.name]);
                    assert.deepEqual(Object.fromEntries([...members].map(([g, m]) => [g, m.length])), groups);
                    const pdbs = r.ofType<PodDisruptionBudget>(K.pdb);
                    const multi = [...members].filter(([, m]) => m.length >= 2).map(([g]) => g);
                    assert.deepEqual(pdbs.map((p) => p.metadata.name).sort(), multi.sort());
                    const covered: string[] = [];
                    for (const pdb of pdbs) {
                        assert.deepEqual(pdb.spec, { maxUnavailable: 1, selector: { matchLabels: { [GROUP_LABEL]: pdb.metadata.name } } });
                        const selected = specs.filter((s) => selects(pdb.spec.selector.matchLabels, r.workload(s.name).spec.template.metadata.labels)).map((s) => s.name);
                        assert.deepEqual(selected, members.get(pdb.metadata.name), pdb.metadata.name);
                        covered.push(...selected);
                    }
                    for (const s of specs.filter((x) => !multi.includes(x.group ?? ""))) assert.ok(!covered.includes(s.name), `${s.name}: no budget for a lone pod`);
                    for (const s of specs) {
                        const pod = r.workload(s.name).spec.template;
                        assert.equal(pod.metadata.labels[GROUP_LABEL], s.group, s.name);
                        assert.deepEqual(pod.spec.affinity, s.group ? spreadAcrossNodes(s.group) : undefined, s.name);
                        if (s.group) assert.match(s.group, /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/, `${s.name}: group ${s.group} is a DNS label`);
                    }
                });

                if (label === "cluster") {
                    it("runs Kafka on three KRaft controllers and three brokers with RF 3 and min ISR 2, three TaskManagers, two Druid brokers and historicals", () => {
                        const env = (name: string) => Object.fromEntries(r.container(name).env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
                        const voters = "1@kafka-controller-1:9093,2@kafka-controller-2:9093,3@kafka-controller-3:9093";
                        for (const i of [1, 2, 3]) {
                            const controller = env(`kafka-controller-${i}`);
                            assert.equal(controller.KAFKA_PROCESS_ROLES, "controller");
                            assert.equal(controller.KAFKA_CONTROLLER_QUORUM_VOTERS, voters);
                            const broker = env(`kafka-${i}`);
                            assert.equal(broker.KAFKA_PROCESS_ROLES, "broker");
                            for (const key of ["DEFAULT_REPLICATION_FACTOR", "OFFSETS_TOPIC_REPLICATION_FACTOR", "TRANSACTION_STATE_LOG_REPLICATION_FACTOR"]) assert.equal(broker[`KAFKA_${key}`], "3", key);
                            for (const key of ["MIN_INSYNC_REPLICAS", "TRANSACTION_STATE_LOG_MIN_ISR"]) assert.equal(broker[`KAFKA_${key}`], "2", key);
                        }
                        const topics = r.all.filter((x) => x.type === "pulumi-nodejs:dynamic/dataplatform:KafkaTopic").map((x) => plain(x.inputs) as { replicationFactor: number; config: Record<string, string> });
                        assert.equal(topics.length, 3);
                        for (const t of topics) assert.deepEqual([t.replicationFactor, t.config["min.insync.replicas"]], [3, "2"]);
                        assert.equal(specs.filter((s) => s.group === "flink-taskmanager").length, 3);
                        for (const name of ["druid-broker", "druid-broker-2", "druid-historical", "druid-historical-2"]) assert.equal(env(name).druid_host, name, `${name} announces itself`);
                        assert.ok(r.workload("druid-historical-2").spec.volumeClaimTemplates?.length, "each historical caches segments on its own claim");
                        const router = specs.find((s) => s.name === "druid-router")!;
                        for (const name of ["druid-broker-2", "druid-historical-2"]) assert.ok(router.dependsOn!.some((d) => d.name === name), `router after ${name}`);
                        assert.doesNotThrow(() => checkMemoryPlan(cfg), "the memory-plan preflight passes");
                    });
                }

                it("backs every volume by a claim and gives stateful services a user, so the claim is theirs", () => {
                    for (const spec of specs.filter((s) => s.volumes?.length)) {
                        const w = r.workload(spec.name);
                        const claims = w.spec.volumeClaimTemplates!.map((c) => c.metadata.name);
                        const mounted = r.container(spec.name).volumeMounts.filter((m) => m.subPath === undefined).map((m) => m.name);
                        assert.deepEqual(mounted, claims, spec.name);
                        // MinIO runs as root, which owns a fresh claim; Kafka Connect only reads its plugins (a root-owned volume on Docker too).
                        if (!["minio", "kafka-connect"].includes(spec.name)) assert.ok(w.spec.template.spec.securityContext.fsGroup, `${spec.name} has an fsGroup`);
                    }
                });

                it("keeps every secret in a Secret: none in a pod spec, ConfigMap or annotation", () => {
                    assert.deepEqual(r.nonSecretText().match(new RegExp(`.{200}${SECRET_MARK}.{40}`, "g")), null, "generated secret material outside a Secret");
                    const secrets = r.all.filter((x) => x.type === K.secret);
                    assert.ok(secrets.length >= 8);
                    for (const s of secrets) assert.ok(isSecretInput(s.inputs.stringData), `${s.name}: stringData is a Pulumi secret`);
                    const keys = new Map(r.ofType<{ metadata: Meta; stringData: Record<string, string> }>(K.secret).map((s) => [s.metadata.name, Object.keys(s.stringData)]));
                    const configMaps = new Set(r.ofType<{ metadata: Meta }>(K.configMap).map((c) => c.metadata.name));
                    for (const spec of specs) {
                        const pod = r.workload(spec.name).spec.template.spec;
                        for (const e of pod.containers[0]!.env.filter((x) => x.valueFrom)) {
                            const ref = e.valueFrom!.secretKeyRef;
                            assert.ok(keys.get(ref.name)?.includes(ref.key), `${spec.name}: ${ref.name}/${ref.key} exists`);
                        }
                        for (const v of pod.volumes ?? []) assert.ok(v.configMap ? configMaps.has(v.configMap.name) : keys.has(v.secret!.secretName), `${spec.name}: volume ${v.name} exists`);
                        assert.deepEqual(pod.containers[0]!.env.filter((x) => x.valueFrom).map((x) => x.name), Object.keys(spec.secretEnv ?? {}), spec.name);
                    }
                    // superset_config.py reads its secrets from the environment: a ConfigMap is right for it.
                    assert.ok(configMaps.has("superset-files"));
                });

                it("starts each workload after those its spec depends on", () => {
                    for (const spec of specs) {
                        const type = spec.volumes?.length ? K.statefulSet : K.deployment;
                        const dependsOn = r.dependsOn(type, spec.name);
                        for (const d of spec.dependsOn ?? []) assert.ok(dependsOn.includes(d.ready), `${spec.name} after ${d.name}`);
                        for (const q of spec.requires ?? []) assert.ok(dependsOn.includes(q), `${spec.name} after what it requires`);
                    }
                });

                it("exposes no LoadBalancer or NodePort, and forwards each port Docker publishes to the same local port", () => {
                    for (const s of r.ofType<Service>(K.service)) assert.ok([undefined, "ClusterIP"].includes(s.spec.type), `${s.metadata.name}: ${s.spec.type}`);
                    assert.deepEqual(r.ofType(K.ingress), []);
                    const published = specs.flatMap((s) => (s.ports ?? []).filter((p) => p.hostPort !== undefined).map((p) => `svc/${s.name} ${p.hostPort}:${p.containerPort}`));
                    assert.deepEqual(r.platform.access.map((a) => a.portForward.replace("kubectl port-forward -n dataplatform-test ", "")), published);
                    assert.ok(published.includes("svc/kafka-1 9092:19092"), "Kafka's host listener, as advertised to 127.0.0.1:9092");
                    // The published addresses are where those commands listen, so every host URL of the outputs holds once forwarded.
                    for (const s of specs) {
                        const d = deployed.find((x) => x.name === s.name)!;
                        const forwarded = (s.ports ?? []).filter((p) => p.hostPort !== undefined).map((p) => [p.name, `127.0.0.1:${p.hostPort}`]);
                        assert.deepEqual(d.published, Object.fromEntries(forwarded), s.name);
                    }
                });

                it("lets provisioning reach every port by its in-cluster name, through the stack's namespace", () => {
                    for (const d of deployed) {
                        for (const [port, reach] of Object.entries(d.reach)) assert.deepEqual(reach, { address: d.internal[port], via: { namespace: "dataplatform-test" } }, `${d.name}/${port}`);
                        assert.deepEqual(Object.keys(d.reach), Object.keys(d.internal), d.name);
                    }
                });
            });
        }

        it("runs every container as Docker does: the same command, environment (secrets through their Secret), ports and memory", async () => {
            const docker = await build();
            const cfg = parseStackConfig({}, PROJECT, "test");
            let names: string[] = [];
            const r = await render((platform, opts) => {
                names = buildTiers(cfg, platform, opts).map((s) => s.name);
            });
            // Kubernetes turns `$$` into `$` in command, args and env values: what the container gets.
            const unescape = (v: string | undefined) => v?.replace(/\$\$/g, "$");
            for (const name of names) {
                const d = plain(docker.one(T.container, name).inputs) as { entrypoints?: string[]; command?: string[]; envs?: string[]; memory: number; ports?: { internal: number }[] };
                const c = r.container(name);
                assert.deepEqual(c.command?.map(unescape), d.entrypoints, `${name}: entrypoint`);
                assert.deepEqual(c.args?.map(unescape), d.command, `${name}: command`);
                const secretEnv = c.env.some((e) => e.valueFrom) ? (plain(r.all.find((x) => x.type === K.secret && x.name === `${name}-env`)!.inputs) as { stringData: Record<string, string> }).stringData : {};
                const k8sEnv = Object.fromEntries(c.env.map((e) => [e.name, e.valueFrom ? secretEnv[e.valueFrom.secretKeyRef.key] : unescape(e.value)]));
                const dockerEnv = Object.fromEntries((d.envs ?? []).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
                assert.deepEqual(k8sEnv, dockerEnv, `${name}: environment`);
                assert.equal(c.resources.limits.memory, `${d.memory}Mi`, `${name}: memory`);
                const k8sPorts = c.ports.map((p) => p.containerPort);
                for (const p of d.ports ?? []) assert.ok(k8sPorts.includes(p.internal), `${name}: port ${p.internal}`);
            }
        });

        it("gives every service the internal endpoints it has on Docker", async () => {
            const docker = await build();
            const cfg = parseStackConfig({}, PROJECT, "test");
            let k8s: DeployedService[] = [];
            await render((platform, opts) => {
                k8s = buildTiers(cfg, platform, opts);
            });
            assert.deepEqual(
                Object.fromEntries(k8s.map((s) => [s.name, s.internal])),
                Object.fromEntries(docker.stack.services.map((s) => [s.name, s.internal])),
            );
        });
    });
});

/**
 * Every tier on the given platform, wired as buildStack wires them (which renders on Docker
 * only until the stack chooses a platform from the config).
 */
function buildTiers(cfg: StackConfig, platform: KubernetesPlatform, opts: pulumi.ComponentResourceOptions): DeployedService[] {
    const store = createObjectStore(cfg, platform, opts);
    const kafka = new KafkaTier("kafka", cfg, platform, opts);
    const flink = new FlinkTier("flink", cfg, platform, { store }, opts);
    const druid = new DruidTier("druid", cfg, platform, { store, kafka }, opts);
    const pipeline = new Pipeline("pipeline", cfg, platform, { store, kafka, flink }, opts);
    const superset = new SupersetTier("superset", cfg, platform, { druidUri: druid.brokerSqlAlchemyUri, druidTable: druid.aggregatesDataSource }, opts);
    return [...store.services, ...kafka.services, ...flink.services, ...druid.services, ...superset.services, ...pipeline.services];
}
