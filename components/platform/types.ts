import * as pulumi from "@pulumi/pulumi";

/**
 * What runs, said once by a tier. A platform (Docker today, Kubernetes later) decides how: the
 * description holds nothing Docker-specific, so the same tier renders on either.
 */
export interface ServiceSpec {
    /** Unique in the stack; also the service's DNS name inside the platform's network. */
    name: string;
    /** A pinned image reference (from the version table, or an image the program builds). */
    image: pulumi.Input<string>;
    entrypoint?: string[];
    command?: string[];
    /** Plain settings: visible in `pulumi preview --diff`. */
    env?: Record<string, pulumi.Input<string>>;
    /** Passwords and keys: always handed to the platform wrapped as Pulumi secrets. */
    secretEnv?: Record<string, pulumi.Input<string>>;
    ports?: PortSpec[];
    volumes?: VolumeSpec[];
    /** Small config files written into the container before it starts. */
    files?: FileSpec[];
    health: HealthSpec;
    /** Hard memory limit; JVM services set their heap inside it. */
    memoryMiB: number;
    cpus?: number;
    /** Numeric uid[:gid] when the image's default user cannot own its volume. */
    user?: string;
    /** Services that must be healthy before this one starts. */
    dependsOn?: DeployedService[];
    /** Other resources that must exist first (buckets, users, topics). */
    requires?: pulumi.Resource[];
    /**
     * The workload identity the containers run as, where the platform gives pods one: a Kubernetes
     * ServiceAccount that `Platform.identities` bound to a cloud role (EKS Pod Identity). The
     * object store sets it in place of keys; a tier passes on what the store says.
     */
    serviceAccount?: string;
    /** The tier the service belongs to, for the memory budget. */
    tier: string;
    /**
     * The set of interchangeable peers this service is one of (say "kafka-broker"): a DNS label.
     * Each peer is its own service, so only the platform sees the set; Kubernetes spreads its
     * members across nodes and lets a drain take one at a time.
     */
    group?: string;
}

export interface PortSpec {
    /** A name for the endpoint (api, console, ui, ...). */
    name: string;
    containerPort: number;
    /** Published on the host's bind address when set. */
    hostPort?: number;
    /**
     * What a published port speaks; HTTP unless said otherwise. On Kubernetes only HTTP ports get
     * an Ingress: Kafka's host listener is reached by port-forward alone.
     */
    protocol?: "http" | "tcp";
}

export interface VolumeSpec {
    /** Short name; the platform prefixes it with the stack so stacks never share state. */
    name: string;
    mountPath: string;
    /** The claim's size on Kubernetes (Docker volumes grow with the disk); DEFAULT_VOLUME_GIB when unset. */
    sizeGiB?: number;
}

/** A claim's size when the tier does not say: room for a laptop-scale stack's data and logs. */
export const DEFAULT_VOLUME_GIB = 10;

export interface FileSpec {
    path: string;
    content: pulumi.Input<string>;
    /**
     * Whether the content is secret, so Kubernetes keeps it in a Secret rather than a ConfigMap.
     * Unset, content given as a plain string is not secret and content given as an Output is
     * presumed to be: an Output's secrecy is known only asynchronously, after the object kind
     * must be chosen. A tier whose Output content is plain says `secret: false`.
     */
    secret?: boolean;
}

/**
 * Health is a command run inside the container (what Docker can do); platforms that probe
 * HTTP natively (Kubernetes) use `http` when it is given.
 */
export interface HealthSpec {
    command: string[];
    http?: { port: number; path: string };
    intervalSeconds?: number;
    timeoutSeconds?: number;
    retries?: number;
    /** Grace time for slow starters (JVMs) before failures count. */
    startPeriodSeconds?: number;
}

/** A HealthSpec's timings with the defaults every platform applies, in seconds. */
export function healthTiming(health: HealthSpec): { interval: number; timeout: number; retries: number; startPeriod: number; healthyWithin: number } {
    const interval = health.intervalSeconds ?? 10;
    const retries = health.retries ?? 6;
    const startPeriod = health.startPeriodSeconds ?? 30;
    // The longest a starting service may take to report healthy before it counts as failed.
    const healthyWithin = startPeriod + interval * (retries + 1);
    return { interval, timeout: health.timeoutSeconds ?? 5, retries, startPeriod, healthyWithin };
}

/** `name:port` by port name: the service name resolves on every platform (a Docker alias, a Kubernetes Service). */
export function internalEndpoints(spec: Pick<ServiceSpec, "name" | "ports">): Record<string, string> {
    return Object.fromEntries((spec.ports ?? []).map((p) => [p.name, `${spec.name}:${p.containerPort}`]));
}

