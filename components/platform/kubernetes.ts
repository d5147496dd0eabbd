import { createHash } from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { registryHost } from "../shared/image";
import { kubeconfigArgs } from "../shared/tunnel";
import {
    DEFAULT_VOLUME_GIB,
    DeployedService,
    FileSpec,
    healthTiming,
    ImageRegistry,
    internalEndpoints,
    KubernetesVia,
    Platform,
    PortSpec,
    publishedEndpoints,
    IdentityOptions,
    ServiceSpec,
    WorkloadIdentities,
    WorkloadIdentity,
} from "./types";

import Input = k8s.types.input.core.v1;

export interface KubernetesIngressArgs {
    /** The IngressClass that serves the UIs (the cluster's controller: traefik, nginx, ...). */
    className: string;
    /** UIs are served at `<service>.<baseDomain>`. */
    baseDomain: string;
    /** Where the controller's pods run: the one namespace besides the stack's own that the NetworkPolicy admits. */
    controllerNamespace: string;
    /** A TLS Secret in the stack's namespace (say a wildcard for `*.<baseDomain>`); plain HTTP without it. */
    tlsSecret?: string;
}

export interface KubernetesPlatformArgs {
    /** One namespace per stack: every object of the stack lives in it. */
    namespace: string;
    /** For the volume claims; the cluster's default class when unset. An Output when the stack creates the class (claims then wait for it). */
    storageClass?: pulumi.Input<string>;
    /** The cluster to deploy to; the ambient kubeconfig's current context when unset. */
    provider?: k8s.Provider;
    /** The kubeconfig context the provider uses, for the port-forward commands and provisioning tunnels. */
    context?: string;
    /** The kubeconfig file the provider uses (a path), likewise. */
    kubeconfig?: string;
    /** The kubeconfig's content instead, for a cluster the stack creates: the provisioning tunnels write it to a file of their own. */
    kubeconfigData?: pulumi.Input<string>;
    /**
     * Binds a ServiceAccount of the namespace to a cloud role (EKS Pod Identity); pods have no
     * cloud identity without it.
     */
    bindIdentity?: (
        account: { namespace: pulumi.Output<string>; name: string; policy: pulumi.Input<string> } & IdentityOptions,
        parent: pulumi.Resource,
    ) => { roleArn: pulumi.Output<string>; ready: pulumi.Resource[]; annotations?: Record<string, pulumi.Input<string>> };
    /** Where the program's images are pushed; with `auth`, the pods pull through a Secret made from it. */
    registry?: ImageRegistry;
    /** Off by default: the UIs are then reached only through `kubectl port-forward`. */
    ingress?: KubernetesIngressArgs;
}

/** How one published UI or API is reached from outside the cluster. */
export interface UiAccess {
    service: string;
    port: string;
    /** Listens on the port the Docker platform publishes, so host URLs and Kafka's advertised host listener hold. */
    portForward: string;
    /** Only in ingress mode, for HTTP ports. */
    url?: string;
}

/** Room for pulling an image and binding a claim, beyond the time the service itself may take to become healthy. */
const SCHEDULE_AND_PULL_SECONDS = 600;

/**
 * Pulumi awaits a Service until it has endpoints, but a Service here exists before its pods do
 * (peers must resolve each other to form a quorum) and its pods are awaited through the
 * workload; an Ingress's status depends on the controller. Neither gates anything.
 */
const SKIP_AWAIT = { "pulumi.com/skipAwait": "true" };

/**
 * Kubernetes expands `$(VAR)` and reduces `$$` in command, args and env values, where Docker
 * passes them on as they are: doubling every `$` keeps the tiers' shell scripts literal.
 */
const literal = (s: string) => s.replace(/\$/g, "$$$$");

/** A ConfigMap or Secret key for a file path: keys allow only `[-._a-zA-Z0-9]`. */
const fileKey = (path: string) => path.replace(/^\/+/, "").replace(/[^-._a-zA-Z0-9]/g, "_");

