/**
 * A Kafka client sending what the app sends, outside the app: the same generated events, keyed by
 * user with the Java client's partitioner, in batches of BATCH, acks=all, idempotent, one batch at
 * a time. CLIENT is @platformatic/kafka (pure JS), or kafkajs set up as the app sets it up.
 * PREBUILT=1 builds every message before the clock starts: then the figure is the client's own
 * ceiling, with no generator in the way. Run as its own process by producer.ts; prints
 * {"eventsPerSec": n}.
 */
// The app's kafkajs: with the linear grouping installed before kafkajs loads, as pipeline/main.ts does.
import "../../pipeline/shared/kafkajs-grouping";
import { compatibilityPartitioner, Producer, ProduceAcks, stringSerializers } from "@platformatic/kafka";
import { Kafka, logLevel } from "kafkajs";
import { viewingEvents } from "../../pipeline/events";
import { sendAcknowledged, trackingPartitioner } from "../../pipeline/producer/acknowledged";
import { kafkaCompression, type Compression } from "../../pipeline/producer/compression";
import { toMessage } from "../../pipeline/producer/generator-thread";
import { producerDefaults } from "./producer";

type Message = { key: string; value: string };

interface Client {
    send(messages: Message[]): Promise<void>;
    close(): Promise<void>;
}

async function kafkajs(bootstrap: string, topic: string, compression: Compression): Promise<Client> {
    const partitioner = trackingPartitioner();
    const producer = new Kafka({ clientId: "bench-alt", brokers: [bootstrap], logLevel: logLevel.NOTHING })
        .producer({ createPartitioner: partitioner.createPartitioner, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    const codec = kafkaCompression(compression);
    return {
        send: (messages) => sendAcknowledged((m) => producer.send({ topic, acks: -1, compression: codec, messages: m }), partitioner, topic, messages),
        close: () => producer.disconnect(),
    };
}

async function platformatic(bootstrap: string, topic: string, compression: Compression): Promise<Client> {
    const producer = new Producer({
        clientId: "bench-alt", bootstrapBrokers: [bootstrap], serializers: stringSerializers,
        idempotent: true, acks: ProduceAcks.ALL, compression, partitioner: compatibilityPartitioner, autocreateTopics: false,
    });
    // Connected, with the topic's metadata, before the clock starts, as the app is.
    await producer.send({ messages: [] }).catch(() => undefined);
    return {
        send: async (messages) => { await producer.send({ messages: messages.map((m) => ({ topic, ...m })) }); },
        close: () => producer.close(),
    };
}

async function main(): Promise<void> {
    const env = (name: string) => process.env[name] ?? (() => { throw new Error(`${name} is not set`); })();
    const topic = env("TOPIC");
    const events = Number(env("EVENTS"));
    const batch = Number(env("BATCH"));
    const compression = env("COMPRESSION") as Compression;
    const client = await (env("CLIENT") === "kafkajs" ? kafkajs : platformatic)(env("BOOTSTRAP"), topic, compression);
    const stream = viewingEvents({ seed: producerDefaults.GENERATOR_SEED, users: producerDefaults.GENERATOR_USERS, startTime: Date.parse(env("START_TIME")) });
    const build = (n: number) => Array.from({ length: n }, () => toMessage(stream.next().value));
    const prebuilt = process.env.PREBUILT === "1" ? build(events) : undefined;
    const t0 = performance.now();
    for (let sent = 0; sent < events; sent += batch) {
        const n = Math.min(batch, events - sent);
        await client.send(prebuilt ? prebuilt.slice(sent, sent + n) : build(n));
    }
    const seconds = (performance.now() - t0) / 1000;
    await client.close();
    console.log(JSON.stringify({ eventsPerSec: Math.round(events / seconds) }));
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
