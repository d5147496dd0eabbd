/**
 * One entry point for the one image: `main.js producer|processor|consumer`. A configuration
 * error exits 2 with every bad variable named; a fatal runtime error exits 1.
 */
// First, before anything loads kafkajs: its producer must pick up the linear grouping (kafkajs-grouping.ts says why).
import "./shared/kafkajs-grouping";
import { main as consumer } from "./consumer/main";
import { main as processor } from "./processor/main";
import { main as producer } from "./producer/main";
import { ConfigError } from "./shared/env";

const apps: Record<string, () => Promise<number>> = { producer, processor, consumer };

async function run(app: string | undefined): Promise<number> {
    const start = app ? apps[app] : undefined;
    if (!start) {
        process.stderr.write(`usage: main <${Object.keys(apps).join("|")}> (got ${app ?? "nothing"})\n`);
        return 2;
    }
    try {
        return await start();
    } catch (error) {
        if (error instanceof ConfigError) {
            process.stderr.write(`${app}: ${error.message}\n`);
            return 2;
        }
        throw error;
    }
}

run(process.argv[2]).then(
    (code) => { process.exitCode = code; },
    (error: unknown) => {
        process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
        process.exitCode = 1;
    },
);
