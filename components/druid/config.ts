import { z } from "zod";

/** Granularities Druid accepts, finest first (the order is what the refinement below compares). */
export const granularities = ["NONE", "SECOND", "MINUTE", "FIFTEEN_MINUTE", "THIRTY_MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR"] as const;
export type Granularity = (typeof granularities)[number];
/** Segments are time chunks: NONE makes no sense for them. */
const segmentGranularities = granularities.filter((g) => g !== "NONE") as [Exclude<Granularity, "NONE">, ...Exclude<Granularity, "NONE">[]];

export const metricTypes = ["count", "longSum", "longMax", "longMin", "doubleSum", "doubleMax", "doubleMin"] as const;
export const timestampFormats = ["iso", "millis", "posix", "micro", "nano", "auto"] as const;

/** Druid column names: no empty names, and not `__time`, which Druid reserves. */
const columnName = z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "expected a column name of letters, digits and '_' (1-128 characters)")
    .refine((n) => n !== "__time", "__time is Druid's own timestamp column");

const metric = z.strictObject({
    name: columnName,
    type: z.enum(metricTypes),
    /** The input field to aggregate; defaults to `name`. `count` reads no field. */
    fieldName: columnName.optional(),
});

/**
 * The processed-aggregates datasource: the Flink job's per-minute rows on the processed topic,
 * rolled up by Druid. Defaults match those rows:
 * {window_start, window_end, title_id, title, genre, country, device, plays, unique_viewers, watch_seconds}.
 */
export const dataSourceSchema = z
    .strictObject({
        dataSource: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$/, "expected 1-128 characters of a-z, A-Z, 0-9, '_', '-'").default("viewing_aggregates"),
        /** A Kafka topic; defaults to kafka.topics.processed.name. */
        topic: z.string().optional(),
        timestamp: z
            .strictObject({ column: columnName.default("window_start"), format: z.enum(timestampFormats).default("iso") })
            .prefault({}),
        dimensions: z.array(columnName).min(1, "expected at least one dimension").default(["title_id", "title", "genre", "country", "device"]),
        metrics: z
            .array(metric)
            .min(1, "expected at least one metric")
            .default([
                { name: "input_rows", type: "count" },
                { name: "plays", type: "longSum" },
                // Distinct viewers do not add up across windows; the largest window's count is the honest roll-up.
                { name: "unique_viewers", type: "longMax" },
                { name: "watch_seconds", type: "doubleSum" },
            ]),
        segmentGranularity: z.enum(segmentGranularities).default("HOUR"),
        queryGranularity: z.enum(granularities).default("MINUTE"),
        /** Read the topic from its start, so rows produced before the supervisor existed are not lost. */
        useEarliestOffset: z.boolean().default(true),
    })
    .superRefine((ds, ctx) => {
        if (granularities.indexOf(ds.queryGranularity) > granularities.indexOf(ds.segmentGranularity)) {
            ctx.addIssue({
                code: "custom",
                path: ["queryGranularity"],
                input: ds.queryGranularity,
                message: `expected a granularity no coarser than segmentGranularity ${ds.segmentGranularity}`,
            });
        }
        const columns: { name: string; path: (string | number)[] }[] = [
            { name: ds.timestamp.column, path: ["timestamp", "column"] },
            ...ds.dimensions.map((name, i) => ({ name, path: ["dimensions", i] })),
            ...ds.metrics.map((m, i) => ({ name: m.name, path: ["metrics", i, "name"] })),
        ];
        const show = (path: (string | number)[]) => path.map((p, i) => (typeof p === "number" ? `[${p}]` : i > 0 ? `.${p}` : p)).join("");
        for (const [i, col] of columns.entries()) {
            const first = columns.findIndex((c) => c.name === col.name);
            if (first === i) continue;
            // Reported at the dimension when one is involved: the list users most often edit.
            const at = columns[first].path[0] === "dimensions" ? columns[first] : col;
            ctx.addIssue({
                code: "custom",
                path: at.path,
                input: col.name,
                message: `"${col.name}" is both ${show(columns[first].path)} and ${show(col.path)}; timestamp, dimensions and metrics need distinct names`,
            });
        }
    })
    .prefault({});

export const druidConfigSchema = z
    .strictObject({
        aggregates: dataSourceSchema,
    })
    .prefault({});

export type DruidConfig = z.infer<typeof druidConfigSchema>;
export type DataSourceConfig = DruidConfig["aggregates"];
