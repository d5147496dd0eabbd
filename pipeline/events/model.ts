/**
 * The one event model every pipeline app shares: what a viewing event is, the finite worlds it
 * is drawn from (users, catalogue, devices, countries), and the aggregate row Flink emits.
 * Times are epoch milliseconds everywhere (Flink reads them with TO_TIMESTAMP_LTZ(event_time, 3)).
 */

export const eventTypes = ["play", "pause", "resume", "seek", "stop", "heartbeat"] as const;
export type EventType = (typeof eventTypes)[number];

export const devices = ["tv", "mobile", "tablet", "web", "console"] as const;
export type Device = (typeof devices)[number];

export const countries = ["US", "GB", "DE", "FR", "ES", "IT", "GR", "BR", "MX", "IN", "JP", "KR", "CA", "AU"] as const;
export type Country = (typeof countries)[number];

/**
 * A player sends a heartbeat after every this many seconds of continuous playback. Watch time is
 * measured by heartbeats (the aggregate's watch_seconds = heartbeats x this), which keeps the Flink
 * job stateless per session: no pairing of play/pause events is needed.
 */
export const HEARTBEAT_INTERVAL_SECONDS = 30;

export interface Title {
    title_id: string;
    title: string;
    genre: string;
    runtime_minutes: number;
}

/** A small fixed catalogue: enough titles and genres for aggregates and dashboards to mean something. */
export const catalogue: readonly Title[] = [
    ["Stranger Things", "Sci-Fi", 51], ["The Crown", "Drama", 58], ["Dark", "Sci-Fi", 53],
    ["Money Heist", "Thriller", 50], ["Narcos", "Crime", 49], ["Bridgerton", "Romance", 62],
    ["The Witcher", "Fantasy", 60], ["Squid Game", "Thriller", 55], ["Ozark", "Crime", 60],
    ["Wednesday", "Comedy", 50], ["Black Mirror", "Sci-Fi", 60], ["Lupin", "Crime", 47],
    ["Our Planet", "Documentary", 50], ["The Queen's Gambit", "Drama", 60], ["Sex Education", "Comedy", 52],
    ["Mindhunter", "Crime", 55], ["Emily in Paris", "Comedy", 30], ["Cobra Kai", "Action", 32],
    ["Arcane", "Animation", 40], ["Chef's Table", "Documentary", 50], ["Glass Onion", "Comedy", 139],
    ["Extraction", "Action", 116], ["The Irishman", "Crime", 209], ["Roma", "Drama", 135],
].map(([title, genre, runtime], i) => ({
    title_id: `tt${String(i + 1).padStart(4, "0")}`,
    title: title as string,
    genre: genre as string,
    runtime_minutes: runtime as number,
}));

export const titlesById: ReadonlyMap<string, Title> = new Map(catalogue.map((t) => [t.title_id, t]));

/** User ids of a population of `size` users: user-000001 ... (finite, so unique viewers mean something). */
export function userId(index: number): string {
    return `user-${String(index + 1).padStart(6, "0")}`;
}

/** One player event, exactly as it travels on the raw topic (JSON). */
export interface ViewingEvent {
    event_id: string;
    session_id: string;
    user_id: string;
    title_id: string;
    device: Device;
    country: Country;
    event_type: EventType;
    position_seconds: number;
    bitrate_kbps: number;
    /** Epoch milliseconds, UTC. */
    event_time: number;
}

/**
 * One row of the 1-minute tumbling-window aggregate, per (window, title, country, device), as
 * the Flink job writes it to the processed topic and Druid ingests it. Keep these names.
 */
export interface AggregateRow {
    /** ISO-8601 UTC, e.g. "2026-01-01T00:01:00Z". */
    window_start: string;
    window_end: string;
    title_id: string;
    title: string;
    genre: string;
    country: Country;
    device: Device;
    /** Number of play events (session starts). */
    plays: number;
    /** Distinct user_id with any event in the group. */
    unique_viewers: number;
    /** Heartbeats x HEARTBEAT_INTERVAL_SECONDS. */
    watch_seconds: number;
}

/** The aggregate's window length, shared by the SQL template and anything that checks its output. */
export const WINDOW_MINUTES = 1;
