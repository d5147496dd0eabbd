import type { Reach } from "../platform/types";

/**
 * Runs `fn` with one local `host:port` per reach, in the same order, and closes whatever it opened
 * when `fn` settles. A reach without `via` (Docker) is handed over unchanged.
 *
 * Dynamic providers are serialized closures: require this module inside provider methods.
 */
export async function withReach<T>(reaches: Reach[], fn: (addresses: string[]) => Promise<T>): Promise<T> {
    if (reaches.every((r) => r.via === undefined)) return fn(reaches.map((r) => r.address));
    throw new Error(`tunnels through the Kubernetes API are not built yet (to ${reaches.map((r) => r.address).join(", ")})`);
}
