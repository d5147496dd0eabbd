/**
 * When events go out, and with what event time.
 *
 * - live (the deployed default): the generator's simulated clock starts at the wall clock and an
 *   event is released only once the wall clock has reached its event time. No event carries a
 *   time later than its send; it falls behind by the linger, the send and any backlog (a broker
 *   that is down: events wait, in order, and carry their own times when they go). The rate is the
 *   generator's: concurrency sized to the configured rate, so it varies around it as real
 *   traffic does, and event time cannot drift from real time however long the producer runs.
 * - backfill (replays, benchmarks): historical event time from a given start, sent at the
 *   configured rate's budget, or as fast as the broker takes them (rate 0).
 */
export const generatorModes = ["live", "backfill"] as const;
export type GeneratorMode = (typeof generatorModes)[number];

/** The time source, so pacing can be tested on a fake clock. */
export interface Clock {
    now(): number;
    sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Anything the pacer can release: it needs only the time the event happened. */
export interface Timed { event_time: number }

/**
 * Events in event-time order, possibly still being made elsewhere (a generator thread): peek
 * answers only with what is here already, and ready() resolves once something is.
 */
export interface EventQueue<T extends Timed> {
    peek(): T | undefined;
    shift(): T;
    ready(): Promise<void>;
}

/** An in-process stream as a queue that is always ready. */
export function queueOf<T extends Timed>(stream: Iterator<T>): EventQueue<T> {
    let next = stream.next().value as T;
    return {
        peek: () => next,
        shift: () => {
            const out = next;
            next = stream.next().value as T;
            return out;
        },
        ready: () => Promise.resolve(),
    };
}

const asQueue = <T extends Timed>(source: Iterator<T> | EventQueue<T>): EventQueue<T> => ("peek" in source ? source : queueOf(source));

export interface Pacer<T extends Timed = Timed> {
    /** Up to `max` events that may go out at `now`, in event-time order. */
    take(now: number, max: number): T[];
    /** How long to wait, from `now`, before something may be due again. */
    waitMs(now: number): number;
    /** Resolves once the source has an event to look at. */
    ready(): Promise<void>;
}

/** Releases each event at its own event time. */
export function livePacer<T extends Timed>(source: Iterator<T> | EventQueue<T>): Pacer<T> {
    const queue = asQueue(source);
    return {
        take(now, max) {
            const out: T[] = [];
            for (let next = queue.peek(); out.length < max && next !== undefined && next.event_time <= now; next = queue.peek()) out.push(queue.shift());
            return out;
        },
        // At most a second, so a stop request is not kept waiting by a quiet moment.
        waitMs: (now) => {
            const next = queue.peek();
            return next === undefined ? 1 : Math.min(1000, Math.max(1, next.event_time - now));
        },
        ready: () => queue.ready(),
    };
}

/** How many events may go out now: the rate's budget since start, capped by batch size and what is left. */
export function eventsDue(options: { rate: number; elapsedMs: number; sent: number; batchMax: number; remaining: number }): number {
    const budget = options.rate === 0 ? Infinity : Math.floor((options.elapsedMs * options.rate) / 1000) - options.sent;
    return Math.max(0, Math.min(budget, options.batchMax, options.remaining));
}

/** Sends the stream's events at `rate` per second of wall clock (0: no limit), whatever their event times. */
export function ratePacer<T extends Timed>(source: Iterator<T> | EventQueue<T>, rate: number, startedAt: number): Pacer<T> {
    const queue = asQueue(source);
    let taken = 0;
    return {
        take(now, max) {
            const due = eventsDue({ rate, elapsedMs: now - startedAt, sent: taken, batchMax: max, remaining: Infinity });
            const out: T[] = [];
            while (out.length < due && queue.peek() !== undefined) out.push(queue.shift());
            taken += out.length;
            return out;
        },
        waitMs: () => (rate === 0 ? 1 : Math.max(1, Math.ceil(1000 / rate))),
        ready: () => queue.ready(),
    };
}

export interface PaceOptions<T extends Timed> {
    pacer: Pacer<T>;
    clock: Clock;
    /** Most events in one send. */
    batchMax: number;
    /** Events in total; Infinity to run until stopped. */
    max: number;
    /** Waited before each batch, so a batch gathers company instead of a request per event. */
    lingerMs: number;
    stopped: () => boolean;
    /** Resolves when the broker acknowledged the whole batch. */
    send: (batch: T[]) => Promise<void>;
}

/**
 * The send loop. Returns how many events were sent (acknowledged).
 *
 * One send at a time, in order (the idempotent producer keeps a partition's order only so), but
 * the next batch is taken and built while the one before is in flight: the broker's time and the
 * generator's overlap instead of adding up. A stop ends the loop once the send in flight is
 * acknowledged; a batch taken but not yet sent is dropped, never half sent.
 */
export async function pace<T extends Timed>(o: PaceOptions<T>): Promise<number> {
    let sent = 0;
    let taken = 0;
    // Settled into a value at once: a failed send is rethrown where it is awaited, never left unhandled.
    let inFlight: Promise<{ count: number; error?: unknown }> | undefined;
    const landed = async () => {
        if (!inFlight) return;
        const result = await inFlight;
        inFlight = undefined;
        if (result.error !== undefined) throw result.error;
        sent += result.count;
    };
    while (!o.stopped() && taken < o.max) {
        if (o.lingerMs > 0) await o.clock.sleep(o.lingerMs);
        await o.pacer.ready();
        const batch = o.pacer.take(o.clock.now(), Math.min(o.batchMax, o.max - taken));
        if (batch.length === 0) {
            await o.clock.sleep(o.pacer.waitMs(o.clock.now()));
            continue;
        }
        taken += batch.length;
        await landed();
        if (o.stopped()) break;
        inFlight = o.send(batch).then(() => ({ count: batch.length }), (error: unknown) => ({ count: 0, error: error ?? new Error("send failed") }));
    }
    await landed();
    return sent;
}
