/**
 * The physical reference for everything the project sends to Kafka: Kafka's own
 * ProducerPerformance tool (kafka-producer-perf-test), from the same jars as the broker, on
 * this machine. The project's producers are judged as a fraction of these figures.
 */
import { Kafka, logLevel } from "kafkajs";
import { javaBin, run } from "../engines/lib";
import type { EngineHandle } from "../engines/types";

export interface ProducerReference {
    records: number;
    recordSize: number;
    acks: string;
    recordsPerSec: number;
    mbPerSec: number;
    avgLatencyMs: number;
    maxLatencyMs: number;
    p50Ms: number;
    p95Ms: number;
    p99Ms: number;
}

export interface ProducerReferenceOptions {
    records?: number;
    recordSize?: number;
    acks?: string;
    partitions?: number;
}

/** The tool's closing line, e.g. "500000 records sent, 181818.2 records/sec (34.68 MB/sec), 12.3 ms avg latency, ..." */
const SUMMARY = /^(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th/m;

export async function kafkaProducerReference(kafka: EngineHandle, options: ProducerReferenceOptions = {}): Promise<ProducerReference> {
    const { records = 500_000, recordSize = 200, acks = "all", partitions = 1 } = options;
    const bootstrap = kafka.endpoints.bootstrap!;
    const topic = `perf-reference-${Date.now()}`;

    const admin = new Kafka({ clientId: "bench", brokers: [bootstrap], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();

    const output = await run(javaBin(), [
        "-Xmx512m", "-cp", kafka.details.classpath!, "org.apache.kafka.tools.ProducerPerformance",
        "--topic", topic, "--num-records", String(records), "--record-size", String(recordSize),
        "--throughput", "-1", "--producer-props", `bootstrap.servers=${bootstrap}`, `acks=${acks}`,
    ]);
    const m = SUMMARY.exec(output);
    if (!m) throw new Error(`no summary line in ProducerPerformance output:\n${output.slice(-2000)}`);
    const n = (i: number) => Number(m[i]);
    return {
        records: n(1), recordSize, acks,
        recordsPerSec: n(2), mbPerSec: n(3), avgLatencyMs: n(4), maxLatencyMs: n(5),
        p50Ms: n(6), p95Ms: n(7), p99Ms: n(8),
    };
}
