/**
 * The producer's pacing on a fake clock: simulated minutes in milliseconds, every send stamped
 * with the clock's time, a slow broker and an outage played as sends that take time.
 */
import assert from "node:assert/strict";
import { viewingEvents, type ViewingEvent } from "../../pipeline/events";
import { livePacer, pace, ratePacer, type Clock } from "../../pipeline/producer/pacing";

/** Virtual time: sleeping advances it, nothing else does. */
function fakeClock(start: number): Clock & { advance(ms: number): void } {
    let now = start;
    return { now: () => now, sleep: async (ms) => { now += ms; }, advance: (ms) => { now += ms; } };
}

interface Sent { at: number; event: ViewingEvent }

/** Runs the loop for `minutes` of virtual time; `sendMs(at)` is how long the broker takes to acknowledge a send begun at `at`. */
async function runLive(options: { rate: number; minutes: number; lingerMs: number; sendMs: (at: number) => number }): Promise<{ sent: Sent[]; clock: Clock; start: number }> {
    const start = Date.parse("2026-11-26T12:00:00Z");
    const clock = fakeClock(start);
    // The producer sizes concurrency to the rate the same way: rate x mean gap between a session's events.
    const stream = viewingEvents({ seed: 7, users: 50_000, concurrency: Math.ceil(options.rate * 27), startTime: start });
    const sent: Sent[] = [];
    const end = start + options.minutes * 60_000;
    await pace({
        pacer: livePacer(stream), clock, batchMax: 500, max: Infinity, lingerMs: options.lingerMs,
        stopped: () => clock.now() >= end,
        send: async (batch) => {
            const at = clock.now();
            clock.advance(options.sendMs(at));
            // Stamped when acknowledged: the moment the event is in Kafka.
            for (const event of batch) sent.push({ at: clock.now(), event });
        },
    });
    return { sent, clock, start };
}

