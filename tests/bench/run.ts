/**
 * npm run bench: the project's benchmarks against real engines (those of ENGINES_STATE, or of
 * `engines:up`, when they all run; otherwise its own, stopped afterwards), each against a bound
 * measured in the same run: the producer against Kafka's ProducerPerformance, the archiver against
 * Kafka's ConsumerPerformance and S3's PutObject, the pipeline's latency against what its query
 * semantics require. Writes .bench/results.json and .bench/latency.svg and prints the table;
 * `npm run bench:readme` puts that table into README.md.
 *
 * For development: BENCH_STEPS=producer,archiver,latency picks steps (the others' figures are
 * left out of the file), BENCH_LATENCY_SECONDS shortens the live run (the file says how long it was).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import { withEngines } from "../engines/harness";
import { archiverBench, type ArchiverFigures } from "./archiver";
import { cdfSvg } from "./chart";
import { LoadTracker, log } from "./common";
import { kafkaProducerReference } from "./kafka-reference";
import { LATENCY_RUN_SECONDS, latencyBench, type LatencyFigures } from "./latency";
import { generatorThroughput, meanEventBytes, producerDefaults, producerThroughput, rawPartitions, setupLabel, type ProducerSetup } from "./producer";
import { latencyChartFile, quantile, resultsFile, textTable, writeResults, type BenchResults, type ProducerVariant } from "./results";

/**
 * Records per run of Kafka's reference and of each producer set-up: the same count, each run long
 * enough (seconds) that start-up and warm-up are a small part of it.
 */
const PRODUCER_EVENTS = 500_000;
/** Rounds of (reference, app) back to back: the machine's other load moves both alike within a round. */
const PRODUCER_ROUNDS = 5;
/** The batch of a full-speed backfill (the deployed 500 is sized for 50 events/s live); the other sizes are variants. */
const PRODUCER_BATCH = 5_000;
const ARCHIVER_ROWS = 200_000;

const steps = new Set((process.env.BENCH_STEPS ?? "producer,archiver,latency").split(",").map((s) => s.trim()));

interface ProducerFigures {
    recordBytes: number;
    referenceEps: number;
    eps: number;
    generatorEps: number;
    /** The median of the rounds' own ratios. */
    ratio: number;
    variants: ProducerVariant[];
}

async function producerStep(kafka: Parameters<typeof producerThroughput>[0]): Promise<ProducerFigures> {
    const recordBytes = meanEventBytes();
    const reference = async () => (await kafkaProducerReference(kafka, { recordSize: recordBytes, partitions: rawPartitions, records: PRODUCER_EVENTS })).recordsPerSec;
    const generatorEps = await generatorThroughput(PRODUCER_EVENTS, PRODUCER_BATCH);
    log(`generator alone ${generatorEps.toFixed(0)} events/s`);
    const deployed: ProducerSetup = { client: "kafkajs (the app)", compression: producerDefaults.PRODUCER_COMPRESSION, batch: PRODUCER_BATCH };
    // A broker that has just started runs its JIT cold: a first reference ran at 0.6x of the third.
    // So one of each first, not counted; then the app against the reference in rounds, each
    // round's ratio a fair one, their median the figure.
    log(`warm-up: reference ${(await reference()).toFixed(0)} records/s, producer ${await producerThroughput(kafka, deployed, PRODUCER_EVENTS)} events/s (not counted)`);
    const rounds: Array<{ referenceEps: number; eps: number }> = [];
    for (let i = 0; i < PRODUCER_ROUNDS; i++) {
        const referenceEps = await reference();
        const eps = await producerThroughput(kafka, deployed, PRODUCER_EVENTS);
        log(`round ${i + 1}: reference ${referenceEps.toFixed(0)} records/s, producer ${eps} events/s = ${(eps / referenceEps).toFixed(2)} x`);
        rounds.push({ referenceEps, eps });
    }
    const median = (values: number[]) => quantile(values, 0.5);
    const referenceEps = median(rounds.map((r) => r.referenceEps));
    const setups: ProducerSetup[] = [
        ...(["zstd", "gzip", "none"] as const).filter((c) => c !== deployed.compression).map((compression) => ({ ...deployed, compression })),
        { ...deployed, batch: producerDefaults.BATCH_MAX_EVENTS },
        { ...deployed, instances: 2 },
        { ...deployed, client: "@platformatic/kafka" },
        { ...deployed, client: "@platformatic/kafka", compression: "none" },
        // Each client's ceiling: the same messages, built before the clock starts.
        { ...deployed, prebuilt: true },
        { ...deployed, client: "@platformatic/kafka", prebuilt: true },
    ];
    const variants: ProducerVariant[] = [];
    for (const setup of setups) {
        const eps = await producerThroughput(kafka, setup, PRODUCER_EVENTS);
        log(`producer ${setupLabel(setup)}: ${eps} events/s`);
        variants.push({ setup: setupLabel(setup), eps, ratio: eps / referenceEps });
    }
    return {
        recordBytes, referenceEps, generatorEps, variants,
        eps: median(rounds.map((r) => r.eps)),
        ratio: median(rounds.map((r) => r.eps / r.referenceEps)),
    };
}

