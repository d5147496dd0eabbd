/**
 * Starting and stopping a set of engines: dependency order, one work dir per engine, a state
 * file written after every start (so `down` can always clean up), and a summary table.
 * Used by cli.ts and by benchmarks that need engines of their own.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { versions } from "../../components/versions";
import { cacheRoot, isAlive, stopPids, stopSpawned } from "./lib";
import { engines } from "./registry";
import { defaultStateFile, readState, stateFile, writeState } from "./state";
import type { Engine, EngineContext, EngineHandle } from "./types";

export function log(message: string): void {
    console.log(`[engines] ${message}`);
}

/**
 * The engines named (default: all in the registry) plus everything they depend on, each after
 * its dependencies. Names come from ENGINES=kafka,s3 in the CLI.
 */
export function selectEngines(names?: readonly string[]): Engine[] {
    const byName = new Map(engines.map((e) => [e.name, e]));
    const ordered: Engine[] = [];
    const visiting = new Set<string>();
    const visit = (name: string) => {
        const engine = byName.get(name);
        if (!engine) throw new Error(`unknown engine "${name}"; known: ${[...byName.keys()].join(", ")}`);
        if (ordered.includes(engine)) return;
        if (visiting.has(name)) throw new Error(`dependency cycle through "${name}"`);
        visiting.add(name);
        engine.dependsOn.forEach(visit);
        ordered.push(engine);
    };
    (names ?? engines.map((e) => e.name)).forEach(visit);
    return ordered;
}

export interface Timings { install: number; start: number }

/**
 * Installs (in parallel: downloads dominate a cold run) and starts (each after its
 * dependencies) the engines.
 * Any engines still recorded in the state file are stopped first. On failure every process
 * started here is stopped and the error rethrown.
 */
export async function upEngines(selected: readonly Engine[]): Promise<Record<string, EngineHandle>> {
    await downEngines();
    const file = stateFile();
    const running: Record<string, EngineHandle> = {};
    const timings: Record<string, Timings> = {};
    const context = (engine: Engine): EngineContext => ({
        cacheDir: cacheRoot(),
        workDir: path.join(path.dirname(file), engine.name),
        versions,
        running,
        log: (message) => log(`${engine.name}: ${message}`),
    });
    try {
        for (const engine of selected) {
            const dir = context(engine).workDir;
            fs.rmSync(dir, { recursive: true, force: true }); // every run starts from empty data
            fs.mkdirSync(dir, { recursive: true });
        }
        fs.mkdirSync(cacheRoot(), { recursive: true });
        await Promise.all(selected.map(async (engine) => {
            const t0 = Date.now();
            log(`installing ${engine.name}`);
            await engine.install(context(engine));
            timings[engine.name] = { install: (Date.now() - t0) / 1000, start: 0 };
        }));
        // Each engine starts as soon as its dependencies are up: independent ones overlap.
        const starts = new Map<string, Promise<void>>();
        for (const engine of selected) { // dependency order: every dependency is already in `starts`
            starts.set(engine.name, (async () => {
                await Promise.all(engine.dependsOn.map((name) => starts.get(name)));
                const t0 = Date.now();
                log(`starting ${engine.name}`);
                const handle = await engine.start(context(engine));
                timings[engine.name]!.start = handle.startSeconds = (Date.now() - t0) / 1000;
                running[engine.name] = handle;
                writeState(running, file);
            })());
        }
        // Let every start finish or fail before cleaning up, so nothing is spawned after the stop.
        const failed = (await Promise.allSettled(starts.values())).find((r) => r.status === "rejected");
        if (failed) throw failed.reason;
    } catch (error) {
        log(`failed; stopping what was started`);
        await stopSpawned();
        fs.rmSync(file, { force: true });
        throw error;
    }
    printTable(running, timings);
    return running;
}

/**
 * Stops every engine in the state file, dependents first, then anything else spawned under
 * this state (a half-started engine, a broker a test restarted), and removes the file.
 */
export async function downEngines(): Promise<void> {
    const file = stateFile();
    const handles = Object.values(readState(file)).reverse();
    for (const handle of handles) {
        log(`stopping ${handle.name} (pids ${handle.pids.join(", ")})`);
        await stopPids(handle.pids);
    }
    await stopSpawned();
    fs.rmSync(file, { force: true });
}

function printTable(running: Record<string, EngineHandle>, timings: Record<string, Timings>): void {
    const rows = [["engine", "version", "install s", "start s", "endpoints"]];
    for (const handle of Object.values(running).sort((a, b) => a.name.localeCompare(b.name))) {
        const t = timings[handle.name]!;
        const endpoints = Object.entries(handle.endpoints).map(([k, v]) => `${k}=${v}`).join(" ");
        rows.push([handle.name, handle.version, t.install.toFixed(1), t.start.toFixed(1), endpoints]);
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
}

/**
 * Runs `fn` with the named engines: the running ones from the state file when it has them all
 * (inside `test:engines`, or after `engines:up`), otherwise engines started here, under a
 * private state file so nobody else's are touched, and stopped afterwards (also on Ctrl-C).
 */
export async function withEngines<T>(names: readonly string[], fn: (running: Record<string, EngineHandle>) => Promise<T>): Promise<T> {
    const state = readState();
    if (names.every((name) => state[name]?.pids.every(isAlive))) return fn(state);
    if (process.env.ENGINES_STATE) throw new Error(`${stateFile()} lacks running ${names.join(", ")}`);

    process.env.ENGINES_STATE = path.join(path.dirname(defaultStateFile), "own", "state.json");
    const onInterrupt = () => void downEngines().then(() => process.exit(130));
    process.once("SIGINT", onInterrupt);
    try {
        return await fn(await upEngines(selectEngines(names)));
    } finally {
        await downEngines();
        process.off("SIGINT", onInterrupt);
        delete process.env.ENGINES_STATE;
    }
}
