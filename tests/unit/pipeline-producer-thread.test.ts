/**
 * The producer's generator thread and kafkajs' linear grouping: what they hand on is exactly what
 * the in-process code makes, and the grouping fix takes effect where the apps start.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { viewingEvents } from "../../pipeline/events";
import { generatorThread, murmur2, toMessage, type OutgoingEvent } from "../../pipeline/producer/generator-thread";
import { livePacer, pace, type Clock } from "../../pipeline/producer/pacing";
import { groupingModule, linearGrouping } from "../../pipeline/shared/kafkajs-grouping";
// kafkajs' own murmur2 (64-bit emulation), the one its DefaultPartitioner uses; kafkajs has no types for its sources.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const kafkajsMurmur2 = require("kafkajs/src/producer/partitioners/default/murmur2") as (key: string) => number;

const options = { seed: 11, users: 2000, concurrency: 300, startTime: Date.parse("2026-01-01T00:00:00Z") };

describe("producer generator thread", () => {
    it("hands on the in-process generator's events and messages, in order, across chunks", async () => {
        const thread = generatorThread({ ...options, chunkEvents: 1000 });
        try {
            const stream = viewingEvents(options);
            // 3.5 chunks: crossing chunk ends, and asking for more while some are still unused.
            for (let i = 0; i < 3500; i++) {
                await thread.ready();
                const event = stream.next().value;
                const message = toMessage(event);
                const expected: OutgoingEvent = { event_time: event.event_time, ...message, keyHash: murmur2(message.key) };
                assert.deepEqual(thread.peek(), expected, `event ${i} (peek)`);
                assert.deepEqual(thread.shift(), expected, `event ${i}`);
            }
        } finally {
            await thread.close();
        }
    });

    it("has nothing to peek at before its first chunk arrives, and ready() waits for it", async () => {
        const thread = generatorThread({ ...options, chunkEvents: 50 });
        try {
            assert.equal(thread.peek(), undefined);
            assert.throws(() => thread.shift(), /wait for ready/);
            await thread.ready();
            assert.ok(thread.peek());
        } finally {
            await thread.close();
        }
    });

    it("paces live from the thread: each event released once the clock reaches its time", async () => {
        const start = Date.parse("2026-11-26T12:00:00Z");
        let now = start;
        const clock: Clock = { now: () => now, sleep: async (ms) => { now += ms; } };
        const thread = generatorThread({ seed: 3, users: 5000, concurrency: 50 * 27, startTime: start, chunkEvents: 500 });
        const sent: Array<{ at: number; event: OutgoingEvent }> = [];
        try {
            await pace({
                pacer: livePacer(thread), clock, batchMax: 500, max: 3000, lingerMs: 50, stopped: () => false,
                send: async (batch) => { for (const event of batch) sent.push({ at: now, event }); },
            });
        } finally {
            await thread.close();
        }
        assert.equal(sent.length, 3000);
        for (const s of sent) assert.ok(s.event.event_time <= s.at, `an event went out ${s.event.event_time - s.at} ms before its time`);
        const expected = viewingEvents({ seed: 3, users: 5000, concurrency: 50 * 27, startTime: start });
        for (const s of sent) assert.equal(s.event.value, toMessage(expected.next().value).value);
    });
});

describe("the key hash the generator thread computes", () => {
    it("is kafkajs' murmur2 (the Java client's) for every key length and for non-ASCII keys", () => {
        const keys = ["", "a", "ab", "abc", "abcd", "user-000001", "user-999999", "ümlaut-ß", "日本語のキー", ...Array.from({ length: 2000 }, (_, i) => `user-${String(i * 7919).padStart(6, "0")}`)];
        for (const key of keys) assert.equal(murmur2(key), kafkajsMurmur2(key), `key ${JSON.stringify(key)}`);
    });
});

describe("kafkajs linear grouping (tulios/kafkajs#1576)", () => {
    /** kafkajs' own grouping, loaded from its file as kafkajs would load it. */
    const original = (() => {
        const module = { exports: {} as unknown };
        new Function("module", "exports", "require", fs.readFileSync(groupingModule, "utf8"))(module, module.exports, require);
        return module.exports as typeof linearGrouping;
    })();

    it("groups exactly as kafkajs' own grouping does", () => {
        const partitionMetadata = Array.from({ length: 6 }, (_, partitionId) => ({ partitionId }));
        const messages = Array.from({ length: 5000 }, (_, i) => ({ key: `user-${(i * 7919) % 1000}`, value: String(i) }));
        const partitioner = ({ message }: { message: unknown }) => Number((message as { key: string }).key.slice(5)) % 6;
        const args = { topic: "t", partitionMetadata, messages, partitioner };
        assert.deepEqual(linearGrouping(args), original(args));
        assert.deepEqual(Object.keys(linearGrouping(args)), Object.keys(original(args)));
        assert.deepEqual(linearGrouping({ ...args, partitionMetadata: [] }), original({ ...args, partitionMetadata: [] }));
    });

    it("is in effect in the apps' process: pipeline/main.ts installs it before anything loads kafkajs", () => {
        const repo = path.resolve(__dirname, "../..");
        // The entry's imports only, with no app to run: then ask which grouping kafkajs' producer got.
        const script = `process.argv[2] = "none"; require("./pipeline/main.ts");
            const g = require("./pipeline/shared/kafkajs-grouping.ts");
            const sendMessages = Object.keys(require.cache).find((k) => k.endsWith("/kafkajs/src/producer/sendMessages.js"));
            process.stdout.write(JSON.stringify({ installed: g.linearGroupingInstalled(), kafkajsLoaded: Boolean(sendMessages) }));`;
        // The entry then refuses "none" (usage, exit 2): what matters is what was loaded by then.
        const run = spawnSync(process.execPath, ["--require", "tsx/cjs", "-e", script], { cwd: repo, encoding: "utf8" });
        assert.match(run.stderr, /usage: main/);
        assert.deepEqual(JSON.parse(run.stdout), { installed: true, kafkajsLoaded: true });
    });
});
