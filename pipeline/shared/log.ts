/**
 * Structured logs: one JSON object per line on stdout (what Docker and any log shipper expect),
 * with a timestamp, level, app and message, plus fields. kafkajs' own logs go through here too.
 */
import { logLevel, type logCreator } from "kafkajs";

export type Level = "debug" | "info" | "warn" | "error";
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
    debug(msg: string, fields?: Record<string, unknown>): void;
    info(msg: string, fields?: Record<string, unknown>): void;
    warn(msg: string, fields?: Record<string, unknown>): void;
    error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(app: string, minLevel: Level = "info", write: (line: string) => void = (l) => process.stdout.write(l + "\n")): Logger {
    const emit = (level: Level) => (msg: string, fields: Record<string, unknown> = {}) => {
        if (order[level] < order[minLevel]) return;
        write(JSON.stringify({ ts: new Date().toISOString(), level, app, msg, ...fields }));
    };
    return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

/** Routes kafkajs' logger into ours (kafkajs' own console format is not JSON). */
export function kafkaLogCreator(logger: Logger): logCreator {
    return () => ({ level, log }) => {
        const { message, ...rest } = log;
        const fields = { ...rest, component: "kafkajs" };
        if (level === logLevel.ERROR) logger.error(message, fields);
        else if (level === logLevel.WARN) logger.warn(message, fields);
        else if (level === logLevel.INFO) logger.info(message, fields);
        else logger.debug(message, fields);
    };
}

/** The kafkajs level matching ours, so kafkajs does not even format what we would drop. */
export function kafkaLogLevel(level: Level): logLevel {
    return { debug: logLevel.DEBUG, info: logLevel.INFO, warn: logLevel.WARN, error: logLevel.ERROR }[level];
}
