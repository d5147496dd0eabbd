/**
 * The benchmark's results file (.bench/results.json), the table printed from it and the one
 * written into README.md's Benchmarks section. Every figure in the README comes from the file;
 * each row says what the figure measures and against what, so the two cannot drift apart.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "../engines/state";

export const benchDir = path.join(repoRoot, ".bench");
export const resultsFile = path.join(benchDir, "results.json");
export const latencyChartFile = path.join(benchDir, "latency.svg");

/** One way of producing measured beside the deployed one (codec, batch size, client). */
export interface ProducerVariant {
    /** Client, codec, batch size and how it ran. */
    setup: string;
    eps: number;
    ratio: number;
}

export interface BenchResults {
    measured_at: string;
    /** 1-minute load average before the run, and the highest seen at any step of it. */
    load_average: number;
    load_average_max: number;
    cores: number;

    record_bytes: number;
    producer_eps: number;
    producer_reference_eps: number;
    producer_ratio: number;
    producer_client: string;
    producer_compression: string;
    producer_batch: number;
    /** Events generated and serialized per second by the producer's own loop, with no client at all. */
    generator_eps: number;
    producer_variants: ProducerVariant[];

    archiver_rows_per_s: number;
    archiver_bound_rows_per_s: number;
    archiver_ratio: number;
    archiver_bound: "kafka ConsumerPerformance" | "S3 PutObject";
    consumer_reference_rows_per_s: number;
    s3_put_rows_per_s: number;
    archiver_object_rows: number;
    archiver_object_bytes: number;
    archiver_cpu_us_per_row: number;
    /** CPU the S3 server (moto) spent per archived row while the archiver ran. */
    s3_server_cpu_us_per_row: number;

    latency_run_s: number;
    latency_rate_eps: number;
    checkpoint_interval_s: number;
    /** Trigger to completion of the latency run's checkpoints (Flink's own figures). */
    checkpoint_duration_p50_s: number;
    checkpoint_duration_max_s: number;
    watermark_delay_s: number;
    e2e_rows: number;
    e2e_added_p50_s: number;
    e2e_added_p99_s: number;
    e2e_added_max_s: number;
    druid_rows: number;
    druid_poll_s: number;
    druid_added_p50_s: number;
    druid_added_p99_s: number;
    druid_added_max_s: number;

    drift_records: number;
    event_time_ahead_max_s: number;
    event_time_behind_max_s: number;
    event_time_behind_p99_s: number;
}

