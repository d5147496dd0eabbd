/**
 * The benchmark's bookkeeping, without engines: quantiles, the results file, the table it becomes
 * (in the terminal and in README.md) and the latency chart. No figure is measured here.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { cdfSvg } from "../bench/chart";
import { markdownTable, quantile, readResults, README_BEGIN, README_END, rows, textTable, withBenchTable, type BenchResults } from "../bench/results";

const results: BenchResults = {
    measured_at: "2026-11-26T21:00:00.000Z", load_average: 0.8, load_average_max: 1.9, cores: 2,
    record_bytes: 283, producer_eps: 35_000, producer_reference_eps: 50_000, producer_ratio: 0.7, producer_client: "kafkajs",
    producer_compression: "zstd", producer_batch: 5000, generator_eps: 90_000,
    producer_variants: [{ setup: "kafkajs (the app) gzip x5000", eps: 28_000, ratio: 0.56 }],
    archiver_rows_per_s: 40_000, archiver_bound_rows_per_s: 100_000, archiver_ratio: 0.4, archiver_bound: "kafka ConsumerPerformance",
    consumer_reference_rows_per_s: 100_000, s3_put_rows_per_s: 200_000, archiver_object_rows: 5000, archiver_object_bytes: 1_000_000,
    archiver_cpu_us_per_row: 12.5, s3_server_cpu_us_per_row: 3.2,
    latency_run_s: 600, latency_rate_eps: 50, checkpoint_interval_s: 10, checkpoint_duration_p50_s: 0.8, checkpoint_duration_max_s: 1.9, watermark_delay_s: 5,
    e2e_rows: 4000, e2e_added_p50_s: 5.2, e2e_added_p99_s: 11.4, e2e_added_max_s: 11.9,
    druid_rows: 4000, druid_poll_s: 0.5, druid_added_p50_s: 6.1, druid_added_p99_s: 12.8, druid_added_max_s: 13.5,
    drift_records: 30_000, event_time_ahead_max_s: 0, event_time_behind_max_s: 0.3, event_time_behind_p99_s: 0.1,
};

describe("benchmark bookkeeping", () => {
    it("quantile: nearest rank, NaN for no values", () => {
        const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 .. 1, unsorted on purpose
        assert.equal(quantile(values, 0.5), 50);
        assert.equal(quantile(values, 0.99), 99);
        assert.equal(quantile(values, 1), 100);
        assert.equal(quantile(values, 0), 1);
        assert.equal(quantile([7], 0.99), 7);
        assert.ok(Number.isNaN(quantile([], 0.5)));
    });

    it("judges each goal from the file: producer, archiver, topic p99 against the checkpoint interval + 2 s, drift", () => {
        const goals = rows(results).filter((r) => r.goal).map((r) => `${r.what}: ${r.goal}`);
        assert.deepEqual(goals, [
            "pipeline producer: met: >= 0.6 x",
            "archiver: not met: >= 0.8 x",
            "added latency, topic: met: p99 <= checkpoint 10 s + 2 s",
            "event time vs send time: met: never ahead",
        ]);
        const late = rows({ ...results, e2e_added_p99_s: 12.5 }).find((r) => r.what === "added latency, topic")!;
        assert.match(late.goal, /^not met/);
    });

    it("a step that did not run is null in the file, n/a in the table and 'not measured' as a goal, never a number", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-"));
        const file = path.join(dir, "results.json");
        fs.writeFileSync(file, JSON.stringify({ ...results, archiver_rows_per_s: NaN, archiver_ratio: NaN, archiver_bound_rows_per_s: NaN }));
        assert.match(fs.readFileSync(file, "utf8"), /"archiver_ratio":null/);
        const back = readResults(file);
        assert.ok(Number.isNaN(back.archiver_ratio));
        const archiver = rows(back).find((r) => r.what === "archiver")!;
        assert.equal(archiver.goal, "not measured: >= 0.8 x");
        assert.match(archiver.figure, /^n\/a rows\/s = n\/a x$/);
        assert.doesNotMatch(markdownTable(back), /NaN|null|undefined/);
        fs.rmSync(dir, { recursive: true });
    });

    it("the README table is rewritten between its markers only, and rewriting again changes nothing", () => {
        const readme = `# Title\n\n## Benchmarks\n\nProse stays.\n\n${README_BEGIN}\n| old | table |\n${README_END}\n\n## Versions\n`;
        const once = withBenchTable(readme, results);
        assert.ok(once.startsWith("# Title\n\n## Benchmarks\n\nProse stays.\n\n"));
        assert.ok(once.endsWith(`${README_END}\n\n## Versions\n`));
        assert.doesNotMatch(once, /\| old \| table \|/);
        assert.match(once, /\| pipeline producer \| 35 000 events\/s = 0\.7 x \| met: >= 0\.6 x \|/);
        assert.match(once, /load average 0\.8 at the start/);
        assert.equal(withBenchTable(once, results), once);
        assert.throws(() => withBenchTable("# no markers\n", results), /lacks the markers/);
    });

    it("every row says what it measures, in the terminal table too", () => {
        for (const row of rows(results)) assert.ok(row.measures.length > 20, `${row.what} explains itself`);
        const text = textTable(results);
        assert.match(text, /added latency, Druid +p50 6\.1 s, p99 12\.8 s, max 13\.5 s/);
        assert.match(text, /load average 0\.8 \(max 1\.9\), 2 cores/);
    });

    it("draws a cumulative curve per series with the goal's line, as well-formed SVG", () => {
        const svg = cdfSvg([
            { name: "topic", color: "#00f", values: [1, 2, 3, 9.5] },
            { name: "Druid <SQL>", color: "#f80", values: [] },
        ], { title: "added & more", marks: [{ at: 10, label: "checkpoint 10 s" }, { at: 12, label: "goal" }] });
        assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
        assert.equal((svg.match(/<polyline /g) ?? []).length, 1, "an empty series draws no curve");
        assert.match(svg, /topic \(4 rows\)/);
        assert.match(svg, /Druid &lt;SQL&gt; \(0 rows\)/);
        assert.match(svg, /added &amp; more/);
        assert.match(svg, />goal</);
        assert.ok(svg.trimEnd().endsWith("</svg>"));
        assert.equal((svg.match(/</g) ?? []).length, (svg.match(/>/g) ?? []).length, "every tag closed");
    });
});
