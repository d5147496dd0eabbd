import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DeployedService, healthTiming, internalEndpoints, Platform, publishedEndpoints, ServiceSpec } from "./types";

export interface DockerPlatformArgs {
    /** Prefix for container, network and volume names, so two stacks can share one Docker host. */
    prefix: string;
    /** Host address published ports bind to (127.0.0.1 unless configured otherwise). */
    bindAddress: string;
}

/** Renders service descriptions as containers on one user-defined bridge network. */
export class DockerPlatform extends pulumi.ComponentResource implements Platform {
    readonly kind = "docker" as const;
    readonly network: docker.Network;
    readonly hostAddress: string;
    private readonly images = new Map<string, docker.RemoteImage>();

    constructor(name: string, private readonly args: DockerPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dataplatform:platform:Docker", name, {}, opts);
        this.hostAddress = args.bindAddress === "0.0.0.0" ? "127.0.0.1" : args.bindAddress;
        this.network = new docker.Network(
            "network",
            { name: `${args.prefix}-net`, driver: "bridge", labels: [{ label: "dataplatform.stack", value: args.prefix }] },
            { parent: this },
        );
        this.registerOutputs({ network: this.network.name });
    }

    deploy(spec: ServiceSpec, parent: pulumi.Resource): DeployedService {
        // Containers here get keys; an identity would leave the service with no credentials at all.
        if (spec.serviceAccount !== undefined) throw new Error(`${spec.name}: runs as service account ${spec.serviceAccount}, but Docker gives containers no cloud identity`);
        const health = healthTiming(spec.health);
        const volumes = (spec.volumes ?? []).map((v) => ({
            volume: new docker.Volume(
                `${spec.name}-${v.name}`,
                { name: `${this.args.prefix}-${spec.name}-${v.name}`, labels: [{ label: "dataplatform.stack", value: this.args.prefix }] },
                // Its own resource, so replacing the container keeps the data.
                { parent },
            ),
            mountPath: v.mountPath,
        }));
        const envs = [
            ...Object.entries(spec.env ?? {}).map(([k, v]) => pulumi.interpolate`${k}=${v}`),
            ...Object.entries(spec.secretEnv ?? {}).map(([k, v]) => pulumi.secret(pulumi.interpolate`${k}=${v}`)),
        ];
        const container = new docker.Container(
            spec.name,
            {
                name: `${this.args.prefix}-${spec.name}`,
                // Images the program builds arrive as outputs and are used as they are; tags are pulled.
                image: typeof spec.image === "string" ? this.pull(spec.image).imageId : spec.image,
                entrypoints: spec.entrypoint,
                command: spec.command,
                envs,
                user: spec.user,
                hostname: spec.name,
                networksAdvanced: [{ name: this.network.name, aliases: [spec.name] }],
                ports: (spec.ports ?? [])
                    .filter((p) => p.hostPort !== undefined)
                    .map((p) => ({ internal: p.containerPort, external: p.hostPort, ip: this.args.bindAddress })),
                volumes: volumes.map((v) => ({ volumeName: v.volume.name, containerPath: v.mountPath })),
                uploads: (spec.files ?? []).map((f) => ({ file: f.path, content: f.content })),
                healthcheck: {
                    tests: ["CMD", ...spec.health.command],
                    interval: `${health.interval}s`,
                    timeout: `${health.timeout}s`,
                    retries: health.retries,
                    startPeriod: `${health.startPeriod}s`,
                },
                // Creation finishes only once the container reports healthy, so dependents start in order.
                wait: true,
                waitTimeout: health.healthyWithin + 30,
                restart: "unless-stopped",
                memory: spec.memoryMiB,
                // No swap beyond the limit: an over-budget service fails loudly instead of thrashing.
                memorySwap: spec.memoryMiB,
                cpuShares: spec.cpus ? Math.round(spec.cpus * 1024) : undefined,
                logDriver: "json-file",
                logOpts: { "max-size": "20m", "max-file": "3" },
                labels: [
                    { label: "dataplatform.stack", value: this.args.prefix },
                    { label: "dataplatform.tier", value: spec.tier },
                ],
            },
            {
                parent,
                dependsOn: [...(spec.dependsOn ?? []).map((d) => d.ready), ...(spec.requires ?? [])],
                // Fixed container names and host ports would collide if the new one started first.
                deleteBeforeReplace: true,
            },
        );
        const published = publishedEndpoints(spec, this.hostAddress);
        return {
            name: spec.name,
            tier: spec.tier,
            memoryMiB: spec.memoryMiB,
            ready: container,
            internal: internalEndpoints(spec),
            published,
            // Only a published port is reachable from outside Docker's network, and it is reached directly.
            reach: Object.fromEntries(Object.entries(published).map(([port, address]) => [port, { address }])),
        };
    }

    /** One pull per pinned reference, shared by every service that runs it. */
    private pull(ref: string): docker.RemoteImage {
        let image = this.images.get(ref);
        if (!image) {
            image = new docker.RemoteImage(`image-${ref.replace(/[^a-zA-Z0-9]+/g, "-")}`, { name: ref, keepLocally: true }, { parent: this });
            this.images.set(ref, image);
        }
        return image;
    }
}
