/** The producer's batch codecs: zstd through Node's own zlib as a kafkajs codec, chosen by PRODUCER_COMPRESSION. */
import assert from "node:assert/strict";
import { CompressionCodecs, CompressionTypes } from "kafkajs";
import { generateEvents } from "../../pipeline/events";
import { kafkaCompression, registerZstd } from "../../pipeline/producer/compression";
import { parseProducerConfig } from "../../pipeline/producer/config";
import { toMessage } from "../../pipeline/producer/generator-thread";

describe("producer compression", () => {
    it("zstd by default; gzip and none on request; anything else named with what is allowed", () => {
        assert.equal(parseProducerConfig({ KAFKA_BOOTSTRAP_SERVERS: "k:9092" }).PRODUCER_COMPRESSION, "zstd");
        assert.equal(parseProducerConfig({ KAFKA_BOOTSTRAP_SERVERS: "k:9092", PRODUCER_COMPRESSION: "gzip" }).PRODUCER_COMPRESSION, "gzip");
        assert.throws(() => parseProducerConfig({ KAFKA_BOOTSTRAP_SERVERS: "k:9092", PRODUCER_COMPRESSION: "lz4" }),
            (e: Error) => /PRODUCER_COMPRESSION \("lz4"\): expected zstd, gzip, none/.test(e.message));
    });

    it("maps each codec to its kafkajs type, registering the zstd codec kafkajs lacks", () => {
        assert.equal(kafkaCompression("gzip"), CompressionTypes.GZIP);
        assert.equal(kafkaCompression("none"), CompressionTypes.None);
        assert.equal(kafkaCompression("zstd"), CompressionTypes.ZSTD);
        assert.doesNotThrow(() => CompressionCodecs[CompressionTypes.ZSTD]());
    });

    it("zstd: a batch of events comes back byte for byte, several times smaller", async () => {
        registerZstd();
        const codec = CompressionCodecs[CompressionTypes.ZSTD]() as { compress(e: { buffer: Buffer }): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> };
        const events = generateEvents({ seed: 3, users: 1000, startTime: Date.parse("2026-01-01T00:00:00Z") }, 2000);
        const buffer = Buffer.from(events.map((e) => JSON.stringify(toMessage(e))).join("\n"));
        const compressed = await codec.compress({ buffer });
        assert.ok(compressed.length * 3 < buffer.length, `${buffer.length} B compressed to ${compressed.length} B`);
        assert.deepEqual(await codec.decompress(compressed), buffer);
    });
});
