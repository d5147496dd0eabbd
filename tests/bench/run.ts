/**
 * npm run bench: the project's benchmarks against real engines (those of `engines:up` or
 * ENGINES_STATE when running, otherwise its own, stopped afterwards). For now: Kafka's reference.
 */
import * as os from "node:os";
import { withEngines } from "../engines/harness";
import { kafkaProducerReference } from "./kafka-reference";

async function main(): Promise<void> {
    await withEngines(["kafka"], async (running) => {
        // Figures from a busy machine are not comparable: say how busy it was.
        const loadBefore = os.loadavg()[0]!;
        const ref = await kafkaProducerReference(running.kafka!);
        console.log(`load average (1 min) before ${loadBefore.toFixed(2)}, after ${os.loadavg()[0]!.toFixed(2)}, ${os.cpus().length} cores`);
        console.log(`kafka reference (ProducerPerformance, ${ref.records} x ${ref.recordSize} B, acks=${ref.acks}): ` +
            `${ref.recordsPerSec.toFixed(0)} records/s, ${ref.mbPerSec.toFixed(2)} MB/s, ` +
            `latency avg ${ref.avgLatencyMs} ms, p99 ${ref.p99Ms} ms, max ${ref.maxLatencyMs} ms`);
        console.log(JSON.stringify({ kafkaProducerReference: ref }));
    });
}

main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
});
