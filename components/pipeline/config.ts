import { z } from "zod";

/** The pipeline apps' settings the stack exposes; the apps take many more (see pipeline/*\/config.ts). */
export const pipelineConfigSchema = z
    .strictObject({
        /** Viewing events per second the producer sends. */
        eventsPerSecond: z.number().min(1, "expected 1 to 100000 events per second").max(100_000, "expected 1 to 100000 events per second").default(50),
        /** Size of the simulated user population. */
        users: z.number().int().min(1, "expected 1 to 10000000 users").max(10_000_000, "expected 1 to 10000000 users").default(10_000),
    })
    .prefault({});
