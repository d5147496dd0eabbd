/**
 * The event generator and the messages' JSON, in a worker thread of their own. At full speed the
 * app's one event loop spent about a third of its time generating and serializing and the rest in
 * kafkajs; on a thread of its own the generator makes the next events while the main thread
 * sends, so the two costs overlap instead of adding up (`npm run bench` shows both figures).
 *
 * The worker sends chunks of ready messages, at most CHUNKS_AHEAD ahead of what was sent, so
 * memory stays bounded however far a backlog grows. Each chunk travels as three values (times,
 * and the keys and values joined by newlines, which JSON and user ids never contain): one copy
 * each, instead of one clone per message.
 *
 * In the image the apps are bundled: this file is also bundled as its own entry,
 * generator-thread.js beside main.js (pipeline/build.sh), since a worker needs a file to run.
 */
import * as path from "node:path";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { viewingEvents, type GeneratorOptions, type ViewingEvent } from "../events";
import type { EventQueue } from "./pacing";

/**
 * An event as it goes to Kafka: its time (for pacing and lag), key and JSON value, and the key's
 * murmur2 hash (the Java client's partitioning hash, see acknowledged.ts), made here too: kafkajs
 * computes it with 64-bit emulation, a sixth of the sending thread's time.
 */
export interface OutgoingEvent { event_time: number; key: string; value: string; keyHash: number }

/** Kafka's murmur2 (Utils.murmur2) over the key's UTF-8 bytes, in 32-bit integer arithmetic. */
export function murmur2(key: string): number {
    const data = Buffer.from(key, "utf8");
    const m = 0x5bd1e995;
    const length = data.length;
    let h = 0x9747b28c ^ length;
    const whole = length & ~3;
    for (let i = 0; i < whole; i += 4) {
        let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
        k = Math.imul(k, m);
        k ^= k >>> 24;
        k = Math.imul(k, m);
        h = Math.imul(h, m) ^ k;
    }
    // The tail bytes, as the Java switch's fall-through takes them.
    const tail = length & 3;
    if (tail >= 3) h ^= data[whole + 2]! << 16;
    if (tail >= 2) h ^= data[whole + 1]! << 8;
    if (tail >= 1) h = Math.imul(h ^ data[whole]!, m);
    h ^= h >>> 13;
    h = Math.imul(h, m);
    h ^= h >>> 15;
    return h | 0;
}

/**
 * No record timestamp: Kafka stamps the send time. Stamping the event time instead would let
 * time-based retention delete a backfill of old events (older than retention.ms) as it arrives.
 */
export function toMessage(event: ViewingEvent): { key: string; value: string } {
    return { key: event.user_id, value: JSON.stringify(event) };
}

interface Chunk { times: Float64Array; hashes: Int32Array; keys: string; values: string }

/** Chunks made but not yet sent on, besides the one being sent: the overlap, and the bound on memory. */
const CHUNKS_AHEAD = 2;
const WORKER_KIND = "viewing-generator";

export interface GeneratorThread extends EventQueue<OutgoingEvent> {
    close(): Promise<void>;
}

/** Starts the worker; events come out in the order the in-process generator makes them. */
export function generatorThread(options: GeneratorOptions & { chunkEvents: number }): GeneratorThread {
    // From source (tsx: tests, development) the worker loads this .ts file through tsx too.
    const fromSource = __filename.endsWith(".ts");
    const worker = new Worker(fromSource ? __filename : path.join(__dirname, "generator-thread.js"), {
        workerData: { kind: WORKER_KIND, options },
        execArgv: fromSource ? ["--require", "tsx/cjs"] : undefined,
    });
    // Chunks arrived and not used up, the position in the first, and how many were asked for.
    const chunks: Array<{ times: Float64Array; hashes: Int32Array; keys: string[]; values: string[] }> = [];
    let index = 0;
    let asked = 0;
    let failure: Error | undefined;
    let waiting: { resolve: () => void; reject: (e: Error) => void } | undefined;
    const ask = () => {
        while (chunks.length + asked < CHUNKS_AHEAD + 1) {
            asked += 1;
            worker.postMessage("more");
        }
    };
    const fail = (error: Error) => {
        failure ??= error;
        waiting?.reject(failure);
        waiting = undefined;
    };
    worker.on("message", (chunk: Chunk) => {
        asked -= 1;
        chunks.push({ times: chunk.times, hashes: chunk.hashes, keys: chunk.keys.split("\n"), values: chunk.values.split("\n") });
        waiting?.resolve();
        waiting = undefined;
    });
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`the generator thread exited (code ${code})`)));
    ask();
    return {
        peek() {
            const chunk = chunks[0];
            return chunk && eventAt(chunk, index);
        },
        shift() {
            const chunk = chunks[0];
            if (!chunk) throw new Error("shift() on an empty generator queue: wait for ready()");
            const event = eventAt(chunk, index);
            if (++index === chunk.times.length) {
                chunks.shift();
                index = 0;
                ask();
            }
            return event;
        },
        ready() {
            if (chunks.length > 0) return Promise.resolve();
            if (failure) return Promise.reject(failure);
            return new Promise((resolve, reject) => { waiting = { resolve, reject }; });
        },
        async close() {
            worker.removeAllListeners("exit");
            await worker.terminate();
        },
    };
}

function eventAt(chunk: { times: Float64Array; hashes: Int32Array; keys: string[]; values: string[] }, i: number): OutgoingEvent {
    return { event_time: chunk.times[i]!, key: chunk.keys[i]!, value: chunk.values[i]!, keyHash: chunk.hashes[i]! };
}

/** The worker's side: one chunk of the stream per request. */
function serveChunks(options: GeneratorOptions & { chunkEvents: number }): void {
    const stream = viewingEvents(options);
    parentPort!.on("message", () => {
        const n = options.chunkEvents;
        const times = new Float64Array(n);
        const hashes = new Int32Array(n);
        const keys: string[] = new Array(n);
        const values: string[] = new Array(n);
        for (let i = 0; i < n; i++) {
            const event = stream.next().value;
            const message = toMessage(event);
            times[i] = event.event_time;
            keys[i] = message.key;
            hashes[i] = murmur2(message.key);
            values[i] = message.value;
        }
        const chunk: Chunk = { times, hashes, keys: keys.join("\n"), values: values.join("\n") };
        parentPort!.postMessage(chunk, [times.buffer, hashes.buffer]);
    });
}

if (!isMainThread && (workerData as { kind?: string } | undefined)?.kind === WORKER_KIND) {
    serveChunks((workerData as { options: GeneratorOptions & { chunkEvents: number } }).options);
}
