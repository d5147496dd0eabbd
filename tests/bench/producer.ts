/**
 * The producer against Kafka's own: the app at full speed (backfill, PRODUCER_RATE=0) in each set-up
 * worth knowing (codec, batch size), another maintained Node client on the same events, and the
 * producer's own loop with no client at all, all in one run on one broker and one topic layout.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as path from "node:path";
import { topicsSchema } from "../../components/kafka/config";
import { viewingEvents } from "../../pipeline/events";
import type { Compression } from "../../pipeline/producer/compression";
import { parseProducerConfig } from "../../pipeline/producer/config";
import { pace, ratePacer, systemClock } from "../../pipeline/producer/pacing";
import { toMessage } from "../../pipeline/producer/generator-thread";
import type { EngineHandle } from "../engines/types";
import { startApp } from "../integration/pipeline-apps";
import { createTopics, deleteTopics } from "./common";

/** The deployed raw topic's partitions: every producer here writes to a topic of that layout. */
export const rawPartitions = topicsSchema.parse({}).raw.partitions;

/** A backfill from a fixed past, so every run sends the same events. */
const BACKFILL_START = "2026-01-01T00:00:00Z";

/** The producer's defaults (users, seed, codec), read from its own config parser, not restated here. */
export const producerDefaults = parseProducerConfig({ KAFKA_BOOTSTRAP_SERVERS: "bench:9092" });

/** Mean JSON size of an event, so Kafka's reference sends records of the same size. */
export function meanEventBytes(): number {
    const stream = viewingEvents({ seed: producerDefaults.GENERATOR_SEED, users: producerDefaults.GENERATOR_USERS, startTime: Date.parse(BACKFILL_START) });
    let bytes = 0;
    const n = 10_000;
    for (let i = 0; i < n; i++) {
        const m = toMessage(stream.next().value);
        bytes += Buffer.byteLength(m.key) + Buffer.byteLength(m.value);
    }
    return Math.round(bytes / n);
}

export interface ProducerSetup {
    client: "kafkajs (the app)" | "@platformatic/kafka";
    compression: Compression;
    batch: number;
    /** Producers sending at once, each its own process with its own seed (the app: one event loop per process). */
    instances?: number;
    /** Messages built before the clock starts (alt-producer.ts, also for kafkajs): the client's own ceiling. */
    prebuilt?: boolean;
}

export const setupLabel = (s: ProducerSetup) =>
    `${s.prebuilt && s.client === "kafkajs (the app)" ? "kafkajs" : s.client} ${s.compression} x${s.batch}${s.instances ? ` in ${s.instances} processes` : ""}${s.prebuilt ? ", messages built beforehand" : ""}`;

/** Events/s of one set-up, into a fresh topic of the raw topic's layout. */
export async function producerThroughput(kafka: EngineHandle, setup: ProducerSetup, events: number): Promise<number> {
    const topic = `bench-producer-${randomUUID().slice(0, 8)}`;
    await createTopics(kafka, [[topic, rawPartitions]]);
    try {
        return setup.client === "kafkajs (the app)" && !setup.prebuilt ? await appThroughput(kafka, topic, setup, events) : await alternativeThroughput(kafka, topic, setup, events);
    } finally {
        await deleteTopics(kafka, [topic]);
    }
}

/** Events/s from the first app's start of sending (connected) to the last one's end. */
async function appThroughput(kafka: EngineHandle, topic: string, setup: ProducerSetup, events: number): Promise<number> {
    const instances = setup.instances ?? 1;
    const apps = Array.from({ length: instances }, (_, i) => startApp("producer", {
        KAFKA_BOOTSTRAP_SERVERS: kafka.endpoints.bootstrap!, TOPIC: topic, PRODUCER_RATE: "0", PRODUCER_MAX_EVENTS: String(Math.ceil(events / instances)),
        BATCH_MAX_EVENTS: String(setup.batch), PRODUCER_COMPRESSION: setup.compression, GENERATOR_SEED: String(producerDefaults.GENERATOR_SEED + i),
        GENERATOR_MODE: "backfill", GENERATOR_START_TIME: BACKFILL_START,
    }));
    for (const app of apps) if ((await app.exited) !== 0) throw new Error(app.output());
    const at = (msg: string) => apps.map((app) => Date.parse(String(app.logs.find((l) => l.msg === msg)!.ts)));
    const sent = apps.reduce((n, app) => n + Number(app.logs.find((l) => l.msg === "stopped")!.sent), 0);
    return Math.round(sent / ((Math.max(...at("stopped")) - Math.min(...at("producing"))) / 1000));
}

/** alt-producer.ts in its own process, like the app: same events, keys, batches, acks=all, idempotent. */
function alternativeThroughput(kafka: EngineHandle, topic: string, setup: ProducerSetup, events: number): Promise<number> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["--require", "tsx/cjs", path.join(__dirname, "alt-producer.ts")], {
            env: {
                ...process.env, BOOTSTRAP: kafka.endpoints.bootstrap!, TOPIC: topic, EVENTS: String(events), BATCH: String(setup.batch),
                COMPRESSION: setup.compression, START_TIME: BACKFILL_START, CLIENT: setup.client === "@platformatic/kafka" ? "platformatic" : "kafkajs",
                PREBUILT: setup.prebuilt ? "1" : "0",
            },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        child.stdout.on("data", (c: Buffer) => { out += c; });
        child.stderr.on("data", (c: Buffer) => { out += c; });
        child.on("exit", (code) => {
            const m = /"eventsPerSec":(\d+)/.exec(out);
            if (code === 0 && m) resolve(Number(m[1]));
            else reject(new Error(`alt-producer (${setup.client}) exited ${code}:\n${out.slice(-3000)}`));
        });
    });
}

/**
 * The producer's own loop (the backfill pacer, batches, JSON) with a send that only serializes:
 * how fast events come out of the app when the client costs nothing. The client's share of the
 * app's time is what is left.
 */
export async function generatorThroughput(events: number, batch: number): Promise<number> {
    const run = async (n: number) => {
        const stream = viewingEvents({ seed: producerDefaults.GENERATOR_SEED, users: producerDefaults.GENERATOR_USERS, startTime: Date.parse(BACKFILL_START) });
        let bytes = 0;
        const t0 = performance.now();
        const sent = await pace({
            pacer: ratePacer(stream, 0, Date.now()), clock: systemClock, batchMax: batch, max: n, lingerMs: 0, stopped: () => false,
            send: async (b) => { for (const m of b.map(toMessage)) bytes += m.value.length; },
        });
        if (bytes === 0) throw new Error("nothing serialized");
        return sent / ((performance.now() - t0) / 1000);
    };
    await run(Math.min(events, 20_000)); // warm the JIT, as the app is by the time it measures
    return run(events);
}
