import * as pulumi from "@pulumi/pulumi";
import { StackConfig } from "./config";
import { createObjectStore, StoreConsumer } from "./objectstore";
import { DockerPlatform } from "./platform/docker";
import { DeployedService, Platform } from "./platform/types";

export interface Stack {
    platform: Platform;
    /** Every container the stack runs, for the memory budget and the README table. */
    services: DeployedService[];
    outputs: Record<string, pulumi.Input<unknown>>;
}

/**
 * Builds the whole platform from a validated config. A function, not module-level code, so
 * tests can build the stack under several configurations in one process.
 */
export function buildStack(cfg: StackConfig): Stack {
    const platform = new DockerPlatform("platform", { prefix: `${cfg.project}-${cfg.stack}`, bindAddress: cfg.bindAddress });
    const store = createObjectStore(cfg, platform);

    const services = [...store.services];
    return {
        platform,
        services,
        outputs: {
            objectStore: {
                kind: store.kind,
                endpoint: store.hostEndpoint,
                internalEndpoint: store.endpoint,
                consoleUrl: store.consoleUrl,
                region: store.region,
                pathStyle: store.pathStyle,
                buckets: store.buckets,
            },
            objectStoreCredentials: pulumi.secret(
                Object.fromEntries(
                    Object.entries(store.credentials).map(([who, c]) => [who, { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey }]),
                ) as Record<StoreConsumer, unknown>,
            ),
            objectStoreConsoleLogin: store.adminLogin ? pulumi.secret(store.adminLogin) : undefined,
            memoryMiB: Object.fromEntries(services.map((s) => [s.name, s.memoryMiB])),
        },
    };
}
