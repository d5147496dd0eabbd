/**
 * The event producer: simulated viewing sessions to the raw topic at a configured rate.
 *
 * - Keyed by user_id: one user's events land on one partition, in order (Flink and any consumer
 *   see each user's session in sequence).
 * - Idempotent (acks=all, one request in flight): a retried batch after a broker restart or a
 *   lost response is not written twice, and order survives the retry.
 * - Batched and compressed, zstd by default (compression.ts: Node's own zstd through a kafkajs
 *   codec): viewing events are repetitive JSON, which it shrinks about 5x for little CPU.
 * - Stops cleanly: on SIGTERM the loop ends after the batch in flight is acknowledged.
 */
import { Kafka, type Producer } from "kafkajs";
import { viewingEventJsonSchema } from "../events";
import { linearGroupingInstalled } from "../shared/kafkajs-grouping";
import { kafkaLogCreator, kafkaLogLevel, type Logger } from "../shared/log";
import type { ProducerConfig } from "./config";
import { sendAcknowledged, trackingPartitioner } from "./acknowledged";
import { kafkaCompression } from "./compression";
import { generatorThread } from "./generator-thread";
import { livePacer, pace, ratePacer, systemClock, type Clock } from "./pacing";
import { registerSchema } from "./registry";

/** Mean simulated seconds between two events of one session (heartbeats every 30 s, pauses): sizes concurrency to the rate. */
const MEAN_EVENT_GAP_SECONDS = 27;

export interface ProducerStatus {
    healthy: boolean;
    connected: boolean;
    sent: number;
    lastEventTime?: number;
    /** Wall clock minus event time of the last event sent, at its send (ms). Live mode keeps it small and never negative. */
    lastLagMs?: number;
}

export class ViewingProducer {
    readonly status: ProducerStatus = { healthy: false, connected: false, sent: 0 };
    private stopping = false;
    private readonly producer: Producer;
    private readonly partitioner = trackingPartitioner();

    constructor(private readonly config: ProducerConfig, private readonly log: Logger, private readonly clock: Clock = systemClock) {
        const kafka = new Kafka({
            clientId: config.KAFKA_CLIENT_ID,
            brokers: config.KAFKA_BOOTSTRAP_SERVERS,
            logCreator: kafkaLogCreator(log),
            logLevel: kafkaLogLevel(config.LOG_LEVEL === "debug" ? "info" : "warn"),
            // Outlast a broker restart (about 10-30 s) before a send is given up as fatal.
            retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 20 },
        });
        // DefaultPartitioner (murmur2 on the key, as in the Java client), tracked so sends can check every partition answered.
        this.producer = kafka.producer({ createPartitioner: this.partitioner.createPartitioner, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
        this.producer.on(this.producer.events.DISCONNECT, () => { this.status.connected = false; });
        this.producer.on(this.producer.events.CONNECT, () => { this.status.connected = true; });
    }

    /** Asks the loop to finish the batch in flight and return. */
    stop(): void {
        this.stopping = true;
    }

    /** Runs until PRODUCER_MAX_EVENTS are sent or stop() is called; throws on a fatal error. */
    async run(): Promise<{ sent: number; seconds: number }> {
        const c = this.config;
        if (c.SCHEMA_REGISTRY_URL) {
            const registered = await registerSchema(c.SCHEMA_REGISTRY_URL, c.TOPIC, viewingEventJsonSchema);
            this.log.info("schema registered", { ...registered, registry: c.SCHEMA_REGISTRY_URL });
        }
        await this.producer.connect();
        this.status.connected = true;
        this.status.healthy = true;

        const live = c.GENERATOR_MODE === "live";
        const t0 = this.clock.now();
        // Live: the simulation starts now. Backfill: at the configured past (the config requires it).
        const startTime = live ? t0 : c.GENERATOR_START_TIME!;
        const concurrency = c.GENERATOR_CONCURRENCY ?? (c.PRODUCER_RATE === 0 ? undefined : Math.ceil(c.PRODUCER_RATE * MEAN_EVENT_GAP_SECONDS));
        // Chunks of a batch: the thread keeps a few batches ready, whatever the rate.
        const events = generatorThread({ seed: c.GENERATOR_SEED, users: c.GENERATOR_USERS, concurrency, startTime, chunkEvents: c.BATCH_MAX_EVENTS });
        const max = c.PRODUCER_MAX_EVENTS === 0 ? Infinity : c.PRODUCER_MAX_EVENTS;
        const compression = kafkaCompression(c.PRODUCER_COMPRESSION);
        this.log.info("producing", { topic: c.TOPIC, mode: c.GENERATOR_MODE, compression: c.PRODUCER_COMPRESSION, rate: c.PRODUCER_RATE, concurrency, maxEvents: c.PRODUCER_MAX_EVENTS, seed: c.GENERATOR_SEED, startTime: new Date(startTime).toISOString(), linearGrouping: linearGroupingInstalled() });

        let lastLog = t0;
        try {
            await pace({
                pacer: live ? livePacer(events) : ratePacer(events, c.PRODUCER_RATE, t0),
                clock: this.clock,
                batchMax: c.BATCH_MAX_EVENTS,
                max,
                // Full speed has no gaps to fill: lingering would only slow it down.
                lingerMs: live || c.PRODUCER_RATE > 0 ? c.BATCH_LINGER_MS : 0,
                stopped: () => this.stopping,
                send: async (batch) => {
                    await sendAcknowledged(
                        (messages) => this.producer.send({ topic: c.TOPIC, acks: -1, compression, messages }),
                        this.partitioner, c.TOPIC, batch,
                        (partitions, count) => this.log.warn("send resolved without some partitions' answers: sending them again (kafkajs#1303)", { partitions, count }),
                    );
                    const now = this.clock.now();
                    this.status.sent += batch.length;
                    this.status.lastEventTime = batch[batch.length - 1]!.event_time;
                    this.status.lastLagMs = now - this.status.lastEventTime;
                    if (now - lastLog >= 10_000) {
                        lastLog = now;
                        this.log.info("progress", { sent: this.status.sent, eventsPerSec: Math.round(this.status.sent / ((now - t0) / 1000)), lagMs: this.status.lastLagMs });
                    }
                },
            });
        } catch (error) {
            this.status.healthy = false;
            throw error;
        } finally {
            await events.close();
            // Idempotent sends are acknowledged one at a time, so nothing is buffered: disconnect is the flush.
            await this.producer.disconnect().catch(() => undefined);
            this.status.connected = false;
        }
        const seconds = (this.clock.now() - t0) / 1000;
        return { sent: this.status.sent, seconds };
    }
}