/** Marks the pods of a ServiceSpec's `group`: what its anti-affinity and disruption budget select. */
export const GROUP_LABEL = "dataplatform/group";
const groupSelector = (group: string) => ({ matchLabels: { [GROUP_LABEL]: group } });

/**
 * Renders service descriptions as workloads in one namespace: a StatefulSet (with claims) or a
 * Deployment, a Service named like the service, its secret env and files in Secrets and a
 * ConfigMap. Each service's objects are grouped under one component, one node in the preview.
 */
export class KubernetesPlatform extends pulumi.ComponentResource implements Platform {
    readonly kind = "kubernetes" as const;
    /** Where `kubectl port-forward` listens: published ports are reached there once forwarded. */
    readonly hostAddress = "127.0.0.1";
    readonly namespace: k8s.core.v1.Namespace;
    readonly networkPolicy: k8s.networking.v1.NetworkPolicy;
    /** Filled by `deploy`: one entry per port a spec publishes (a hostPort on Docker). */
    readonly access: UiAccess[] = [];
    /** How provisioning code tunnels into the namespace through the API server. */
    readonly via: KubernetesVia;
    readonly registry?: ImageRegistry;
    /** The `kubernetes.io/dockerconfigjson` Secret pods pull with, when the registry needs a login. */
    readonly pullSecret?: k8s.core.v1.Secret;
    readonly identities?: WorkloadIdentities;
    /** Members deployed so far, by group. */
    private readonly groupSizes = new Map<string, number>();

