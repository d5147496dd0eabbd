import assert from "node:assert/strict";
import {
    catalogue, eventTypes, generateEvents, titlesById, validateEvent, validateRecord, viewingEventJsonSchema, type ViewingEvent,
} from "../../pipeline/events";

const options = { seed: 11, users: 50, concurrency: 10, startTime: Date.parse("2026-01-01T00:00:00Z") };

describe("pipeline event model and generator", () => {
    it("is deterministic: same seed, same events; another seed, other events", () => {
        const a = generateEvents(options, 500);
        assert.deepEqual(generateEvents(options, 500), a);
        assert.notDeepEqual(generateEvents({ ...options, seed: 12 }, 500), a);
        // A longer run starts with the shorter one (the producer and a test can take different counts).
        assert.deepEqual(generateEvents(options, 800).slice(0, 500), a);
    });

    it("produces valid events in event-time order from a finite population and the catalogue", () => {
        const events = generateEvents(options, 2000);
        for (const e of events) assert.equal(validateEvent(e).ok, true, JSON.stringify(e));
        for (let i = 1; i < events.length; i++) assert.ok(events[i]!.event_time >= events[i - 1]!.event_time);
        assert.ok(new Set(events.map((e) => e.user_id)).size <= options.users);
        assert.ok(events.every((e) => titlesById.has(e.title_id)));
        assert.equal(new Set(events.map((e) => e.event_id)).size, events.length, "event ids are unique");
        assert.deepEqual([...new Set(events.map((e) => e.event_type))].sort(), [...eventTypes].sort());
    });

    it("makes sessions play ... stop, one user one session at a time", () => {
        const events = generateEvents(options, 3000);
        const sessions = new Map<string, ViewingEvent[]>();
        for (const e of events) sessions.set(e.session_id, [...(sessions.get(e.session_id) ?? []), e]);
        let completed = 0;
        for (const list of sessions.values()) {
            assert.equal(list[0]!.event_type, "play");
            assert.equal(new Set(list.map((e) => e.user_id)).size, 1);
            const stops = list.filter((e) => e.event_type === "stop").length;
            assert.ok(stops <= 1 && (stops === 0 || list[list.length - 1]!.event_type === "stop"));
            completed += stops;
        }
        assert.ok(completed > 10, "some sessions end within the sample");
        // A user's sessions do not overlap: each one starts after the previous one stopped.
        const byUser = new Map<string, ViewingEvent[]>();
        for (const e of events) byUser.set(e.user_id, [...(byUser.get(e.user_id) ?? []), e]);
        for (const list of byUser.values()) {
            const open = new Set<string>();
            for (const e of list) {
                if (e.event_type === "play") { assert.equal(open.size, 0, `${e.user_id} starts a session while one is open`); open.add(e.session_id); }
                if (e.event_type === "stop") open.delete(e.session_id);
            }
        }
    });

    it("has a catalogue with unique ids, titles and genres", () => {
        assert.equal(new Set(catalogue.map((t) => t.title_id)).size, catalogue.length);
        assert.ok(catalogue.every((t) => t.title && t.genre && t.runtime_minutes > 0));
    });
});

describe("pipeline event schema", () => {
    const good = generateEvents(options, 1)[0]!;

    it("publishes a draft-07 JSON Schema that requires every field", () => {
        assert.equal(viewingEventJsonSchema.$schema, "http://json-schema.org/draft-07/schema#");
        assert.deepEqual([...(viewingEventJsonSchema.required as string[])].sort(), Object.keys(good).sort());
        const props = viewingEventJsonSchema.properties as Record<string, { enum?: string[]; type?: string }>;
        assert.deepEqual(props.event_type!.enum, [...eventTypes]);
        assert.equal(props.event_time!.type, "integer");
    });

    it("rejects what the Flink job dead-letters, naming the field", () => {
        const cases: Array<[string, string]> = [
            ["not json", "not JSON"],
            [JSON.stringify({ ...good, event_type: "rewind" }), "event_type"],
            [JSON.stringify({ ...good, event_time: "yesterday" }), "event_time"],
            [JSON.stringify({ ...good, position_seconds: -1 }), "position_seconds"],
            [JSON.stringify({ ...good, event_id: "x" }), "event_id"],
            [JSON.stringify({ event_id: good.event_id }), "session_id"],
        ];
        for (const [text, field] of cases) {
            const result = validateRecord(text);
            assert.equal(result.ok, false, text);
            if (!result.ok) assert.ok(result.errors.some((e) => e.includes(field)), `${text}: ${result.errors.join("; ")}`);
        }
        assert.equal(validateRecord(JSON.stringify(good)).ok, true);
    });
});
