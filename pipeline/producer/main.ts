/** Producer entry point: config from the environment, /healthz, JSON logs, exit 1 on anything fatal. */
import { startHealthServer, onShutdown } from "../shared/health";
import { createLogger } from "../shared/log";
import { parseProducerConfig } from "./config";
import { ViewingProducer } from "./producer";

export async function main(): Promise<number> {
    const config = parseProducerConfig();
    const log = createLogger("producer", config.LOG_LEVEL);
    const producer = new ViewingProducer(config, log);
    const health = config.HEALTH_PORT > 0 ? await startHealthServer(config.HEALTH_PORT, () => ({ ...producer.status })) : undefined;
    onShutdown(async (signal) => {
        log.info("stopping", { signal });
        producer.stop();
    });
    try {
        const { sent, seconds } = await producer.run();
        log.info("stopped", { sent, seconds, eventsPerSec: Math.round(sent / Math.max(seconds, 0.001)) });
        return 0;
    } catch (error) {
        log.error("fatal", { error: (error as Error).message, sent: producer.status.sent });
        return 1;
    } finally {
        health?.close();
    }
}
