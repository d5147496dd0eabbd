/**
 * The stack's Kubernetes objects, rendered by the program itself under Pulumi's mocks (the same
 * `program()` `pulumi up` runs, with `platform: kubernetes`): every `kubernetes:*` resource's
 * inputs are its manifest (the SDK puts apiVersion and kind into them; secret wrappers are undone).
 * Provider resources, images, buckets and the provisioning resources are not Kubernetes objects
 * and are left out.
 */
import { installMocks, plain } from "../unit/mocks";
installMocks();
import { build } from "../unit/build";
export { stackConfig } from "../unit/build";
import type { KObject } from "./api";

export interface RenderOptions {
    /** The stack's namespace (each render gets its own, fresh one). */
    namespace: string;
    /** Other config keys (without the project prefix), e.g. { profile: "cluster" } or a stack file's (`stackConfig`); its `kubernetes` object is kept, namespace and storage class set here. */
    config?: Record<string, string>;
    /** Fields of the `kubernetes` config object besides the namespace. */
    kubernetes?: Record<string, unknown>;
}

/** The StorageClass the tests create: claims bind to static PersistentVolumes, at once. */
export const STORAGE_CLASS = "kwok-static";

/** Every Kubernetes object the stack renders for the config, as plain JSON manifests. */
export async function renderManifests(options: RenderOptions): Promise<KObject[]> {
    const given = options.config?.kubernetes ? (JSON.parse(options.config.kubernetes) as Record<string, unknown>) : {};
    // A cluster the stack creates brings its own registry (ECR) and storage class (gp3).
    const created = given.cluster === "eks";
    const built = await build({
        ...options.config,
        platform: "kubernetes",
        kubernetes: JSON.stringify({ ...(created ? {} : { registry: "localhost:5001" }), ...given, ...options.kubernetes, ...(created ? {} : { storageClass: STORAGE_CLASS }), namespace: options.namespace }),
    });
    // A JSON round trip drops the keys the program left undefined, as the provider does.
    const manifests = built.all.filter((r) => r.type.startsWith("kubernetes:")).map((r) => JSON.parse(JSON.stringify(plain(r.inputs))) as KObject);
    for (const m of manifests) {
        if (!m.apiVersion || !m.kind || !m.metadata?.name) throw new Error(`a rendered object without apiVersion, kind or name: ${JSON.stringify(m).slice(0, 300)}`);
    }
    return manifests;
}
