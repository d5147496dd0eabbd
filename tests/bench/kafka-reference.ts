/**
 * The physical references for what the project sends to and reads from Kafka: Kafka's own
 * ProducerPerformance and ConsumerPerformance tools (kafka-producer-perf-test,
 * kafka-consumer-perf-test), from the same jars as the broker, on this machine. The project's
 * producer and archiver are judged as fractions of these figures.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createTopics } from "./common";
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

    await createTopics(kafka, [[topic, partitions]]);
    const output = await run(javaBin(), [
        "-Xmx512m", "-cp", kafka.details.classpath!, "org.apache.kafka.tools.ProducerPerformance",
        "--topic", topic, "--num-records", String(records), "--record-size", String(recordSize),
        // Idempotent like the pipeline producer (Java's default with acks=all, said so it cannot change under us).
        "--throughput", "-1", "--producer-props", `bootstrap.servers=${bootstrap}`, `acks=${acks}`, "enable.idempotence=true",
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

export interface ConsumerReference {
    messages: number;
    seconds: number;
    recordsPerSec: number;
    mbPerSec: number;
}

/**
 * Kafka's ConsumerPerformance reading `messages` records of `topic` from the start, as a fresh
 * group, read_committed like the archiver. Its CSV line: start.time, end.time, data.consumed.in.MB,
 * MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec.
 * The fetch.* figures leave out the group join, which the archiver's own figure leaves out too.
 */
export async function kafkaConsumerReference(kafka: EngineHandle, topic: string, messages: number, workDir: string): Promise<ConsumerReference> {
    const config = path.join(workDir, `consumer-perf-${Date.now()}.properties`);
    fs.mkdirSync(workDir, { recursive: true });
    fs.writeFileSync(config, "isolation.level=read_committed\nauto.offset.reset=earliest\n");
    const output = await run(javaBin(), [
        "-Xmx512m", "-cp", kafka.details.classpath!, "org.apache.kafka.tools.ConsumerPerformance",
        "--bootstrap-server", kafka.endpoints.bootstrap!, "--topic", topic, "--messages", String(messages),
        "--group", `perf-reference-${Date.now()}`, "--consumer.config", config, "--hide-header", "--timeout", "60000",
    ]);
    fs.rmSync(config, { force: true });
    const line = output.trim().split("\n").reverse().find((l) => l.split(",").length >= 10);
    if (!line) throw new Error(`no result line in ConsumerPerformance output:\n${output.slice(-2000)}`);
    const f = line.split(",").map((x) => x.trim());
    const consumed = Number(f[4]);
    const fetchMs = Number(f[7]);
    if (consumed < messages) throw new Error(`ConsumerPerformance read ${consumed} of ${messages} records:\n${output.slice(-2000)}`);
    return { messages: consumed, seconds: fetchMs / 1000, recordsPerSec: Number(f[9]), mbPerSec: Number(f[8]) };
}