    constructor(name: string, private readonly args: KubernetesPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dataplatform:platform:Kubernetes", name, {}, opts);
        this.via = {
            namespace: args.namespace,
            ...(args.context ? { context: args.context } : {}),
            ...(args.kubeconfig ? { kubeconfig: args.kubeconfig } : {}),
            ...(args.kubeconfigData ? { kubeconfigData: args.kubeconfigData } : {}),
        };
        const child = { parent: this, provider: args.provider };
        this.namespace = new k8s.core.v1.Namespace(
            "namespace",
            {
                metadata: {
                    name: args.namespace,
                    labels: {
                        ...this.commonLabels(),
                        // Not "restricted": that needs runAsNonRoot, and MinIO and Redis run as their images' root (with every capability dropped).
                        "pod-security.kubernetes.io/enforce": "baseline",
                    },
                },
            },
            child,
        );
        const ingress = args.ingress;
        this.networkPolicy = new k8s.networking.v1.NetworkPolicy(
            "same-namespace-only",
            {
                metadata: { name: "same-namespace-only", namespace: this.namespace.metadata.name, labels: this.commonLabels() },
                spec: {
                    // Every pod of the stack; egress stays open (DNS, S3, image registries).
                    podSelector: {},
                    policyTypes: ["Ingress"],
                    ingress: [
                        {
                            from: [
                                { podSelector: {} },
                                ...(ingress ? [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ingress.controllerNamespace } } }] : []),
                            ],
                        },
                    ],
                },
            },
            child,
        );
        this.registry = args.registry;
        const auth = args.registry?.pullSecret === false ? undefined : args.registry?.auth;
        if (auth) {
            const host = pulumi.output(args.registry!.address).apply(registryHost);
            this.pullSecret = new k8s.core.v1.Secret(
                "registry-pull",
                {
                    metadata: { name: "registry-pull", namespace: this.namespace.metadata.name, labels: this.commonLabels() },
                    type: "kubernetes.io/dockerconfigjson",
                    stringData: {
                        ".dockerconfigjson": pulumi.secret(
                            pulumi.all([host, auth.username, auth.password]).apply(([host, username, password]) =>
                                JSON.stringify({ auths: { [host]: { username, password, auth: Buffer.from(`${username}:${password}`).toString("base64") } } }),
                            ),
                        ),
                    },
                },
                child,
            );
        }
        const bindIdentity = args.bindIdentity;
        if (bindIdentity) {
            this.identities = {
                bind: (name, policy, parent, options): WorkloadIdentity => {
                    const bound = bindIdentity({ namespace: this.namespace.metadata.name, name, policy, ...options }, parent);
                    const account = new k8s.core.v1.ServiceAccount(
                        name,
                        // No automount: the identity's token (Pod Identity's or IRSA's) is a projected volume of its own audience.
                        { metadata: { name, namespace: this.namespace.metadata.name, labels: this.commonLabels(), annotations: bound.annotations }, automountServiceAccountToken: false },
                        { parent, provider: args.provider },
                    );
                    return { serviceAccount: name, roleArn: bound.roleArn, ready: [account, ...bound.ready] };
                },
            };
        }
        this.registerOutputs({ namespace: this.namespace.metadata.name });
    }

    deploy(spec: ServiceSpec, parent: pulumi.Resource): DeployedService {
        // An account no binding made would run the service with no credentials at all.
        if (spec.serviceAccount !== undefined && !this.identities) throw new Error(`${spec.name}: runs as service account ${spec.serviceAccount}, but this platform gives pods no cloud identity`);
        const group = new ServiceGroup(spec.name, { parent });
        const child = { parent: group, provider: this.args.provider };
        // One object for pod labels, workload selector and Service selectors: they cannot drift apart.
        const labels = {
            "app.kubernetes.io/name": spec.name,
            "app.kubernetes.io/component": spec.tier,
            ...this.commonLabels(),
            ...(spec.group ? { [GROUP_LABEL]: spec.group } : {}),
        };
        const metadata = (name: string, annotations?: Record<string, pulumi.Input<string>>) => ({ name, namespace: this.namespace.metadata.name, labels, annotations });
        const ports = spec.ports ?? [];

        const secretEnv = spec.secretEnv ?? {};
        const envSecret = Object.keys(secretEnv).length
            ? new k8s.core.v1.Secret(`${spec.name}-env`, { metadata: metadata(`${spec.name}-env`), type: "Opaque", stringData: pulumi.secret(secretEnv) }, child)
            : undefined;
        const files = this.files(spec, metadata, child);

        const container: Input.Container = {
            name: spec.name,
            image: spec.image,
            command: spec.entrypoint?.map(literal),
            args: spec.command?.map(literal),
            env: [
                ...Object.entries(spec.env ?? {}).map(([name, value]) => ({ name, value: pulumi.output(value).apply(literal) })),
                ...Object.keys(secretEnv).map((name) => ({ name, valueFrom: { secretKeyRef: { name: envSecret!.metadata.name, key: name } } })),
            ],
            ports: ports.map((p) => ({ name: p.name, containerPort: p.containerPort, protocol: "TCP" })),
            volumeMounts: [...(spec.volumes ?? []).map((v) => ({ name: v.name, mountPath: v.mountPath })), ...files.mounts],
            ...probes(spec),
            resources: {
                // Request = limit: the scheduler reserves what the memory plan counts, and nothing is evicted for exceeding a request.
                requests: { memory: `${spec.memoryMiB}Mi`, ...(spec.cpus ? { cpu: `${Math.round(spec.cpus * 1000)}m` } : {}) },
                limits: { memory: `${spec.memoryMiB}Mi` },
            },
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } },
        };
        const template: Input.PodTemplateSpec = {
            metadata: { labels, annotations: files.checksum ? { "dataplatform/checksum": files.checksum } : undefined },
            spec: {
                containers: [container],
                volumes: files.volumes,
                securityContext: podSecurity(spec),
                affinity: spec.group ? spreadAcrossNodes(spec.group) : undefined,
                serviceAccountName: spec.serviceAccount,
                // The services call no Kubernetes API. (A cloud identity needs no API token: EKS Pod
                // Identity mounts a token of its own audience, pods.eks.amazonaws.com.)
                automountServiceAccountToken: false,
                // Otherwise every Service in the namespace becomes variables like KAFKA_1_PORT and
                // SCHEMA_REGISTRY_PORT, which the Kafka and Confluent images read as their own settings.
                enableServiceLinks: false,
                imagePullSecrets: this.pullSecret ? [{ name: "registry-pull" }] : undefined,
            },
        };

        const servicePorts = ports.map((p) => ({ name: p.name, port: p.containerPort, targetPort: p.containerPort }));
        // Addresses are published before pods are ready, as a Docker alias resolves once the
        // container runs: KRaft controllers and ZooKeeper become ready only after reaching their peers.
        const serviceSpec = { selector: labels, publishNotReadyAddresses: true };
        new k8s.core.v1.Service(
            spec.name,
            {
                metadata: metadata(spec.name, SKIP_AWAIT),
                // A ClusterIP Service needs ports; a service without any still gets its name, as on Docker.
                spec: ports.length ? { ...serviceSpec, type: "ClusterIP", ports: servicePorts } : { ...serviceSpec, clusterIP: "None" },
            },
            child,
        );

        const timing = healthTiming(spec.health);
        const awaitFor = `${timing.healthyWithin + SCHEDULE_AND_PULL_SECONDS}s`;
        const workloadOpts: pulumi.CustomResourceOptions = {
            ...child,
            // Pulumi awaits a workload until its pods are ready: dependents start after it, as on Docker.
            dependsOn: [...(spec.dependsOn ?? []).map((d) => d.ready), ...(spec.requires ?? []), ...(this.pullSecret ? [this.pullSecret] : [])],
            customTimeouts: { create: awaitFor, update: awaitFor },
        };
        let workload: pulumi.CustomResource;
        if (spec.volumes?.length) {
            const headless = new k8s.core.v1.Service(
                `${spec.name}-headless`,
                { metadata: metadata(`${spec.name}-headless`, SKIP_AWAIT), spec: { ...serviceSpec, clusterIP: "None", ports: servicePorts } },
                child,
            );
            workload = new k8s.apps.v1.StatefulSet(
                spec.name,
                {
                    metadata: metadata(spec.name),
                    spec: {
                        serviceName: headless.metadata.name,
                        replicas: 1,
                        selector: { matchLabels: labels },
                        template,
                        volumeClaimTemplates: spec.volumes.map((v) => ({
                            metadata: { name: v.name, labels },
                            spec: {
                                accessModes: ["ReadWriteOnce"],
                                storageClassName: this.args.storageClass,
                                resources: { requests: { storage: `${v.sizeGiB ?? DEFAULT_VOLUME_GIB}Gi` } },
                            },
                        })),
                    },
                },
                workloadOpts,
            );
        } else {
            workload = new k8s.apps.v1.Deployment(
                spec.name,
                {
                    metadata: metadata(spec.name),
                    spec: {
                        replicas: 1,
                        // The old pod stops before the new one starts, as a Docker container is replaced:
                        // never two job keepers, producers or bootstraps of one database at once.
                        strategy: { type: "Recreate" },
                        selector: { matchLabels: labels },
                        template,
                    },
                },
                workloadOpts,
            );
        }

        this.expose(spec, metadata, child);
        if (spec.group) this.joinGroup(spec.group);
        group.done();
        return {
            name: spec.name,
            tier: spec.tier,
            memoryMiB: spec.memoryMiB,
            ready: workload,
            internal: internalEndpoints(spec),
            // Nothing is published on a cluster: these are where the `access` port-forward commands listen.
            published: publishedEndpoints(spec, this.hostAddress),
            reach: Object.fromEntries(Object.entries(internalEndpoints(spec)).map(([port, address]) => [port, { address, via: this.via }])),
        };
    }

    /**
     * One PodDisruptionBudget per group, created as its second member is deployed: its spec names
     * the group alone, so later members need no update, and a group shrunk to one drops it. A lone
     * pod has no peer to keep serving while it moves: a budget would protect nothing.
     */
    private joinGroup(group: string): void {
        const size = (this.groupSizes.get(group) ?? 0) + 1;
        this.groupSizes.set(group, size);
        if (size !== 2) return;
        new k8s.policy.v1.PodDisruptionBudget(
            group,
            {
                metadata: { name: group, namespace: this.namespace.metadata.name, labels: this.commonLabels() },
                // A drain takes one peer at a time: partitions keep 2 of 3 replicas in sync, a quorum its majority, a segment its other copy.
                spec: { maxUnavailable: 1, selector: groupSelector(group) },
            },
            { parent: this, provider: this.args.provider },
        );
    }

    private commonLabels(): Record<string, string> {
        return {
            "app.kubernetes.io/instance": this.args.namespace,
            "app.kubernetes.io/part-of": pulumi.getProject(),
            "app.kubernetes.io/managed-by": "pulumi",
        };
    }

    /**
     * The spec's files as one ConfigMap and one Secret, each file a key mounted at its path. A
     * subPath mount never sees an update, so a checksum of every file and secret env value
     * (never a value itself) on the pod template rolls the pods when one changes.
     */
    private files(
        spec: ServiceSpec,
        metadata: (name: string) => k8s.types.input.meta.v1.ObjectMeta,
        child: pulumi.CustomResourceOptions,
    ): { volumes: Input.Volume[]; mounts: Input.VolumeMount[]; checksum?: pulumi.Output<string> } {
        const files = (spec.files ?? []).map((f) => ({ ...f, key: fileKey(f.path), secret: f.secret ?? typeof f.content !== "string" }));
        const keys = files.map((f) => f.key);
        if (new Set(keys).size !== keys.length) throw new Error(`${spec.name}: two files map to one key (${keys.join(", ")})`);
        const data = (list: (FileSpec & { key: string })[]) => Object.fromEntries(list.map((f) => [f.key, f.content]));
        const plain = files.filter((f) => !f.secret);
        const secret = files.filter((f) => f.secret);
        const volumes: Input.Volume[] = [];
        if (plain.length) {
            const configMap = new k8s.core.v1.ConfigMap(`${spec.name}-files`, { metadata: metadata(`${spec.name}-files`), data: data(plain) }, child);
            volumes.push({ name: "files", configMap: { name: configMap.metadata.name } });
        }
        if (secret.length) {
            const store = new k8s.core.v1.Secret(`${spec.name}-secret-files`, { metadata: metadata(`${spec.name}-secret-files`), type: "Opaque", stringData: pulumi.secret(data(secret)) }, child);
            volumes.push({ name: "secret-files", secret: { secretName: store.metadata.name } });
        }
        const hashed = files.length || Object.keys(spec.secretEnv ?? {}).length;
        const checksum = hashed
            ? // A hash is not the value: kept out of the secret wrapper so the preview shows why pods roll.
              pulumi.unsecret(
                  pulumi
                      .all([pulumi.all(files.map((f) => pulumi.all([f.path, f.content]))), pulumi.all(spec.secretEnv ?? {})])
                      .apply((content) => createHash("sha256").update(JSON.stringify(content)).digest("hex")),
              )
            : undefined;
        return {
            volumes,
            mounts: files.map((f) => ({ name: f.secret ? "secret-files" : "files", mountPath: f.path, subPath: f.key, readOnly: true })),
            checksum,
        };
    }

    /** A port-forward command for each published port and, in ingress mode, an Ingress for each published HTTP port. */
    private expose(spec: ServiceSpec, metadata: (name: string, annotations?: Record<string, string>) => k8s.types.input.meta.v1.ObjectMeta, child: pulumi.CustomResourceOptions): void {
        const published = (spec.ports ?? []).filter((p): p is PortSpec & { hostPort: number } => p.hostPort !== undefined);
        const http = published.filter((p) => (p.protocol ?? "http") === "http");
        const ingress = this.args.ingress;
        for (const p of published) {
            const portForward = ["kubectl", ...kubeconfigArgs(this.via), "port-forward", "-n", this.via.namespace, `svc/${spec.name}`, `${p.hostPort}:${p.containerPort}`].join(" ");
            if (!ingress || !http.includes(p)) {
                this.access.push({ service: spec.name, port: p.name, portForward });
                continue;
            }
            // One host per service; a service with two UIs (MinIO's API and console) names each.
            const host = `${http.length === 1 ? spec.name : `${spec.name}-${p.name}`}.${ingress.baseDomain}`;
            new k8s.networking.v1.Ingress(
                `${spec.name}-${p.name}`,
                {
                    metadata: metadata(`${spec.name}-${p.name}`, SKIP_AWAIT),
                    spec: {
                        ingressClassName: ingress.className,
                        rules: [{ host, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: spec.name, port: { name: p.name } } } }] } }],
                        tls: ingress.tlsSecret ? [{ hosts: [host], secretName: ingress.tlsSecret }] : undefined,
                    },
                },
                child,
            );
            this.access.push({ service: spec.name, port: p.name, portForward, url: `${ingress.tlsSecret ? "https" : "http"}://${host}` });
        }
    }
}

