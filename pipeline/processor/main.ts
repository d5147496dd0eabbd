/** Processor entry point: a one-shot submitter (exit 0 once the job runs, 1 on failure). */
import { createLogger } from "../shared/log";
import { parseProcessorConfig } from "./config";
import { submitPipeline } from "./submit";

export async function main(): Promise<number> {
    const config = parseProcessorConfig();
    const log = createLogger("processor", config.LOG_LEVEL);
    try {
        await submitPipeline(config, log);
        return 0;
    } catch (error) {
        log.error("fatal", { error: (error as Error).message });
        return 1;
    }
}
