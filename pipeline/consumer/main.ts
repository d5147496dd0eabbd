/** Consumer entry point: config from the environment, /healthz, JSON logs, exit 1 on anything fatal. */
import { onShutdown, startHealthServer } from "../shared/health";
import { createLogger } from "../shared/log";
import { Archiver, StoppedError } from "./archiver";
import { parseConsumerConfig } from "./config";

export async function main(): Promise<number> {
    const config = parseConsumerConfig();
    const log = createLogger("consumer", config.LOG_LEVEL);
    const archiver = new Archiver(config, log);
    const health = config.HEALTH_PORT > 0 ? await startHealthServer(config.HEALTH_PORT, () => ({ ...archiver.status })) : undefined;
    onShutdown(async (signal) => {
        log.info("stopping", { signal });
        await archiver.stop();
    });
    try {
        await archiver.run();
        return 0;
    } catch (error) {
        if (error instanceof StoppedError) {
            log.info("stopped", { ...archiver.status });
            return 0;
        }
        log.error("fatal", { error: (error as Error).message });
        return 1;
    } finally {
        health?.close();
    }
}
