/**
 * kafkajs 2.2.4 groups a send's messages by partition with `[...current, message]` per message,
 * which copies the partition's list each time: quadratic in the batch. At the producer's
 * full-speed batch (5,000 events over 6 partitions) that grouping was 17% of the app's CPU.
 * tulios/kafkajs#1576 makes it linear; it is not released. Until it is, this installs a linear
 * grouping with the same output (a unit test compares both on the pinned file) in kafkajs'
 * place, which works because kafkajs stays a plain module, outside the app's bundle.
 *
 * Importing this module installs it when kafkajs' producer is not loaded yet, so the apps' entry
 * (pipeline/main.ts) imports it first; a test checks that it took effect there.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { Module } from "node:module";

/** The module kafkajs' sendMessages.js requires; its content is checked, so a kafkajs bump is noticed. */
export const groupingModule = require.resolve("kafkajs/src/producer/groupMessagesPerPartition");
export const patchedGroupingSha256 = "ea72357721fbf67770b5e06b9bf4260faa1e60f3affb556bff2cc7892c1881fb";

type Partitioner = (args: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number;

export function linearGrouping({ topic, partitionMetadata, messages, partitioner }: { topic: string; partitionMetadata: unknown[]; messages: unknown[]; partitioner: Partitioner }): Record<number, unknown[]> {
    if (partitionMetadata.length === 0) return {};
    const result: Record<number, unknown[]> = {};
    for (const message of messages) {
        const partition = partitioner({ topic, partitionMetadata, message });
        (result[partition] ??= []).push(message);
    }
    return result;
}

/**
 * Puts the linear grouping in the module cache before kafkajs' producer loads it. Throws when
 * kafkajs loaded first (too late to take effect) or when the pinned file changed.
 */
export function installLinearGrouping(): void {
    if (linearGroupingInstalled()) return;
    if (kafkajsProducerLoaded()) {
        throw new Error("kafkajs' producer was loaded before installLinearGrouping(): import pipeline/shared/kafkajs-grouping first");
    }
    const sha = createHash("sha256").update(fs.readFileSync(groupingModule)).digest("hex");
    if (sha !== patchedGroupingSha256) {
        throw new Error(`kafkajs' ${groupingModule} is not the file this fix replaces (sha256 ${sha}); check whether kafkajs fixed tulios/kafkajs#1576 and drop or update the fix`);
    }
    const module = new Module(groupingModule);
    module.filename = groupingModule;
    module.loaded = true;
    module.exports = linearGrouping;
    require.cache[groupingModule] = module;
}

export function linearGroupingInstalled(): boolean {
    return require.cache[groupingModule]?.exports === linearGrouping;
}

function kafkajsProducerLoaded(): boolean {
    return require.cache[groupingModule] !== undefined || Object.keys(require.cache).some((k) => k.endsWith("/kafkajs/src/producer/sendMessages.js"));
}

if (!kafkajsProducerLoaded()) installLinearGrouping();
