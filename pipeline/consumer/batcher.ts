/**
 * The archiver's batching and naming rules, free of Kafka and S3 so they can be tested alone.
 *
 * A batch holds consecutive records of ONE partition and ONE hour (of the rows' window_start),
 * and ends when it is full, old enough, or the next record belongs to another hour. Its object
 * key names the partition and the first and last offsets, so the same records always map to the
 * same key. The one way a replay could cut differently is a time-bounded batch that was written
 * but not committed before a crash: the archiver then finds that object (same first offset) and
 * cuts the replayed batch at its last offset, overwriting it with identical content (boundaryAt).
 */

export interface ArchiveRecord {
    partition: number;
    offset: string;
    value: string;
    /** Kafka record timestamp (epoch ms as a string), the fallback for a row without window_start. */
    timestamp: string;
}

export interface Batch {
    partition: number;
    dt: string;
    hour: string;
    records: ArchiveRecord[];
}

const WINDOW_START_KEY = '"window_start":"';
/** The last window_start seen and its hour: consecutive rows mostly share their window. */
let lastWindowStart: { text: string; hour: { dt: string; hour: string } } | undefined;

/**
 * Date and hour (UTC) a record is filed under: its window_start, else its Kafka timestamp.
 *
 * The Flink job writes flat JSON with no whitespace, so the window_start is found in the text
 * without parsing the row (an unescaped `"window_start":"` can only be that key); parsing every
 * row was a fifth of the archiver's CPU. Anything else takes the parsing path.
 */
export function hourOf(record: ArchiveRecord): { dt: string; hour: string } {
    const at = record.value.indexOf(WINDOW_START_KEY);
    if (at >= 0) {
        const from = at + WINDOW_START_KEY.length;
        const text = record.value.slice(from, record.value.indexOf('"', from));
        if (lastWindowStart?.text === text) return lastWindowStart.hour;
        const hour = hourOfTime(text);
        if (hour) {
            lastWindowStart = { text, hour };
            return hour;
        }
    }
    let windowStart: unknown;
    try {
        windowStart = (JSON.parse(record.value) as { window_start?: unknown }).window_start;
    } catch { /* not JSON: file it by its Kafka timestamp */ }
    return (typeof windowStart === "string" ? hourOfTime(windowStart) : undefined) ?? hourOfTime(new Date(Number(record.timestamp)).toISOString())!;
}

function hourOfTime(text: string): { dt: string; hour: string } | undefined {
    const ms = Date.parse(text);
    if (Number.isNaN(ms)) return undefined;
    const iso = new Date(ms).toISOString();
    return { dt: iso.slice(0, 10), hour: iso.slice(11, 13) };
}

/** `<prefix>dt=YYYY-MM-DD/hour=HH/` */
export function hourPrefix(prefix: string, dt: string, hour: string): string {
    return `${prefix}dt=${dt}/hour=${hour}/`;
}

/** `<prefix>dt=YYYY-MM-DD/hour=HH/<topic>-<partition>-<firstOffset>-` : every object a batch starting there may have. */
export function batchKeyStart(prefix: string, topic: string, batch: { partition: number; dt: string; hour: string }, firstOffset: string): string {
    return `${hourPrefix(prefix, batch.dt, batch.hour)}${topic}-${batch.partition}-${firstOffset}-`;
}

export function objectKey(prefix: string, topic: string, batch: Batch): string {
    const first = batch.records[0]!.offset;
    const last = batch.records[batch.records.length - 1]!.offset;
    return `${batchKeyStart(prefix, topic, batch, first)}${last}.jsonl`;
}

/** The offsets a key covers, read from its end (topic names may contain '-'). */
export function offsetsOfKey(key: string): { partition: number; first: string; last: string } | undefined {
    const m = /-(\d+)-(\d+)-(\d+)\.jsonl$/.exec(key);
    return m ? { partition: Number(m[1]), first: m[2]!, last: m[3]! } : undefined;
}

/** One object's body: one row per line, as the rows arrived. */
export function objectBody(batch: Batch): string {
    return batch.records.map((r) => r.value.replace(/\n/g, " ")).join("\n") + "\n";
}

interface Open extends Batch {
    openedAt: number;
    /** Forced last offset (an earlier incarnation already wrote an object ending there). */
    boundary?: bigint;
}

export class Batcher {
    private readonly open = new Map<number, Open>();

    constructor(private readonly maxRecords: number, private readonly maxAgeMs: number) {}

    /** Adds a record; returns the batches it completed (the previous hour's, or a full one). */
    add(record: ArchiveRecord, now: number): Batch[] {
        const done: Batch[] = [];
        const { dt, hour } = hourOf(record);
        let batch = this.open.get(record.partition);
        if (batch && (batch.dt !== dt || batch.hour !== hour) && batch.boundary === undefined) {
            done.push(this.close(record.partition));
            batch = undefined;
        }
        if (!batch) {
            batch = { partition: record.partition, dt, hour, records: [], openedAt: now };
            this.open.set(record.partition, batch);
        }
        batch.records.push(record);
        const full = batch.boundary !== undefined ? BigInt(record.offset) >= batch.boundary : batch.records.length >= this.maxRecords;
        if (full) done.push(this.close(record.partition));
        return done;
    }

    /** Batches open for at least maxAgeMs (never one waiting for a forced boundary). */
    due(now: number): Batch[] {
        return [...this.open.values()]
            .filter((b) => b.boundary === undefined && now - b.openedAt >= this.maxAgeMs)
            .map((b) => this.close(b.partition));
    }

    /**
     * A batch that must end at `last` (an object for its first offset already exists): returns the
     * part up to `last` to write now, or undefined when it has not reached `last` yet, in which case
     * the batch is reopened and completes when `last` arrives. Records after `last` are reopened.
     */
    boundaryAt(batch: Batch, last: string, now: number): Batch | undefined {
        const end = BigInt(last);
        const head = batch.records.filter((r) => BigInt(r.offset) <= end);
        const tail = batch.records.filter((r) => BigInt(r.offset) > end);
        const reached = batch.records.length > 0 && BigInt(batch.records[batch.records.length - 1]!.offset) >= end;
        const requeue = reached ? tail : batch.records;
        if (requeue.length > 0) this.prepend(batch.partition, requeue, reached ? undefined : end, now);
        return reached ? { ...batch, records: head } : undefined;
    }

    /** Forgets a partition (revoked in a rebalance: its new owner re-reads from the committed offset). */
    drop(partition: number): void {
        this.open.delete(partition);
    }

    partitions(): number[] {
        return [...this.open.keys()];
    }

    private prepend(partition: number, records: ArchiveRecord[], boundary: bigint | undefined, now: number): void {
        const current = this.open.get(partition);
        const first = records[0]!;
        const { dt, hour } = hourOf(first);
        this.open.set(partition, {
            partition, dt, hour, openedAt: now, boundary,
            records: [...records, ...(current?.records ?? [])],
        });
    }

    private close(partition: number): Batch {
        const b = this.open.get(partition)!;
        this.open.delete(partition);
        return { partition: b.partition, dt: b.dt, hour: b.hour, records: b.records };
    }
}
