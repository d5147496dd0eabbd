/**
 * Renders the job's SQL files (sql/*.sql, in name order) with the deployment's topics, servers
 * and catalog, and the session properties the job runs with. The result's hash names the job
 * version: the submitter compares it with the running job's to decide whether to touch it.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { icebergCatalogOptions, withClause } from "../../components/iceberg/options";
import { catalogue, countries, devices, eventTypes, HEARTBEAT_INTERVAL_SECONDS, WINDOW_MINUTES } from "../events/model";
import type { ProcessorConfig } from "./config";

/** Next to this file in the source tree, and next to the bundle in the image (the Dockerfile copies it there). */
export const defaultSqlDir = path.join(__dirname, "sql");

/** A Flink SQL string literal's body: quotes doubled. */
const lit = (s: string) => s.replace(/'/g, "''");
const list = (items: readonly string[]) => items.map((s) => `'${lit(s)}'`).join(", ");

/** The template values; all strings go in verbatim, so literals are escaped here. */
export function templateValues(c: ProcessorConfig): Record<string, string> {
    const catalog = icebergCatalogOptions({
        uri: c.ICEBERG_REST_URI,
        warehouseBucket: c.ICEBERG_WAREHOUSE_BUCKET,
        s3Endpoint: c.S3_ENDPOINT,
        pathStyle: c.S3_PATH_STYLE,
        region: c.S3_REGION,
    });
    if (c.ICEBERG_S3_ACCESS_KEY_ID && c.ICEBERG_S3_SECRET_ACCESS_KEY) {
        catalog["s3.access-key-id"] = c.ICEBERG_S3_ACCESS_KEY_ID;
        catalog["s3.secret-access-key"] = c.ICEBERG_S3_SECRET_ACCESS_KEY;
    }
    return {
        rawTopic: lit(c.TOPIC_RAW),
        processedTopic: lit(c.TOPIC_PROCESSED),
        deadLetterTopic: lit(c.TOPIC_DLQ),
        bootstrapServers: lit(c.KAFKA_BOOTSTRAP_SERVERS.join(",")),
        groupId: lit(c.PIPELINE_NAME),
        transactionalIdPrefix: lit(c.PIPELINE_NAME),
        watermarkDelaySeconds: String(c.WATERMARK_DELAY_SECONDS),
        windowMinutes: String(WINDOW_MINUTES),
        heartbeatSeconds: String(HEARTBEAT_INTERVAL_SECONDS),
        catalogOptions: withClause(catalog),
        database: c.ICEBERG_DATABASE,
        table: c.ICEBERG_TABLE,
        uuidPattern: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        devices: list(devices),
        countries: list(countries),
        eventTypes: list(eventTypes),
        titleCases: catalogue.map((t) => `WHEN '${lit(t.title_id)}' THEN '${lit(t.title)}'`).join(" "),
        genreCases: catalogue.map((t) => `WHEN '${lit(t.title_id)}' THEN '${lit(t.genre)}'`).join(" "),
    };
}

/** Replaces every {{name}}; an unknown name is a bug in a template, so it throws. */
export function fillTemplate(template: string, values: Record<string, string>): string {
    return template.replace(/\{\{([\w-]+)\}\}/g, (_, name: string) => {
        const value = values[name];
        if (value === undefined) throw new Error(`SQL template uses {{${name}}}, which has no value`);
        return value;
    });
}

/**
 * Splits a script into statements at a ';' that ends a line, keeping an EXECUTE STATEMENT SET
 * BEGIN ... END block whole. Comment lines are dropped (the gateway takes one statement per call).
 */
export function splitStatements(script: string): string[] {
    const statements: string[] = [];
    let current: string[] = [];
    let inSet = false;
    for (const line of script.split("\n")) {
        if (/^\s*--/.test(line) || (current.length === 0 && line.trim() === "")) continue;
        current.push(line);
        if (/^\s*EXECUTE\s+STATEMENT\s+SET\b/i.test(line)) inSet = true;
        const ends = /;\s*$/.test(line);
        if (ends && (!inSet || /^\s*END\s*;\s*$/i.test(line))) {
            statements.push(current.join("\n").trim().replace(/;$/, ""));
            current = [];
            inSet = false;
        }
    }
    if (current.join("").trim()) throw new Error(`SQL script ends without ';': ${current.join("\n").slice(0, 200)}`);
    return statements;
}

export interface RenderedJob {
    /** Session properties (SET) the job is created with, savepoint path excluded. */
    properties: Record<string, string>;
    statements: string[];
    /** First 12 hex digits of SHA-256 over properties and statements. */
    version: string;
}

export function renderJob(c: ProcessorConfig, sqlDir = defaultSqlDir): RenderedJob {
    const values = templateValues(c);
    const all = fs.readdirSync(sqlDir).sort();
    // <name>.fragment.sql is no statement: it is pasted where a template says {{<name>}}, comment lines dropped.
    for (const f of all.filter((f) => f.endsWith(".fragment.sql"))) {
        const text = fs.readFileSync(path.join(sqlDir, f), "utf8").split("\n").filter((l) => !/^\s*--/.test(l)).join("\n").trim();
        values[f.replace(/\.fragment\.sql$/, "")] = fillTemplate(text, values);
    }
    const files = all.filter((f) => f.endsWith(".sql") && !f.endsWith(".fragment.sql"));
    if (files.length === 0) throw new Error(`no .sql files in ${sqlDir}`);
    const statements = files.flatMap((f) => splitStatements(fillTemplate(fs.readFileSync(path.join(sqlDir, f), "utf8"), values)));
    const properties: Record<string, string> = {
        // Window bounds are formatted as UTC ('Z'), whatever the cluster's time zone.
        "table.local-time-zone": "UTC",
        "execution.checkpointing.interval": `${c.CHECKPOINT_INTERVAL_SECONDS} s`,
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "table.exec.source.idle-timeout": `${c.SOURCE_IDLE_TIMEOUT_SECONDS * 1000} ms`,
        ...(c.PARALLELISM ? { "parallelism.default": String(c.PARALLELISM) } : {}),
    };
    const version = createHash("sha256").update(JSON.stringify({ properties, statements })).digest("hex").slice(0, 12);
    return { properties, statements, version };
}
