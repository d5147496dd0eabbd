/**
 * A send that returns only once every message is acknowledged by its partition's leader.
 *
 * kafkajs 2.2.4 can resolve a send without writing some of its messages: when one leader fails
 * and its partitions move to a broker that already answered for its own partitions in the same
 * send, the retry skips that broker and keeps its first answer (tulios/kafkajs#1303, fix proposed
 * in #1798, unreleased). The answer then lacks the moved partitions. Found by the workstation
 * quorum test: 3 of 1800 acknowledged messages missing after a broker was killed.
 *
 * So the partitioner records where each message went, and messages whose partition is missing
 * from the answer are sent again. With the idempotent producer a message the broker did get is
 * not written twice: its sequence number is known to the partition's leader.
 */
import { Partitioners, type ICustomPartitioner, type Message, type RecordMetadata } from "kafkajs";

export interface TrackingPartitioner {
    /** For `kafka.producer({ createPartitioner })`: kafkajs' DefaultPartitioner (murmur2 on the key, as the Java client). */
    createPartitioner: ICustomPartitioner;
    /** The partition the partitioner last chose for this message object. */
    partitionOf(message: Message): number | undefined;
}

/** A message whose key's murmur2 hash was computed beforehand (the producer's generator thread does). */
type HashedMessage = Message & { keyHash?: number };

export function trackingPartitioner(): TrackingPartitioner {
    const chosen = new WeakMap<Message, number>();
    return {
        createPartitioner: () => {
            const partition = Partitioners.DefaultPartitioner();
            return (args) => {
                const { keyHash } = args.message as HashedMessage;
                // What the DefaultPartitioner does with a key (toPositive(murmur2(key)) % partitions), from the given hash.
                const p = keyHash !== undefined && args.message.partition === undefined ? (keyHash & 0x7fffffff) % args.partitionMetadata.length : partition(args);
                chosen.set(args.message, p);
                return p;
            };
        },
        partitionOf: (message) => chosen.get(message),
    };
}

/** Sends `messages` to `topic` until every one's partition acknowledged it; at most `rounds` sends. */
export async function sendAcknowledged(
    send: (messages: Message[]) => Promise<RecordMetadata[]>,
    partitioner: TrackingPartitioner,
    topic: string,
    messages: Message[],
    onResend: (partitions: number[], count: number) => void = () => undefined,
    rounds = 5,
): Promise<void> {
    let pending = messages;
    for (let round = 1; round <= rounds; round++) {
        const answers = await send(pending);
        const acknowledged = new Set(answers.filter((a) => a.topicName === topic && a.errorCode === 0).map((a) => a.partition));
        pending = pending.filter((m) => !acknowledged.has(partitioner.partitionOf(m) ?? -1));
        if (pending.length === 0) return;
        onResend([...new Set(pending.map((m) => partitioner.partitionOf(m)))].filter((p): p is number => p !== undefined), pending.length);
    }
    throw new Error(`${pending.length} messages to ${topic} still unacknowledged after ${rounds} sends`);
}
