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
    /** The tier the service belongs to, for the memory budget. */
    tier: string;
}

export interface PortSpec {
    /** A name for the endpoint (api, console, ui, ...). */
    name: string;
    containerPort: number;
    /** Published on the host's bind address when set. */
    hostPort?: number;
}

export interface VolumeSpec {
    /** Short name; the platform prefixes it with the stack so stacks never share state. */
    name: string;
    mountPath: string;
}

export interface FileSpec {
    path: string;
    content: pulumi.Input<string>;
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

export interface DeployedService {
    name: string;
    /** host:port inside the platform network, by port name. */
    internal: Record<string, string>;
    /** host:port reachable from the machine running `pulumi up`, by port name (published ports only). */
    published: Record<string, string>;
    /** The resource later resources depend on to start after this service is healthy. */
    ready: pulumi.Resource;
    memoryMiB: number;
    tier: string;
}

export interface Platform {
    readonly kind: "docker" | "kubernetes";
    /** The address the machine running `pulumi up` uses for published ports (what to advertise to it). */
    readonly hostAddress: string;
    deploy(spec: ServiceSpec, parent: pulumi.Resource): DeployedService;
}
