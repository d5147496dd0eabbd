import { z } from "zod";

/** The viewing dashboard's own settings; its charts are the product's. */
export const supersetConfigSchema = z
    .strictObject({
        dashboard: z
            .strictObject({
                title: z.string().trim().min(1, "expected a title of 1 to 200 characters").max(200, "expected a title of 1 to 200 characters").default("Viewing activity"),
                /** How often an open dashboard reloads its charts. */
                refreshSeconds: z.number().int().min(10, "expected 10 to 86400 seconds").max(86400, "expected 10 to 86400 seconds").default(60),
            })
            .prefault({}),
    })
    .prefault({});

export type SupersetConfig = z.infer<typeof supersetConfigSchema>;
