import assert from "node:assert/strict";
import { Batcher, hourOf, objectBody, objectKey, offsetsOfKey, type ArchiveRecord } from "../../pipeline/consumer/batcher";

const row = (windowStart: string) => JSON.stringify({ window_start: windowStart, title_id: "tt0001", plays: 1 });
const rec = (partition: number, offset: number, windowStart = "2026-01-01T10:15:00Z"): ArchiveRecord =>
    ({ partition, offset: String(offset), value: row(windowStart), timestamp: String(Date.parse("2026-03-03T03:00:00Z")) });

describe("archiving consumer: batches and keys", () => {
    it("files a row by its window_start hour, else by the Kafka timestamp", () => {
        assert.deepEqual(hourOf(rec(0, 1, "2026-01-01T23:59:00Z")), { dt: "2026-01-01", hour: "23" });
        assert.deepEqual(hourOf({ ...rec(0, 1), value: "garbage" }), { dt: "2026-03-03", hour: "03" });
        // Flink's own timestamp text, twice in a row (the second from the one-entry cache), then another hour.
        assert.deepEqual(hourOf(rec(0, 1, "2026-01-01 10:59:00")), { dt: "2026-01-01", hour: "10" });
        assert.deepEqual(hourOf(rec(0, 2, "2026-01-01 10:59:00")), { dt: "2026-01-01", hour: "10" });
        assert.deepEqual(hourOf(rec(0, 3, "2026-01-01 11:00:00")), { dt: "2026-01-01", hour: "11" });
        // Not found in the text (whitespace), or not a time: parsed, else the Kafka timestamp.
        assert.deepEqual(hourOf({ ...rec(0, 1), value: '{ "window_start": "2026-02-02T05:00:00Z" }' }), { dt: "2026-02-02", hour: "05" });
        assert.deepEqual(hourOf({ ...rec(0, 1), value: '{"window_start":"soon"}' }), { dt: "2026-03-03", hour: "03" });
        // The key's name inside another value is escaped, so it is not taken for the key.
        assert.deepEqual(hourOf({ ...rec(0, 1), value: JSON.stringify({ note: '"window_start":"2020-01-01T00:00:00Z"', window_start: "2026-04-04T04:04:00Z" }) }), { dt: "2026-04-04", hour: "04" });
    });

    it("names objects by date, hour, topic, partition and offsets, and reads the offsets back", () => {
        const key = objectKey("aggregates/", "viewing-aggregates", { partition: 2, dt: "2026-01-01", hour: "10", records: [rec(2, 40), rec(2, 41), rec(2, 45)] });
        assert.equal(key, "aggregates/dt=2026-01-01/hour=10/viewing-aggregates-2-40-45.jsonl");
        assert.deepEqual(offsetsOfKey(key), { partition: 2, first: "40", last: "45" });
    });

    it("writes one JSON row per line", () => {
        const body = objectBody({ partition: 0, dt: "d", hour: "h", records: [rec(0, 1), rec(0, 2)] });
        assert.deepEqual(body.trimEnd().split("\n").map((l) => JSON.parse(l).title_id), ["tt0001", "tt0001"]);
    });

    it("closes a batch when full, per partition", () => {
        const b = new Batcher(3, 60_000);
        assert.deepEqual(b.add(rec(0, 0), 0), []);
        assert.deepEqual(b.add(rec(1, 0), 0), []);
        b.add(rec(0, 1), 0);
        const [full] = b.add(rec(0, 2), 0);
        assert.deepEqual(full!.records.map((r) => r.offset), ["0", "1", "2"]);
        assert.deepEqual(b.partitions(), [1]);
    });

    it("closes a batch when its hour ends, and when it is old enough", () => {
        const b = new Batcher(100, 5_000);
        b.add(rec(0, 0, "2026-01-01T10:59:00Z"), 0);
        const [previousHour] = b.add(rec(0, 1, "2026-01-01T11:00:00Z"), 1_000);
        assert.deepEqual({ hour: previousHour!.hour, offsets: previousHour!.records.map((r) => r.offset) }, { hour: "10", offsets: ["0"] });
        assert.deepEqual(b.due(5_999), [], "the 11:00 batch opened at 1000 ms is not due before 6000 ms");
        const [old] = b.due(6_000);
        assert.deepEqual({ hour: old!.hour, offsets: old!.records.map((r) => r.offset) }, { hour: "11", offsets: ["1"] });
    });

    it("replays an uncommitted object's exact range: cuts at its last offset, or waits for it", () => {
        const b = new Batcher(100, 1_000);
        [10, 11, 12].forEach((o) => b.add(rec(0, o), 0));
        const [short] = b.due(1_000);
        // An earlier run wrote 10-14 and died before committing: the batch must become 10-14 again.
        assert.equal(b.boundaryAt(short!, "14", 1_000), undefined, "not there yet: reopened");
        assert.deepEqual(b.due(10_000), [], "a batch waiting for its boundary is never cut by age");
        b.add(rec(0, 13), 2_000);
        const [exact] = b.add(rec(0, 14), 2_000);
        assert.deepEqual(exact!.records.map((r) => r.offset), ["10", "11", "12", "13", "14"]);

        // A batch that ran past the boundary is cut there; the rest stays open.
        [15, 16, 17, 18].forEach((o) => b.add(rec(0, o), 3_000));
        const [long] = b.due(5_000);
        const head = b.boundaryAt(long!, "16", 5_000);
        assert.deepEqual(head!.records.map((r) => r.offset), ["15", "16"]);
        const [rest] = b.due(6_000);
        assert.deepEqual(rest!.records.map((r) => r.offset), ["17", "18"]);
    });

    it("forgets a revoked partition", () => {
        const b = new Batcher(100, 1_000);
        b.add(rec(3, 0), 0);
        b.drop(3);
        assert.deepEqual(b.due(10_000), []);
    });
});
