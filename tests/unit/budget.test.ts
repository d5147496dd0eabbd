import { strict as assert } from "assert";
import { installMocks } from "./mocks";
installMocks();
import { ConfigError, parseStackConfig, profiles, tierNames } from "../../components/config";
import { checkMemoryPlan } from "../../components/stack";
import { build, T } from "./build";
import { PROJECT } from "./mocks";

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe("memory budget", () => {
    for (const [name, profile] of Object.entries(profiles)) {
        it(`${name}: the tiers' shares add up to the profile's budget`, () => {
            assert.equal(sum(tierNames.map((t) => profile.tierMiB[t])), profile.budgetMiB);
        });
    }

    it("laptop: every tier enabled stays within 8 GiB of container limits", () => {
        assert.ok(profiles.laptop.budgetMiB <= 8192);
    });

    describe("cluster: the preflight holds the highly available set to its shares", () => {
        const cluster = (raw: Record<string, string> = {}) =>
            parseStackConfig(Object.fromEntries(Object.entries({ profile: "cluster", ...raw }).map(([k, v]) => [`${PROJECT}:${k}`, v])), PROJECT, "test");

        it("passes with either Kafka UI, and with a fourth TaskManager", () => {
            for (const raw of [{}, { kafka: '{"ui": "control-center"}' }, { flink: '{"taskManagers": 4}' }] as Record<string, string>[]) assert.doesNotThrow(() => checkMemoryPlan(cluster(raw)), JSON.stringify(raw));
        });

        it("refuses a fifth TaskManager and a fourth broker, naming the cluster profile's share", () => {
            assert.throws(() => checkMemoryPlan(cluster({ flink: '{"taskManagers": 5}' })), (e: unknown) => e instanceof ConfigError && /the flink tier needs 12032 MiB .*cluster profile's share of 10240 MiB/.test(e.message));
            assert.throws(() => checkMemoryPlan(cluster({ kafka: '{"brokers": 4}' })), (e: unknown) => e instanceof ConfigError && /the kafka tier needs \d+ MiB .*cluster profile's share of 10496 MiB/.test(e.message));
        });
    });

    for (const profile of Object.keys(profiles)) {
        it(`${profile}: rendered containers stay inside each tier's share, and the total inside the budget`, async () => {
            const b = await build({ profile });
            const containers = b.ofType(T.container);
            const limits = containers.map((c) => Number(c.inputs.memory));
            assert.ok(limits.every((m) => m > 0), "every container has a memory limit");
            const byTier = new Map<string, number>();
            for (const c of containers) {
                const tier = (c.inputs.labels as { label: string; value: string }[]).find((l) => l.label === "dataplatform.tier")!.value;
                byTier.set(tier, (byTier.get(tier) ?? 0) + Number(c.inputs.memory));
            }
            const shares = profiles[profile as keyof typeof profiles].tierMiB;
            for (const [tier, used] of byTier) assert.ok(used <= shares[tier as keyof typeof shares], `${tier} uses ${used} MiB, share ${shares[tier as keyof typeof shares]}`);
            assert.ok(sum(limits) <= profiles[profile as keyof typeof profiles].budgetMiB);
            // The README's table comes from this output: it must match what is rendered.
            assert.deepEqual(b.stack.outputs.memoryMiB, Object.fromEntries(containers.map((c) => [c.name, Number(c.inputs.memory)])));
        });
    }
});
