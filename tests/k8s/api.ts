/**
 * A tiny Kubernetes API client over node:https for the control-plane tests and the engines:
 * the cluster's CA and a bearer token, server-side apply, GET, list and DELETE. Every non-2xx
 * answer throws with the server's own Status.message, so a refusal reads as the server wrote it.
 */
import * as fs from "node:fs";
import * as https from "node:https";

export interface Cluster {
    /** https://127.0.0.1:<port> */
    url: string;
    token: string;
    /** PEM of the cluster CA. */
    ca: string;
}

/** The cluster of the kubernetes engine's handle details. */
export function clusterOf(handle: { endpoints: Record<string, string>; details: Record<string, string> }): Cluster {
    return { url: handle.endpoints.url!, token: handle.details.token!, ca: fs.readFileSync(handle.details.caFile!, "utf8") };
}

/** Any Kubernetes object, as JSON. */
export interface KObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; generation?: number; resourceVersion?: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [key: string]: unknown };
    spec?: unknown;
    status?: unknown;
    [key: string]: unknown;
}

export const FIELD_MANAGER = "dataplatform-test";

/** A refusal from the API server: `message` is its Status.message, `code` the HTTP status. */
export class ApiError extends Error {
    constructor(
        message: string,
        readonly code: number,
        readonly reason?: string,
    ) {
        super(message);
    }
}

export function request(cluster: Cluster, method: string, path: string, body?: unknown, contentType = "application/json"): Promise<unknown> {
    const url = new URL(path, cluster.url);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
        const req = https.request(
            url,
            {
                method,
                ca: cluster.ca,
                headers: {
                    Authorization: `Bearer ${cluster.token}`,
                    Accept: "application/json",
                    ...(payload === undefined ? {} : { "Content-Type": contentType, "Content-Length": Buffer.byteLength(payload) }),
                },
                timeout: 30_000,
            },
            (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () => {
                    const text = Buffer.concat(chunks).toString("utf8");
                    let parsed: unknown = text;
                    try {
                        parsed = text ? JSON.parse(text) : undefined;
                    } catch {
                        /* plain text (healthz) */
                    }
                    const status = res.statusCode ?? 0;
                    if (status >= 200 && status < 300) return resolve(parsed);
                    const s = parsed as { message?: string; reason?: string } | undefined;
                    reject(new ApiError(typeof s === "object" && s?.message ? s.message : `${method} ${url.pathname}: HTTP ${status} ${text.slice(0, 500)}`, status, typeof s === "object" ? s?.reason : undefined));
                });
                res.on("error", reject);
            },
        );
        req.on("timeout", () => req.destroy(new Error(`${method} ${url.pathname}: no answer in 30 s`)));
        req.on("error", reject);
        req.end(payload);
    });
}

/** Core kinds and the few others the tests use: plural resource names, and whether the kind lives in a namespace. */
const RESOURCES: Record<string, { plural: string; namespaced: boolean }> = {
    Namespace: { plural: "namespaces", namespaced: false },
    Node: { plural: "nodes", namespaced: false },
    PersistentVolume: { plural: "persistentvolumes", namespaced: false },
    StorageClass: { plural: "storageclasses", namespaced: false },
    CustomResourceDefinition: { plural: "customresourcedefinitions", namespaced: false },
    ClusterRole: { plural: "clusterroles", namespaced: false },
    ClusterRoleBinding: { plural: "clusterrolebindings", namespaced: false },
    NetworkPolicy: { plural: "networkpolicies", namespaced: true },
    Ingress: { plural: "ingresses", namespaced: true },
    PodDisruptionBudget: { plural: "poddisruptionbudgets", namespaced: true },
    EndpointSlice: { plural: "endpointslices", namespaced: true },
    PersistentVolumeClaim: { plural: "persistentvolumeclaims", namespaced: true },
    Endpoints: { plural: "endpoints", namespaced: true },
};

/** The REST path of a kind (collection when `name` is undefined). */
export function pathOf(apiVersion: string, kind: string, namespace: string | undefined, name?: string): string {
    const known = RESOURCES[kind];
    const plural = known?.plural ?? `${kind.toLowerCase()}s`;
    const namespaced = known?.namespaced ?? true;
    const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    if (namespaced && !namespace) throw new Error(`${kind} ${name ?? ""} needs a namespace`);
    const ns = namespaced ? `/namespaces/${encodeURIComponent(namespace!)}` : "";
    return `${base}${ns}/${plural}${name === undefined ? "" : `/${encodeURIComponent(name)}`}`;
}

/** Server-side apply of one object (force: this field manager owns what it sets). Returns the object as stored. */
export async function apply(cluster: Cluster, obj: KObject): Promise<KObject> {
    const p = pathOf(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
    try {
        return (await request(cluster, "PATCH", `${p}?fieldManager=${FIELD_MANAGER}&force=true`, obj, "application/apply-patch+yaml")) as KObject;
    } catch (error) {
        if (error instanceof ApiError) throw new ApiError(`${obj.kind} ${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ""}${obj.metadata.name}: ${error.message}`, error.code, error.reason);
        throw error;
    }
}

export function get(cluster: Cluster, apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<KObject> {
    return request(cluster, "GET", pathOf(apiVersion, kind, namespace, name)) as Promise<KObject>;
}

/** GET that answers undefined for a 404. */
export async function find(cluster: Cluster, apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<KObject | undefined> {
    try {
        return await get(cluster, apiVersion, kind, namespace, name);
    } catch (error) {
        if (error instanceof ApiError && error.code === 404) return undefined;
        throw error;
    }
}

export async function list(cluster: Cluster, apiVersion: string, kind: string, namespace?: string, query = ""): Promise<KObject[]> {
    const known = RESOURCES[kind];
    const namespaced = known?.namespaced ?? true;
    const p = namespaced && namespace === undefined ? pathOf(apiVersion, kind, "x").replace("/namespaces/x", "") : pathOf(apiVersion, kind, namespace);
    const answer = (await request(cluster, "GET", `${p}${query ? `?${query}` : ""}`)) as { items: Omit<KObject, "apiVersion" | "kind">[] };
    return answer.items.map((item) => ({ apiVersion, kind, ...item }) as KObject);
}

export async function remove(cluster: Cluster, apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<void> {
    try {
        await request(cluster, "DELETE", pathOf(apiVersion, kind, namespace, name));
    } catch (error) {
        if (!(error instanceof ApiError && error.code === 404)) throw error;
    }
}
