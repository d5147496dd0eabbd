/**
 * A deterministic, seeded generator of realistic viewing sessions: every session is
 * play -> heartbeats (with pauses/resumes/seeks) -> stop, a user never has two sessions at once,
 * and the stream comes out in event-time order (so also ordered per user). Same options, same
 * events, byte for byte: tests compute expected aggregates from exactly what the producer sent.
 */
import {
    catalogue, countries, devices, HEARTBEAT_INTERVAL_SECONDS, userId,
    type Country, type Device, type EventType, type Title, type ViewingEvent,
} from "./model";

/** mulberry32: tiny, fast, and good enough for synthetic data (not for anything secret). */
export function seededRandom(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const between = (random: Random, min: number, max: number) => min + Math.floor(random() * (max - min + 1));

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/**
 * An RFC 4122 version-4 UUID from the seeded stream (crypto.randomUUID would not be reproducible).
 * Built straight into a string: one per event, it was a tenth of the producer's CPU as an array joined.
 */
function uuid(random: Random): string {
    let s = "";
    for (let i = 0; i < 16; i++) {
        let b = Math.floor(random() * 256);
        if (i === 6) b = (b & 0x0f) | 0x40;
        else if (i === 8) b = (b & 0x3f) | 0x80;
        s += HEX[b]!;
        if (i === 3 || i === 5 || i === 7 || i === 9) s += "-";
    }
    return s;
}

/** Adaptive-bitrate ladders by device class (kbps). */
const bitrates: Record<Device, readonly number[]> = {
    tv: [3000, 5800, 8000, 16000],
    console: [3000, 5800, 8000, 16000],
    web: [1750, 3000, 5800],
    tablet: [1050, 1750, 3000],
    mobile: [235, 560, 1050, 1750],
};

export interface GeneratorOptions {
    seed: number;
    /** Size of the user population (user-000001 ...). */
    users: number;
    /** Sessions running at once; about users/8 by default. Roughly concurrency/25 events per simulated second. */
    concurrency?: number;
    /** Epoch millis of the first event. */
    startTime: number;
}

interface User { id: string; country: Country; device: Device }

interface Session {
    seq: number;
    /** The user as the population knows them (returned to the idle pool at the end). */
    home: User;
    /** The user on this session's device. */
    user: User;
    title: Title;
    sessionId: string;
    state: "starting" | "playing" | "paused" | "stopped";
    position: number;
    bitrate: number;
    /** Event time of this session's next event. */
    next: number;
}

/** A binary min-heap on (next, seq): the earliest session event first, ties in a fixed order. */
class SessionQueue {
    private readonly heap: Session[] = [];
    get size(): number { return this.heap.length; }
    private less(a: Session, b: Session): boolean { return a.next < b.next || (a.next === b.next && a.seq < b.seq); }
    push(s: Session): void {
        const h = this.heap;
        h.push(s);
        for (let i = h.length - 1; i > 0;) {
            const parent = (i - 1) >> 1;
            if (!this.less(h[i]!, h[parent]!)) break;
            [h[i], h[parent]] = [h[parent]!, h[i]!];
            i = parent;
        }
    }
    pop(): Session | undefined {
        const h = this.heap;
        const top = h[0];
        const last = h.pop();
        if (h.length > 0 && last) {
            h[0] = last;
            for (let i = 0; ;) {
                const [l, r] = [2 * i + 1, 2 * i + 2];
                let m = i;
                if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
                if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
                if (m === i) break;
                [h[i], h[m]] = [h[m]!, h[i]!];
                i = m;
            }
        }
        return top;
    }
}

/** An endless stream of events in event-time order; take what you need. */
export function* viewingEvents(options: GeneratorOptions): Generator<ViewingEvent, never, void> {
    const random = seededRandom(options.seed);
    if (!Number.isInteger(options.users) || options.users < 1) throw new Error(`users must be a positive integer, got ${options.users}`);
    // Each user lives in one country and mostly watches on one device: aggregates get a realistic skew.
    const population: User[] = Array.from({ length: options.users }, (_, i) => ({
        id: userId(i), country: pick(random, countries), device: pick(random, devices),
    }));
    const concurrency = Math.min(options.users, Math.max(1, options.concurrency ?? Math.ceil(options.users / 8)));
    const idle: User[] = [...population];
    const queue = new SessionQueue();
    let seq = 0;

    const startSession = (at: number) => {
        const user = idle.splice(Math.floor(random() * idle.length), 1)[0]!;
        const device = random() < 0.8 ? user.device : pick(random, devices);
        const title = pick(random, catalogue);
        // A third of sessions resume a title part-way through.
        const position = random() < 0.33 ? between(random, 0, title.runtime_minutes * 30) : 0;
        queue.push({
            seq: seq++, home: user, user: { ...user, device }, title, sessionId: uuid(random), state: "starting",
            position, bitrate: pick(random, bitrates[device]), next: at,
        });
    };
    for (let i = 0; i < concurrency; i++) startSession(options.startTime + between(random, 0, 30_000));

    for (;;) {
        const s = queue.pop()!;
        const at = s.next;
        let type: EventType;
        let gapSeconds: number;
        if (s.state === "starting") {
            type = "play";
            s.state = "playing";
            gapSeconds = HEARTBEAT_INTERVAL_SECONDS;
        } else if (s.state === "paused") {
            const resume = random() < 0.85;
            type = resume ? "resume" : "stop";
            s.state = resume ? "playing" : "stopped";
            gapSeconds = HEARTBEAT_INTERVAL_SECONDS;
        } else {
            // Playing: a heartbeat after each full interval, or a user action inside the interval.
            const roll = random();
            const endOfTitle = s.position + HEARTBEAT_INTERVAL_SECONDS >= s.title.runtime_minutes * 60;
            if (endOfTitle || roll < 0.04) {
                type = "stop";
                s.state = "stopped";
                gapSeconds = 0;
            } else if (roll < 0.1) {
                type = "pause";
                s.state = "paused";
                gapSeconds = between(random, 5, 120);
            } else if (roll < 0.13) {
                type = "seek";
                s.position = Math.max(0, s.position + between(random, -120, 300));
                gapSeconds = HEARTBEAT_INTERVAL_SECONDS;
            } else {
                type = "heartbeat";
                s.position += HEARTBEAT_INTERVAL_SECONDS;
                if (random() < 0.1) s.bitrate = pick(random, bitrates[s.user.device]); // ABR switch
                gapSeconds = HEARTBEAT_INTERVAL_SECONDS;
            }
        }
        const event: ViewingEvent = {
            event_id: uuid(random),
            session_id: s.sessionId,
            user_id: s.user.id,
            title_id: s.title.title_id,
            device: s.user.device,
            country: s.user.country,
            event_type: type,
            position_seconds: s.position,
            bitrate_kbps: s.bitrate,
            event_time: at,
        };
        if (s.state === "stopped") {
            idle.push(s.home);
            startSession(at + between(random, 1_000, 20_000));
        } else {
            s.next = at + gapSeconds * 1000 + between(random, 0, 999);
            queue.push(s);
        }
        yield event;
    }
}

/** The first `count` events of the stream. */
export function generateEvents(options: GeneratorOptions, count: number): ViewingEvent[] {
    const events: ViewingEvent[] = [];
    const stream = viewingEvents(options);
    while (events.length < count) events.push(stream.next().value);
    return events;
}
