/**
 * Sizing profiles. A profile gives every tier a share of the memory budget; each tier sizes
 * its containers (and the JVM heaps inside them) to fit that share, and the tests hold the
 * rendered limits to it. Counts here are defaults that stack config may override.
 */
export const tierNames = ["objectStore", "kafka", "flink", "druid", "superset", "pipeline"] as const;
export type TierName = (typeof tierNames)[number];

export interface Profile {
    /** Sum of all container memory limits with every tier enabled. */
    budgetMiB: number;
    tierMiB: Record<TierName, number>;
    kafka: { brokers: number; controllers: number };
    flink: { taskManagers: number; slotsPerTaskManager: number };
    /**
     * Instances of Druid's query roles. Not config keys: each instance is sized from the profile's
     * Druid table, so a count only changes together with the share it must fit.
     */
    druid: { brokers: number; historicals: number };
}

export const profiles = {
    // 8 GiB of container limits leaves a 16 GiB laptop room for the OS, Docker and a browser.
    laptop: {
        budgetMiB: 8192,
        tierMiB: { objectStore: 384, kafka: 2304, flink: 2048, druid: 2048, superset: 1024, pipeline: 384 },
        kafka: { brokers: 1, controllers: 0 },
        flink: { taskManagers: 1, slotsPerTaskManager: 4 },
        druid: { brokers: 1, historicals: 1 },
    },
    // A team workstation or small VM: a real controller quorum and three brokers.
    workstation: {
        budgetMiB: 16384,
        tierMiB: { objectStore: 768, kafka: 5888, flink: 4096, druid: 3584, superset: 1280, pipeline: 768 },
        kafka: { brokers: 3, controllers: 3 },
        flink: { taskManagers: 2, slotsPerTaskManager: 4 },
        druid: { brokers: 1, historicals: 1 },
    },
    // A real cluster (say three nodes of 16 GiB): peers of each kind on different nodes where the
    // engine survives losing one. Kafka keeps RF 3 with 2 in sync through a broker's restart; Druid's
    // default load rule keeps two replicas of each segment, one per historical; Flink's share has
    // room for a fourth TaskManager.
    cluster: {
        budgetMiB: 32768,
        tierMiB: { objectStore: 1024, kafka: 10496, flink: 10240, druid: 8320, superset: 1920, pipeline: 768 },
        kafka: { brokers: 3, controllers: 3 },
        flink: { taskManagers: 3, slotsPerTaskManager: 4 },
        druid: { brokers: 2, historicals: 2 },
    },
} as const satisfies Record<string, Profile>;

export type ProfileName = keyof typeof profiles;
export const profileNames = Object.keys(profiles) as [ProfileName, ...ProfileName[]];
