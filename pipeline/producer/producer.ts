/**
 * The event producer: simulated viewing sessions to the raw topic at a configured rate.
 *
 * - Keyed by user_id: one user's events land on one partition, in order (Flink and any consumer
 *   see each user's session in sequence).
 * - Idempotent (acks=all, one request in flight): a retried batch after a broker restart or a
 *   lost response is not written twice, and order survives the retry.
 * - Batched and gzip-compressed: gzip is built into kafkajs; zstd/lz4/snappy need extra npm
 *   packages (zstd and lz4 native ones), which the slim image would have to compile. Viewing
 *   events are repetitive JSON, which gzip shrinks about 5x; the CPU it costs is what the
 *   benchmark's ratio to Kafka's own producer shows.
 * - Stops cleanly: on SIGTERM the loop ends after the batch in flight is acknowledged.
 */
import { CompressionTypes, Kafka, type Producer } from "kafkajs";
import { viewingEventJsonSchema, viewingEvents, type ViewingEvent } from "../events";
import { kafkaLogCreator, kafkaLogLevel, type Logger } from "../shared/log";
import { sleep } from "../shared/sleep";
import type { ProducerConfig } from "./config";
import { sendAcknowledged, trackingPartitioner } from "./acknowledged";
import { registerSchema } from "./registry";

/** Mean simulated seconds between two events of one session (heartbeats every 30 s, pauses): sizes concurrency to the rate. */
const MEAN_EVENT_GAP_SECONDS = 27;

export interface ProducerStatus {
    healthy: boolean;
    connected: boolean;
    sent: number;
    lastEventTime?: number;
}

/**
 * No record timestamp: Kafka stamps the send time. Stamping the event time instead would let
 * time-based retention delete a backfill of old events (older than retention.ms) as it arrives.
 */
export function toMessage(event: ViewingEvent): { key: string; value: string } {
    return { key: event.user_id, value: JSON.stringify(event) };
}

/** How many events may go out now: the rate's budget since start, capped by batch size and what is left. */
export function eventsDue(options: { rate: number; elapsedMs: number; sent: number; batchMax: number; remaining: number }): number {
    const budget = options.rate === 0 ? Infinity : Math.floor((options.elapsedMs * options.rate) / 1000) - options.sent;
    return Math.max(0, Math.min(budget, options.batchMax, options.remaining));
}

export class ViewingProducer {
    readonly status: ProducerStatus = { healthy: false, connected: false, sent: 0 };
    private stopping = false;
    private readonly producer: Producer;
    private readonly partitioner = trackingPartitioner();

    constructor(private readonly config: ProducerConfig, private readonly log: Logger) {
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

        const startTime = c.GENERATOR_START_TIME ?? Date.now();
        const concurrency = c.GENERATOR_CONCURRENCY ?? (c.PRODUCER_RATE === 0 ? undefined : Math.ceil(c.PRODUCER_RATE * MEAN_EVENT_GAP_SECONDS));
        const stream = viewingEvents({ seed: c.GENERATOR_SEED, users: c.GENERATOR_USERS, concurrency, startTime });
        const max = c.PRODUCER_MAX_EVENTS === 0 ? Infinity : c.PRODUCER_MAX_EVENTS;
        this.log.info("producing", { topic: c.TOPIC, rate: c.PRODUCER_RATE, maxEvents: c.PRODUCER_MAX_EVENTS, seed: c.GENERATOR_SEED, startTime: new Date(startTime).toISOString() });

        const t0 = Date.now();
        let lastLog = t0;
        try {
            while (!this.stopping && this.status.sent < max) {
                // Linger first: a batch that waits a little for company costs one request instead of many.
                if (c.BATCH_LINGER_MS > 0 && c.PRODUCER_RATE > 0) await sleep(c.BATCH_LINGER_MS);
                const due = eventsDue({ rate: c.PRODUCER_RATE, elapsedMs: Date.now() - t0, sent: this.status.sent, batchMax: c.BATCH_MAX_EVENTS, remaining: max - this.status.sent });
                if (due === 0) {
                    await sleep(Math.max(1, Math.ceil(1000 / c.PRODUCER_RATE)));
                    continue;
                }
                const batch = Array.from({ length: due }, () => stream.next().value);
                await sendAcknowledged(
                    (messages) => this.producer.send({ topic: c.TOPIC, acks: -1, compression: CompressionTypes.GZIP, messages }),
                    this.partitioner, c.TOPIC, batch.map(toMessage),
                    (partitions, count) => this.log.warn("send resolved without some partitions' answers: sending them again (kafkajs#1303)", { partitions, count }),
                );
                this.status.sent += batch.length;
                this.status.lastEventTime = batch[batch.length - 1]!.event_time;
                if (Date.now() - lastLog >= 10_000) {
                    lastLog = Date.now();
                    this.log.info("progress", { sent: this.status.sent, eventsPerSec: Math.round(this.status.sent / ((lastLog - t0) / 1000)) });
                }
            }
        } catch (error) {
            this.status.healthy = false;
            throw error;
        } finally {
            // Idempotent sends are acknowledged one at a time, so nothing is buffered: disconnect is the flush.
            await this.producer.disconnect().catch(() => undefined);
            this.status.connected = false;
        }
        const seconds = (Date.now() - t0) / 1000;
        return { sent: this.status.sent, seconds };
    }
}
