/**
 * npm run bench: the project's benchmarks against real engines (those of `engines:up` or
 * ENGINES_STATE when running, otherwise its own, stopped afterwards): Kafka's own producer as the
 * reference, the pipeline producer as a ratio to it, the archiving consumer, and end-to-end latency.
 */
import * as os from "node:os";
import { withEngines } from "../engines/harness";
import { kafkaProducerReference } from "./kafka-reference";
import { consumerThroughput, endToEndLatency, meanEventBytes, producerThroughput } from "./pipeline";

async function main(): Promise<void> {
    await withEngines(["kafka", "s3", "iceberg", "flink"], async (running) => {
        // Figures from a busy machine are not comparable: say how busy it was.
        const loadBefore = os.loadavg()[0]!;
        const recordSize = meanEventBytes();
        const ref = await kafkaProducerReference(running.kafka!, { recordSize });
        console.log(`kafka reference (ProducerPerformance, ${ref.records} x ${ref.recordSize} B, acks=${ref.acks}): ` +
            `${ref.recordsPerSec.toFixed(0)} records/s, ${ref.mbPerSec.toFixed(2)} MB/s, ` +
            `latency avg ${ref.avgLatencyMs} ms, p99 ${ref.p99Ms} ms, max ${ref.maxLatencyMs} ms`);
        const producer = await producerThroughput(running.kafka!);
        console.log(`pipeline producer (kafkajs, idempotent, gzip, keyed): ${producer} events/s = ${(producer / ref.recordsPerSec).toFixed(3)} x the reference`);
        const consumer = await consumerThroughput(running.kafka!, running.s3!);
        console.log(`archiving consumer (batches of 5000 to S3): ${consumer.toFixed(0)} rows/s`);
        const latency = await endToEndLatency(running);
        console.log(`end-to-end (window end -> aggregate readable, read_committed; watermark delay ${latency.watermarkDelaySeconds} s, ` +
            `checkpoint ${latency.checkpointSeconds} s, ${latency.rows} rows): p50 ${latency.p50.toFixed(1)} s, p99 ${latency.p99.toFixed(1)} s`);
        console.log(`load average (1 min) before ${loadBefore.toFixed(2)}, after ${os.loadavg()[0]!.toFixed(2)}, ${os.cpus().length} cores`);
        console.log(JSON.stringify({ kafkaProducerReference: ref, producerEventsPerSec: producer, producerRatio: producer / ref.recordsPerSec,
            consumerRowsPerSec: consumer, endToEndLatencySeconds: latency }));
    });
}

main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
});
