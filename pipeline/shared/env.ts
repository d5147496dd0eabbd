/**
 * Configuration from environment variables, through a zod schema whose keys ARE the variable
 * names: every problem is reported with the variable, what it holds and what is expected, all at
 * once, before the app touches anything.
 */
import { z } from "zod";

export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "ConfigError";
    }
}

/** Parses `env` (only the schema's keys are read); throws a ConfigError naming each bad variable. */
export function parseEnv<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
    const input: Record<string, string | undefined> = {};
    for (const key of Object.keys(schema.shape)) {
        // An empty variable (FOO=) means "not set", as in most shells' ${FOO:-default}.
        const value = env[key];
        input[key] = value === undefined || value.trim() === "" ? undefined : value.trim();
    }
    const result = schema.safeParse(input);
    if (result.success) return result.data;
    throw new ConfigError(result.error.issues.map((issue) => {
        const key = String(issue.path[0] ?? "(config)");
        if (input[key] === undefined) return `${key} (not set): ${issue.code === "invalid_type" ? "required" : issue.message}`;
        return `${key} ("${input[key]}"): ${issue.message}`;
    }));
}

/** Reusable field types: numbers and booleans arrive as strings in the environment. */
export const env = {
    string: () => z.string(),
    int: (min: number, max: number) =>
        z.coerce.number({ error: "expected a number" }).int("expected an integer")
            .min(min, `expected ${min} to ${max}`).max(max, `expected ${min} to ${max}`),
    number: (min: number) => z.coerce.number({ error: "expected a number" }).min(min, `expected at least ${min}`),
    bool: () => z.enum(["true", "false", "1", "0"], "expected true or false").transform((v) => v === "true" || v === "1"),
    url: () => z.url({ error: "expected a URL such as http://host:port" }).transform((u) => u.replace(/\/+$/, "")),
    /** Comma-separated host:port list. */
    brokers: () => z.string().transform((s) => s.split(",").map((b) => b.trim()).filter(Boolean))
        .pipe(z.array(z.string().regex(/^[^\s:,]+:\d{1,5}$/, "expected host:port[,host:port...]")).min(1, "expected at least one host:port")),
    topic: () => z.string().regex(/^[a-zA-Z0-9_-][a-zA-Z0-9._-]{0,248}$/, "expected a Kafka topic name (a-z, A-Z, 0-9, '.', '_', '-')"),
    level: () => z.enum(["debug", "info", "warn", "error"], "expected debug, info, warn or error"),
};
