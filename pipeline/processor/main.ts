/**
 * Processor entry point. One-shot by default (exit 0 once the job runs, 1 on failure); with
 * WATCH_INTERVAL_SECONDS it stays up as the job's keeper: the platform starts dependents once
 * /healthz says the job is running, and a job that stops makes the container exit and restart,
 * which resubmits (the submitter is idempotent).
 */
import { startHealthServer, onShutdown } from "../shared/health";
import { createLogger, type Logger } from "../shared/log";
import { parseProcessorConfig, type ProcessorConfig } from "./config";
import { JobManager, terminalStates } from "./flink-api";
import { submitPipeline } from "./submit";

export async function main(): Promise<number> {
    const config = parseProcessorConfig();
    const log = createLogger("processor", config.LOG_LEVEL);
    try {
        const { jobId } = await submitPipeline(config, log);
        return config.WATCH_INTERVAL_SECONDS > 0 ? await watch(config, jobId, log) : 0;
    } catch (error) {
        log.error("fatal", { error: (error as Error).message });
        return 1;
    }
}

/** Resolves 0 on SIGTERM (the job keeps running on the cluster), 1 when the job reaches a terminal state. */
export async function watch(config: ProcessorConfig, jobId: string, log: Logger): Promise<number> {
    const jm = new JobManager(config.FLINK_REST_URL);
    let state = "RUNNING";
    const server = config.HEALTH_PORT > 0 ? await startHealthServer(config.HEALTH_PORT, () => ({ healthy: state === "RUNNING", jobId, state })) : undefined;
    return new Promise<number>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        const finish = (code: number) => {
            clearTimeout(timer);
            server?.close();
            resolve(code);
        };
        onShutdown(async (signal) => {
            log.info("stopping; the job keeps running on the cluster", { signal, jobId });
            finish(0);
        });
        const check = async () => {
            try {
                state = await jm.state(jobId);
            } catch (error) {
                // An unreachable JobManager is reported unhealthy, not fatal: it may be restarting.
                state = "UNREACHABLE";
                log.warn("job state unknown", { jobId, error: (error as Error).message });
            }
            if (terminalStates.has(state)) {
                log.error("job stopped", { jobId, state });
                finish(1);
            } else timer = setTimeout(() => void check(), config.WATCH_INTERVAL_SECONDS * 1000);
        };
        timer = setTimeout(() => void check(), config.WATCH_INTERVAL_SECONDS * 1000);
    });
}