async function main(): Promise<void> {
    await withEngines(["kafka", "s3", "iceberg", "flink", "druid"], async (running) => {
        const load = new LoadTracker();
        log(`steps: ${[...steps].join(", ")}`);
        const producer = steps.has("producer") ? await producerStep(running.kafka!) : undefined;
        const archiver: ArchiverFigures | undefined = steps.has("archiver") ? await archiverBench(running.kafka!, running.s3!, ARCHIVER_ROWS) : undefined;
        if (archiver) log(`archiver ${archiver.rowsPerSec.toFixed(0)} rows/s`);
        const latency: LatencyFigures | undefined = steps.has("latency")
            ? await latencyBench(running, Number(process.env.BENCH_LATENCY_SECONDS ?? LATENCY_RUN_SECONDS))
            : undefined;
        const { start, max } = load.stop();

        const results = toResults({ producer, archiver, latency, load: { start, max } });
        writeResults(results);
        if (latency) {
            fs.writeFileSync(latencyChartFile, cdfSvg([
                { name: "processed topic (read_committed)", color: "#1f77b4", values: latency.topic },
                { name: "Druid SQL", color: "#ff7f0e", values: latency.druid },
            ], {
                title: `Added latency per aggregate row: visible - (window end + ${latency.watermarkDelaySeconds} s watermark delay)`,
                marks: [
                    { at: latency.checkpointSeconds, label: `checkpoint ${latency.checkpointSeconds} s` },
                    { at: latency.checkpointSeconds + 2, label: "goal (p99)" },
                ],
            }));
        }
        console.log(`\n${textTable(results)}\n\nwrote ${resultsFile}${latency ? ` and ${latencyChartFile}` : ""}; npm run bench:readme puts the table into README.md`);
    });
}

function toResults(m: { producer?: ProducerFigures; archiver?: ArchiverFigures; latency?: LatencyFigures; load: { start: number; max: number } }): BenchResults {
    const { producer: p, archiver: a, latency: l } = m;
    const bound = a ? Math.min(a.consumerReferenceRowsPerSec, a.s3PutRowsPerSec) : NaN;
    return {
        measured_at: new Date().toISOString(),
        load_average: m.load.start,
        load_average_max: m.load.max,
        cores: os.cpus().length,

        record_bytes: p?.recordBytes ?? NaN,
        producer_eps: p?.eps ?? NaN,
        producer_reference_eps: p?.referenceEps ?? NaN,
        producer_ratio: p?.ratio ?? NaN,
        producer_client: "kafkajs",
        producer_compression: producerDefaults.PRODUCER_COMPRESSION,
        producer_batch: PRODUCER_BATCH,
        generator_eps: p?.generatorEps ?? NaN,
        producer_variants: p?.variants ?? [],

        archiver_rows_per_s: a?.rowsPerSec ?? NaN,
        archiver_bound_rows_per_s: bound,
        archiver_ratio: a ? a.rowsPerSec / bound : NaN,
        archiver_bound: a && a.s3PutRowsPerSec < a.consumerReferenceRowsPerSec ? "S3 PutObject" : "kafka ConsumerPerformance",
        consumer_reference_rows_per_s: a?.consumerReferenceRowsPerSec ?? NaN,
        s3_put_rows_per_s: a?.s3PutRowsPerSec ?? NaN,
        archiver_object_rows: a?.objectRows ?? NaN,
        archiver_object_bytes: a?.objectBytes ?? NaN,
        archiver_cpu_us_per_row: a?.cpuUsPerRow ?? NaN,
        s3_server_cpu_us_per_row: a?.s3ServerCpuUsPerRow ?? NaN,

        latency_run_s: l?.seconds ?? NaN,
        latency_rate_eps: l?.rate ?? NaN,
        checkpoint_interval_s: l?.checkpointSeconds ?? NaN,
        checkpoint_duration_p50_s: l?.checkpoints.p50Seconds ?? NaN,
        checkpoint_duration_max_s: l?.checkpoints.maxSeconds ?? NaN,
        watermark_delay_s: l?.watermarkDelaySeconds ?? NaN,
        e2e_rows: l?.topic.length ?? 0,
        e2e_added_p50_s: quantile(l?.topic ?? [], 0.5),
        e2e_added_p99_s: quantile(l?.topic ?? [], 0.99),
        e2e_added_max_s: quantile(l?.topic ?? [], 1),
        druid_rows: l?.druid.length ?? 0,
        druid_poll_s: l?.druidPollSeconds ?? NaN,
        druid_added_p50_s: quantile(l?.druid ?? [], 0.5),
        druid_added_p99_s: quantile(l?.druid ?? [], 0.99),
        druid_added_max_s: quantile(l?.druid ?? [], 1),

        drift_records: l?.drift.records ?? 0,
        event_time_ahead_max_s: l?.drift.aheadMaxSeconds ?? NaN,
        event_time_behind_max_s: l?.drift.behindMaxSeconds ?? NaN,
        event_time_behind_p99_s: l?.drift.behindP99Seconds ?? NaN,
    };
}

main().catch((error) => {
    console.error(error instanceof Error ? error.stack ?? error.message : error);
    process.exit(1);
});