describe("producer pacing", () => {
    it("live: over 10 minutes no event is ahead of its send, none more than linger + send behind, at about the configured rate", async () => {
        const { sent, start } = await runLive({ rate: 50, minutes: 10, lingerMs: 50, sendMs: () => 20 });
        const lags = sent.map((s) => s.at - s.event.event_time);
        assert.ok(Math.min(...lags) >= 0, `an event was sent ${-Math.min(...lags)} ms before its event time`);
        assert.ok(Math.max(...lags) <= 50 + 20 + 1000, `an event was sent ${Math.max(...lags)} ms after its event time`);
        // Sessions start over the first 30 s, so the rate is judged over the last 9 minutes.
        const steady = sent.filter((s) => s.at >= start + 60_000).length / 540;
        assert.ok(steady > 50 * 0.8 && steady < 50 * 1.2, `steady rate ${steady.toFixed(1)}/s for a configured 50/s`);
        for (let i = 1; i < sent.length; i++) assert.ok(sent[i]!.event.event_time >= sent[i - 1]!.event.event_time, "out of event-time order");
    });

    it("live: event time tracks the clock at the end of a long run, not a random walk away from it", async () => {
        const { sent, clock } = await runLive({ rate: 20, minutes: 60, lingerMs: 50, sendMs: () => 10 });
        const last = sent[sent.length - 1]!;
        assert.ok(clock.now() - last.event.event_time < 2_000, `after an hour the last event time is ${clock.now() - last.event.event_time} ms behind the clock`);
        assert.ok(last.event.event_time <= last.at);
    });

    it("live: a broker outage delays events, which keep their own times, in order, and the backlog drains", async () => {
        const outageAt = Date.parse("2026-11-26T12:03:00Z");
        // One send hangs for 30 s (a broker restart), every other one takes 20 ms.
        let hung = false;
        const { sent } = await runLive({ rate: 50, minutes: 6, lingerMs: 50, sendMs: (at) => (!hung && at >= outageAt ? ((hung = true), 30_000) : 20) });
        const lags = sent.map((s) => s.at - s.event.event_time);
        assert.ok(Math.min(...lags) >= 0);
        assert.ok(Math.max(...lags) >= 29_000, "the outage delayed events");
        // Behind by the backlog only while it lasts: a minute later, sends are at the bound again.
        const after = sent.filter((s) => s.at >= outageAt + 90_000).map((s) => s.at - s.event.event_time);
        assert.ok(after.length > 0 && Math.max(...after) <= 50 + 20 + 1000, `still ${Math.max(...after)} ms behind a minute after the outage`);
        const ids = new Set(sent.map((s) => s.event.event_id));
        assert.equal(ids.size, sent.length, "an event was sent twice");
    });

    it("backfill: historical event times at the configured rate, or as fast as the broker takes them", async () => {
        const clock = fakeClock(Date.parse("2026-11-26T12:00:00Z"));
        const historical = Date.parse("2026-01-01T00:00:00Z");
        const stream = viewingEvents({ seed: 7, users: 1000, startTime: historical });
        const sent: ViewingEvent[] = [];
        const t0 = clock.now();
        await pace({ pacer: ratePacer(stream, 100, t0), clock, batchMax: 500, max: 1000, lingerMs: 50, stopped: () => false, send: async (b) => { sent.push(...b); } });
        assert.equal(sent.length, 1000);
        assert.ok(Math.abs((clock.now() - t0) - 10_000) <= 200, `1000 events at 100/s took ${clock.now() - t0} ms`);
        assert.ok(sent[0]!.event_time < historical + 60_000, "backfill keeps the historical start");

        const fast = fakeClock(t0);
        const all: ViewingEvent[] = [];
        await pace({ pacer: ratePacer(viewingEvents({ seed: 7, users: 1000, startTime: historical }), 0, t0), clock: fast, batchMax: 500, max: 1000, lingerMs: 0, stopped: () => false, send: async (b) => { all.push(...b); } });
        assert.equal(all.length, 1000);
        assert.equal(fast.now(), t0, "rate 0 never waits");
    });

    it("builds the next batch while a send is in flight, yet never sends two at once, and keeps the order", async () => {
        const clock = fakeClock(Date.parse("2026-11-26T12:00:00Z"));
        const stream = viewingEvents({ seed: 7, users: 1000, startTime: Date.parse("2026-01-01T00:00:00Z") });
        const pacer = ratePacer(stream, 0, clock.now());
        const log: string[] = [];
        let inFlight = 0;
        const sent: ViewingEvent[] = [];
        const counted = await pace({
            pacer: { ...pacer, take: (now, max) => { log.push(`take while ${inFlight} in flight`); return pacer.take(now, max); } },
            clock, batchMax: 100, max: 1000, lingerMs: 0, stopped: () => false,
            send: async (batch) => {
                inFlight += 1;
                assert.equal(inFlight, 1, "two sends at once");
                await new Promise((resolve) => setImmediate(resolve)); // the broker's time: other work may run
                sent.push(...batch);
                inFlight -= 1;
            },
        });
        assert.equal(counted, 1000);
        assert.deepEqual(sent.map((e) => e.event_id), generateIds(1000), "every event once, in stream order");
        assert.ok(log.filter((l) => l === "take while 1 in flight").length >= 8, `batches were built during sends: ${log.join(", ")}`);
    });

    it("a failed send fails the loop (no unhandled rejection), and a stop drops the batch not yet sent", async () => {
        const clock = fakeClock(Date.parse("2026-11-26T12:00:00Z"));
        const pacer = () => ratePacer(viewingEvents({ seed: 7, users: 1000, startTime: Date.parse("2026-01-01T00:00:00Z") }), 0, clock.now());
        let sends = 0;
        await assert.rejects(pace({
            pacer: pacer(), clock, batchMax: 10, max: 100, lingerMs: 0, stopped: () => false,
            send: async () => { if (++sends === 2) throw new Error("broker says no"); },
        }), /broker says no/);
        assert.equal(sends, 2, "nothing sent after the failure");

        let stop = false;
        const sent: ViewingEvent[] = [];
        const counted = await pace({
            pacer: pacer(), clock, batchMax: 10, max: 100, lingerMs: 0, stopped: () => stop,
            send: async (batch) => { await new Promise((resolve) => setImmediate(resolve)); sent.push(...batch); stop = sent.length >= 30; },
        });
        assert.equal(counted, 30, "what was acknowledged before the stop, nothing after");
        assert.equal(sent.length, 30);
    });
});

/** The first `n` event ids of the stream the tests above pace. */
function generateIds(n: number): string[] {
    const stream = viewingEvents({ seed: 7, users: 1000, startTime: Date.parse("2026-01-01T00:00:00Z") });
    return Array.from({ length: n }, () => stream.next().value.event_id);
}
