/**
 * The running engines, as `up` recorded them, for integration suites and benchmarks:
 * `engine("kafka").endpoints.bootstrap`. The file is ENGINES_STATE, or .engines/state.json.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { EngineHandle } from "./types";

export const repoRoot = path.resolve(__dirname, "..", "..");
export const defaultStateFile = path.join(repoRoot, ".engines", "state.json");

export function stateFile(): string {
    return process.env.ENGINES_STATE || defaultStateFile;
}

export function readState(file = stateFile()): Record<string, EngineHandle> {
    if (!fs.existsSync(file)) return {};
    return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, EngineHandle>;
}

export function writeState(state: Record<string, EngineHandle>, file = stateFile()): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2) + "\n");
    fs.renameSync(`${file}.tmp`, file); // never leave a half-written state for `down`
}

/** The handle of a running engine; throws (never skips) when it was not started. */
export function engine(name: string): EngineHandle {
    const handle = readState()[name];
    if (!handle) {
        throw new Error(`engine "${name}" is not running (state ${stateFile()}); start it with ENGINES=${name} npm run engines:up`);
    }
    return handle;
}

/** Records a changed handle (e.g. new pids after a restart) so `down` stops the right processes. */
export function saveEngine(handle: EngineHandle): void {
    writeState({ ...readState(), [handle.name]: handle });
}
