/**
 * JVM heap for a container memory limit. The rest of the limit is metaspace, thread stacks,
 * direct buffers and the JIT; 60% heap is the usual safe share at these small sizes.
 */
export function heapMiB(limitMiB: number, share = 0.6): number {
    return Math.floor((limitMiB * share) / 16) * 16;
}

/** `-Xms -Xmx` for a container limit: fixed-size heap, so the limit is never hit by heap growth. */
export function heapOpts(limitMiB: number, share?: number): string {
    const heap = heapMiB(limitMiB, share);
    return `-Xms${heap}m -Xmx${heap}m`;
}
