/** What the benchmark steps share: a kafkajs client on the engine, scratch topics, CPU and load readings. */
import * as os from "node:os";
import { Kafka, logLevel } from "kafkajs";
import { procStat } from "../engines/lib";
import type { EngineHandle } from "../engines/types";

export const kafkaOf = (h: EngineHandle) => new Kafka({ clientId: "bench", brokers: [h.endpoints.bootstrap!], logLevel: logLevel.NOTHING });

export async function createTopics(kafka: EngineHandle, topics: Array<[string, number]>): Promise<void> {
    const admin = kafkaOf(kafka).admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: topics.map(([topic, numPartitions]) => ({ topic, numPartitions, replicationFactor: 1 })) });
    await admin.disconnect();
}

export async function deleteTopics(kafka: EngineHandle, topics: string[]): Promise<void> {
    const admin = kafkaOf(kafka).admin();
    await admin.connect();
    await admin.deleteTopics({ topics }).catch(() => undefined); // scratch topics: a leftover costs only disk
    await admin.disconnect();
}

/** CPU seconds (user + system) a process has used so far, from /proc; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
    const fields = procStat(pid);
    // utime and stime (fields 14 and 15 of the line), in clock ticks of 1/100 s on Linux.
    return fields ? (Number(fields[11]) + Number(fields[12])) / 100 : 0;
}

/** The machine's 1-minute load average, sampled while the bench runs: figures are only as good as the machine was quiet. */
export class LoadTracker {
    readonly start = os.loadavg()[0]!;
    private max = this.start;
    private readonly timer = setInterval(() => this.sample(), 5_000);

    constructor() {
        this.timer.unref();
    }

    sample(): number {
        const now = os.loadavg()[0]!;
        this.max = Math.max(this.max, now);
        return now;
    }

    stop(): { start: number; max: number } {
        clearInterval(this.timer);
        this.sample();
        return { start: this.start, max: this.max };
    }
}

export const log = (message: string) => console.log(`[bench] ${message} (load ${os.loadavg()[0]!.toFixed(2)})`);