/** The value at quantile q (0..1) of `values`, nearest rank; NaN for none. */
export function quantile(values: readonly number[], q: number): number {
    if (values.length === 0) return NaN;
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** A figure of a step that did not run is NaN in memory and null in the file. */
const known = (x: number | null | undefined): x is number => typeof x === "number" && Number.isFinite(x);
const round = (x: number, digits: number) => (known(x) ? String(Number(x.toFixed(digits))) : "n/a");
const grouped = (x: number) => (known(x) ? Math.round(x).toLocaleString("en-US").replace(/,/g, " ") : "n/a");
const s = (x: number) => `${round(x, 1)} s`;
const ratio = (x: number) => `${round(x, 2)} x`;

export interface Row {
    what: string;
    figure: string;
    /** Met, not met, or no goal. */
    goal: string;
    measures: string;
}

const verdict = (figures: number[], ok: boolean, goal: string) => `${!figures.every(known) ? "not measured" : ok ? "met" : "not met"}: ${goal}`;

/** The rows of the table, in the order of the issue's goals. */
export function rows(r: BenchResults): Row[] {
    return [
        {
            what: "Kafka ProducerPerformance", figure: `${grouped(r.producer_reference_eps)} records/s`, goal: "",
            measures: `Kafka's own Java producer, ${r.record_bytes} B records, acks=all, idempotent, same broker and topic layout: the reference (median of the rounds)`,
        },
        {
            what: "pipeline producer", figure: `${grouped(r.producer_eps)} events/s = ${ratio(r.producer_ratio)}`, goal: verdict([r.producer_ratio], r.producer_ratio >= 0.6, ">= 0.6 x"),
            measures: `the producer app at full speed (${r.producer_client}, ${r.producer_compression}, batches of ${r.producer_batch}, keyed, idempotent, acks=all): median of its rounds, ratio the median of each round's own ratio to the reference`,
        },
        {
            what: "event generator alone", figure: `${grouped(r.generator_eps)} events/s`, goal: "",
            measures: "what the producer's generator thread does (simulate, serialize, batch) with no Kafka client: the app's ceiling were the client free",
        },
        ...r.producer_variants.map((v) => ({
            what: `producer: ${v.setup}`, figure: `${grouped(v.eps)} events/s = ${ratio(v.ratio)}`, goal: "",
            measures: "another set-up (client, codec, batch, processes) on the same events and topic, over the median reference, same run",
        })),
        {
            what: "archiver", figure: `${grouped(r.archiver_rows_per_s)} rows/s = ${ratio(r.archiver_ratio)}`, goal: verdict([r.archiver_ratio], r.archiver_ratio >= 0.8, ">= 0.8 x"),
            measures: `the archiving consumer, topic to S3 objects of ${r.archiver_object_rows} rows, over the lower bound: ${r.archiver_bound}; ` +
                `it spends ${round(r.archiver_cpu_us_per_row, 1)} us CPU per row, so one core caps it at ${grouped(1e6 / r.archiver_cpu_us_per_row)} rows/s`,
        },
        {
            what: "archiver bounds", figure: `${grouped(r.consumer_reference_rows_per_s)} / ${grouped(r.s3_put_rows_per_s)} rows/s`, goal: "",
            measures: `Kafka's ConsumerPerformance on the same topic / sequential PutObject of ${grouped(r.archiver_object_bytes)} B objects to the same S3 (moto spent ${round(r.s3_server_cpu_us_per_row, 1)} us CPU per archived row)`,
        },
        {
            what: "added latency, topic", figure: `p50 ${s(r.e2e_added_p50_s)}, p99 ${s(r.e2e_added_p99_s)}, max ${s(r.e2e_added_max_s)}`,
            goal: verdict([r.e2e_added_p99_s, r.checkpoint_interval_s], r.e2e_added_p99_s <= r.checkpoint_interval_s + 2, `p99 <= checkpoint ${round(r.checkpoint_interval_s, 0)} s + 2 s`),
            measures: `per aggregate row (${r.e2e_rows} rows, ${round(r.latency_run_s / 60, 1)} min of live events at ${r.latency_rate_eps}/s): read_committed visibility minus (window end + watermark delay ${r.watermark_delay_s} s)`,
        },
        {
            what: "checkpoints", figure: `p50 ${s(r.checkpoint_duration_p50_s)}, max ${s(r.checkpoint_duration_max_s)}`, goal: "",
            measures: `trigger to completion of the same run's checkpoints (every ${round(r.checkpoint_interval_s, 0)} s): a window's rows wait for the next one to complete. ` +
                "Windows close on the minute, a multiple of the interval, so one run meets the schedule at one phase; the worst phase adds the interval plus a checkpoint",
        },
        {
            what: "added latency, Druid", figure: `p50 ${s(r.druid_added_p50_s)}, p99 ${s(r.druid_added_p99_s)}, max ${s(r.druid_added_max_s)}`, goal: "",
            measures: `the same rows (${r.druid_rows}) first answering Druid SQL (polled every ${r.druid_poll_s} s) minus (window end + watermark delay)`,
        },
        {
            what: "event time vs send time", figure: `ahead max ${s(r.event_time_ahead_max_s)}, behind max ${s(r.event_time_behind_max_s)} (p99 ${s(r.event_time_behind_p99_s)})`,
            goal: verdict([r.event_time_ahead_max_s], r.event_time_ahead_max_s <= 0, "never ahead"),
            measures: `every live event of the latency run (${r.drift_records}): its record's CreateTime, stamped at send, minus its event_time`,
        },
    ];
}

/** The table as Markdown, with the run's context under it. */
export function markdownTable(r: BenchResults): string {
    const escape = (x: string) => x.replace(/\|/g, "\\|");
    const lines = [
        "| what | figure | goal | what it measures, against what |",
        "| --- | --- | --- | --- |",
        ...rows(r).map((row) => `| ${[row.what, row.figure, row.goal || "-", row.measures].map(escape).join(" | ")} |`),
        "",
        `Measured ${r.measured_at.slice(0, 10)} on ${r.cores} cores, load average ${round(r.load_average, 2)} at the start ` +
            `(${round(r.load_average_max, 2)} at the busiest step): figures from a busy machine are lower and noisier.`,
    ];
    return lines.join("\n");
}

/** The same rows for a terminal. */
export function textTable(r: BenchResults): string {
    const all = rows(r);
    const width = Math.max(...all.map((row) => row.what.length));
    return [
        ...all.map((row) => `${row.what.padEnd(width)}  ${row.figure}${row.goal ? `  [${row.goal}]` : ""}`),
        `load average ${round(r.load_average, 2)} (max ${round(r.load_average_max, 2)}), ${r.cores} cores`,
    ].join("\n");
}

export const README_BEGIN = "<!-- bench:begin (npm run bench:readme writes this table from .bench/results.json) -->";
export const README_END = "<!-- bench:end -->";

/** `readme` with the text between the markers replaced by the table of `r`; throws when the markers are missing. */
export function withBenchTable(readme: string, r: BenchResults): string {
    const begin = readme.indexOf(README_BEGIN);
    const end = readme.indexOf(README_END);
    if (begin < 0 || end < begin) throw new Error(`README.md lacks the markers ${README_BEGIN} ... ${README_END}`);
    return `${readme.slice(0, begin + README_BEGIN.length)}\n${markdownTable(r)}\n${readme.slice(end)}`;
}

export function writeResults(r: BenchResults): void {
    fs.mkdirSync(benchDir, { recursive: true });
    fs.writeFileSync(resultsFile, JSON.stringify(r, null, 2) + "\n");
}

/** The file as written: figures of steps that did not run (null in JSON) come back as NaN. */
export function readResults(file = resultsFile): BenchResults {
    return JSON.parse(fs.readFileSync(file, "utf8"), (_key, value: unknown) => (value === null ? NaN : value)) as BenchResults;
}
