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
import type { ViewingEvent } from "../events";

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

export interface Pacer {
    /** Up to `max` events that may go out at `now`, in event-time order. */
    take(now: number, max: number): ViewingEvent[];
    /** How long to wait, from `now`, before something may be due again. */
    waitMs(now: number): number;
}

/** Releases each event at its own event time. */
export function livePacer(stream: Iterator<ViewingEvent>): Pacer {
    let next = stream.next().value as ViewingEvent;
    return {
        take(now, max) {
            const out: ViewingEvent[] = [];
            while (out.length < max && next.event_time <= now) {
                out.push(next);
                next = stream.next().value as ViewingEvent;
            }
            return out;
        },
        // At most a second, so a stop request is not kept waiting by a quiet moment.
        waitMs: (now) => Math.min(1000, Math.max(1, next.event_time - now)),
    };
}

/** How many events may go out now: the rate's budget since start, capped by batch size and what is left. */
export function eventsDue(options: { rate: number; elapsedMs: number; sent: number; batchMax: number; remaining: number }): number {
    const budget = options.rate === 0 ? Infinity : Math.floor((options.elapsedMs * options.rate) / 1000) - options.sent;
    return Math.max(0, Math.min(budget, options.batchMax, options.remaining));
}

/** Sends the stream's events at `rate` per second of wall clock (0: no limit), whatever their event times. */
export function ratePacer(stream: Iterator<ViewingEvent>, rate: number, startedAt: number): Pacer {
    let taken = 0;
    return {
        take(now, max) {
            const due = eventsDue({ rate, elapsedMs: now - startedAt, sent: taken, batchMax: max, remaining: Infinity });
            taken += due;
            return Array.from({ length: due }, () => stream.next().value as ViewingEvent);
        },
        waitMs: () => (rate === 0 ? 1 : Math.max(1, Math.ceil(1000 / rate))),
    };
}

export interface PaceOptions {
    pacer: Pacer;
    clock: Clock;
    /** Most events in one send. */
    batchMax: number;
    /** Events in total; Infinity to run until stopped. */
    max: number;
    /** Waited before each batch, so a batch gathers company instead of a request per event. */
    lingerMs: number;
    stopped: () => boolean;
    /** Resolves when the broker acknowledged the whole batch. */
    send: (batch: ViewingEvent[]) => Promise<void>;
}

/** The send loop. Returns how many events were sent. */
export async function pace(o: PaceOptions): Promise<number> {
    let sent = 0;
    while (!o.stopped() && sent < o.max) {
        if (o.lingerMs > 0) await o.clock.sleep(o.lingerMs);
        const batch = o.pacer.take(o.clock.now(), Math.min(o.batchMax, o.max - sent));
        if (batch.length === 0) {
            await o.clock.sleep(o.pacer.waitMs(o.clock.now()));
            continue;
        }
        await o.send(batch);
        sent += batch.length;
    }
    return sent;
}