/** Holds one service's objects: one node per service in the preview. */
class ServiceGroup extends pulumi.ComponentResource {
    constructor(name: string, opts: pulumi.ComponentResourceOptions) {
        super("dataplatform:platform:KubernetesService", name, {}, opts);
    }

    done(): void {
        this.registerOutputs({});
    }
}

/**
 * Prefers a node without another pod of the group, so losing a node costs one peer. Preferred,
 * not required: a cluster with fewer nodes than peers still runs them all.
 */
function spreadAcrossNodes(group: string): Input.Affinity {
    return {
        podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
                { weight: 100, podAffinityTerm: { labelSelector: groupSelector(group), topologyKey: "kubernetes.io/hostname" } },
            ],
        },
    };
}

/**
 * Startup, readiness and liveness from the Docker healthcheck's timings. The startup probe allows
 * the start period plus the retries; readiness fails after `retries` misses, as Docker turns
 * unhealthy. Liveness is the HTTP check, or a TCP connect: an exec check can be heavy (Kafka's
 * runs a JVM), and running it for readiness and liveness at once could pass the memory limit.
 */
function probes(spec: ServiceSpec): Pick<Input.Container, "startupProbe" | "readinessProbe" | "livenessProbe"> {
    const t = healthTiming(spec.health);
    const http = spec.health.http;
    const check = http ? { httpGet: { port: http.port, path: http.path } } : { exec: { command: spec.health.command } };
    const firstPort = spec.ports?.[0]?.containerPort;
    const alive = http || firstPort === undefined ? check : { tcpSocket: { port: firstPort } };
    const timing = { periodSeconds: t.interval, timeoutSeconds: t.timeout };
    return {
        startupProbe: { ...check, ...timing, failureThreshold: Math.ceil(t.startPeriod / t.interval) + t.retries },
        readinessProbe: { ...check, ...timing, failureThreshold: t.retries },
        livenessProbe: { ...alive, ...timing, failureThreshold: t.retries },
    };
}

/**
 * `user` ("uid[:gid]") runs the pod as that user and gives it the volumes' group: a fresh claim
 * belongs to root, where a Docker volume copies the image directory's owner.
 */
function podSecurity(spec: ServiceSpec): Input.PodSecurityContext {
    const seccomp = { seccompProfile: { type: "RuntimeDefault" } };
    if (spec.user === undefined) return seccomp;
    const m = /^(\d+)(?::(\d+))?$/.exec(spec.user);
    if (!m) throw new Error(`${spec.name}: user must be a numeric uid[:gid], got ${spec.user}`);
    const uid = Number(m[1]);
    const gid = m[2] === undefined ? undefined : Number(m[2]);
    return {
        ...seccomp,
        runAsUser: uid,
        runAsGroup: gid,
        runAsNonRoot: uid !== 0,
        fsGroup: gid ?? uid,
        // Re-own a volume only when its root is not the group's yet: a recursive chown of a large volume delays every start.
        fsGroupChangePolicy: "OnRootMismatch",
    };
}