/**
 * Where a dynamic provider connects to provision a service. On Docker the published address, used
 * directly. On Kubernetes the Service's in-cluster `name:port` plus `via`: the provider opens its
 * own tunnel through the API server (components/shared/tunnel.ts) for each operation, so it works
 * on a private cluster, and also in `destroy` and `refresh`, which run without the program.
 * Held in provider state, so it never carries a secret: kubeconfig is a path, not content.
 */
export interface Reach {
    address: string;
    via?: KubernetesVia;
}

export interface KubernetesVia {
    namespace: string;
    /** A kubeconfig context; the kubeconfig's current context when unset. */
    context?: string;
    /** A kubeconfig file path; $KUBECONFIG or ~/.kube/config when unset. */
    kubeconfig?: string;
    /**
     * A kubeconfig's content, for a cluster the stack creates (there is no file of it): an exec
     * plugin's command, the endpoint and the CA, no credential. An Output in the program; the
     * engine hands providers the string. Each tunnel writes it to a private file for its kubectl.
     */
    kubeconfigData?: pulumi.Input<string>;
}

/** `<hostAddress>:<hostPort>` by port name, for the ports a spec publishes (a hostPort). */
export function publishedEndpoints(spec: Pick<ServiceSpec, "ports">, hostAddress: string): Record<string, string> {
    return Object.fromEntries((spec.ports ?? []).filter((p) => p.hostPort !== undefined).map((p) => [p.name, `${hostAddress}:${p.hostPort}`]));
}

export interface DeployedService {
    name: string;
    /** host:port inside the platform network, by port name. */
    internal: Record<string, string>;
    /**
     * host:port on the machine running `pulumi up`, by port name (published ports only): Docker's
     * published port; on Kubernetes 127.0.0.1:<hostPort>, where the stack's `kubectl port-forward`
     * command listens. For people and outputs; provisioning code uses `reach`, which needs no
     * command run first.
     */
    published: Record<string, string>;
    /** How provisioning code (dynamic providers) reaches each port, by port name: every port, published or not. */
    reach: Record<string, Reach>;
    /** The resource later resources depend on to start after this service is healthy. */
    ready: pulumi.Resource;
    memoryMiB: number;
    tier: string;
}

/** Where images the program builds go when the platform pulls them from a registry. */
export interface ImageRegistry {
    /** host[:port][/path], e.g. localhost:5001 (a kind or k3d local registry) or an ECR registry. */
    address: pulumi.Input<string>;
    /** For a private registry: the push, and unless `pullSecret` is false the pods' pull Secret. */
    auth?: { username: pulumi.Input<string>; password: pulumi.Input<string> };
    /** False when the nodes pull with an identity of their own (ECR and the node role): no pull Secret. */
    pullSecret?: boolean;
    /** A docker-build provider that holds the push login, in place of `auth` on each image. */
    pushProvider?: pulumi.ProviderResource;
    /**
     * The full repository (no tag) an image named `name` is pushed to; `<address>/<name>` when
     * absent. A registry whose repositories must exist first (ECR) creates it here, under `parent`.
     */
    repository?(name: string, parent: pulumi.Resource): pulumi.Output<string>;
}

/**
 * Cloud identities for pods (EKS Pod Identity): a role with a policy, bound to a ServiceAccount the
 * platform makes in the stack's namespace. What the object store uses instead of access keys.
 */
export interface WorkloadIdentities {
    /**
     * Binds `name` (a DNS label; the ServiceAccount's name) to a role with `policy` (an IAM policy
     * document). Pods that name the account in `ServiceSpec.serviceAccount` get the role's
     * credentials once `ready` exists.
     */
    bind(name: string, policy: pulumi.Input<string>, parent: pulumi.Resource, options?: IdentityOptions): WorkloadIdentity;
}

export interface IdentityOptions {
    /**
     * Through a web identity token (IRSA: an OIDC provider, a role annotation on the account)
     * instead of EKS Pod Identity, for an engine whose AWS SDK predates Pod Identity.
     */
    webIdentity?: boolean;
}

export interface WorkloadIdentity {
    serviceAccount: string;
    roleArn: pulumi.Output<string>;
    /** The ServiceAccount and the binding: pods wait for them, so their first start has credentials. */
    ready: pulumi.Resource[];
}

export interface Platform {
    readonly kind: "docker" | "kubernetes";
    /**
     * Unset on Docker: a built image is loaded into the daemon that runs it. Set on Kubernetes: it
     * is pushed there and pulled by digest.
     */
    readonly registry?: ImageRegistry;
    /**
     * The address the machine running `pulumi up` uses for published ports (what to advertise to
     * it): Docker's bind address; on Kubernetes 127.0.0.1, where `kubectl port-forward` listens.
     */
    readonly hostAddress: string;
    /** Set where pods can be given cloud identities (a cluster the eks stack creates). */
    readonly identities?: WorkloadIdentities;
    deploy(spec: ServiceSpec, parent: pulumi.Resource): DeployedService;
}
