/**
 * Submits the pipeline job idempotently. The job is named "<PIPELINE_NAME>@<version>", the
 * version being the hash of its rendered SQL and settings. On each run:
 *
 * - a live job with the same version exists: nothing to do (the job keeps its state and offsets);
 * - a live job with another version exists: stop it with a savepoint, then submit the new SQL
 *   from that savepoint ("ignore unclaimed state": operators that changed start empty; the Kafka
 *   source falls back to the group offsets it committed, so no event is skipped or re-read);
 * - no live job: submit.
 *
 * Resubmitting unchanged SQL would restart the job and re-emit open windows for nothing, and
 * cancelling without a savepoint would lose the windows in flight: hence this rule. It assumes
 * one submitter at a time (the deployment runs it once per change).
 */
import type { Logger } from "../shared/log";
import type { ProcessorConfig } from "./config";
import { GatewaySession, JobManager, terminalStates, type JobOverview } from "./flink-api";
import { renderJob, type RenderedJob } from "./render";

export type SubmitAction = "submitted" | "unchanged" | "upgraded";

export interface SubmitResult { action: SubmitAction; jobId: string; jobName: string; savepoint?: string }

/** Live jobs of this pipeline, whatever their version. */
export function pipelineJobs(jobs: JobOverview[], pipelineName: string): JobOverview[] {
    return jobs.filter((j) => !terminalStates.has(j.state) && (j.name === pipelineName || j.name.startsWith(`${pipelineName}@`)));
}

export function jobName(pipelineName: string, version: string): string {
    return `${pipelineName}@${version}`;
}

/** Runs the job's statements in a fresh gateway session; returns the job id. */
async function runJob(c: ProcessorConfig, job: RenderedJob, name: string, savepoint?: string): Promise<string> {
    const session = await GatewaySession.open(c.FLINK_SQL_GATEWAY_URL, {
        ...job.properties,
        "pipeline.name": name,
        ...(savepoint ? { "execution.savepoint.path": savepoint, "execution.savepoint.ignore-unclaimed-state": "true" } : {}),
    });
    try {
        let jobId: string | undefined;
        for (const statement of job.statements) {
            const result = await session.execute(statement);
            jobId = result.jobId ?? jobId;
        }
        if (!jobId) throw new Error("the SQL ran but started no job (no INSERT / statement set?)");
        return jobId;
    } finally {
        // The streaming job outlives its session.
        await session.close();
    }
}

export async function submitPipeline(c: ProcessorConfig, log: Logger, sqlDir?: string): Promise<SubmitResult> {
    const job = renderJob(c, sqlDir);
    const name = jobName(c.PIPELINE_NAME, job.version);
    const jm = new JobManager(c.FLINK_REST_URL);
    const live = pipelineJobs(await jm.jobs(), c.PIPELINE_NAME);

    const same = live.find((j) => j.name === name);
    if (same && live.length === 1) {
        log.info("job unchanged, left running", { jobId: same.jid, jobName: name, state: same.state });
        return { action: "unchanged", jobId: same.jid, jobName: name };
    }

    let savepoint: string | undefined;
    for (const old of live) {
        log.info("stopping job with a savepoint", { jobId: old.jid, jobName: old.name, newJobName: name });
        savepoint = await jm.stopWithSavepoint(old.jid, c.SAVEPOINT_DIR);
        log.info("job stopped", { jobId: old.jid, savepoint });
    }

    const jobId = await runJob(c, job, name, savepoint);
    await jm.waitRunning(jobId);
    const action: SubmitAction = live.length > 0 ? "upgraded" : "submitted";
    log.info(`job ${action}`, { jobId, jobName: name, savepoint, statements: job.statements.length });
    return { action, jobId, jobName: name, savepoint };
}
