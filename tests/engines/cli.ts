/**
 * npm run engines:up    start all engines (or ENGINES=kafka,s3 plus their dependencies)
 * npm run engines:down  stop everything recorded in .engines/state.json
 * npm run test:engines  up, run the suites of tests/integration whose engines are up, down (always)
 * npm run test:pulumi   the same for tests/pulumi (the real Pulumi CLI driving the providers)
 *
 * `test [dir]` starts the engines the dir's suites need (or ENGINES=a,b) and runs those suites.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { downEngines, log, selectEngines, upEngines } from "./harness";
import { suites } from "./registry";
import { repoRoot, stateFile } from "./state";

const integrationDir = path.join(repoRoot, "tests", "integration");

function requestedEngines(): string[] | undefined {
    const list = process.env.ENGINES?.split(",").map((s) => s.trim()).filter(Boolean);
    return list?.length ? list : undefined;
}

/** The suite files of `dir`, each of which must be mapped to its engines in the registry. */
function suiteFiles(dir: string): string[] {
    const files = (fs.readdirSync(dir, { recursive: true }) as string[])
        .filter((f) => f.endsWith(".test.ts"))
        .map((f) => path.posix.join(path.relative(repoRoot, dir).split(path.sep).join("/"), f.split(path.sep).join("/")))
        .sort();
    const unmapped = files.filter((f) => !suites[f]);
    if (unmapped.length) throw new Error(`suites not mapped to engines in tests/engines/registry.ts: ${unmapped.join(", ")}`);
    return files;
}

/** Suite files to run: those whose engines are all started. */
function suitesFor(files: string[], started: readonly string[]): string[] {
    const chosen = files.filter((f) => suites[f]!.every((name) => started.includes(name)));
    const left = files.filter((f) => !chosen.includes(f));
    if (left.length) log(`not selected (their engines are not in ENGINES): ${left.join(", ")}`);
    if (!chosen.length) throw new Error(`no suite needs only the engines ${started.join(", ")}`);
    return chosen;
}

/** mocha merges CLI files with a config's `spec`, so the chosen files go into a generated config. */
function runMocha(dir: string, files: string[]): Promise<number> {
    const config = JSON.parse(fs.readFileSync(path.join(dir, ".mocharc.json"), "utf8"));
    const generated = path.join(path.dirname(stateFile()), "mocharc.json");
    fs.writeFileSync(generated, JSON.stringify({ ...config, spec: files }, null, 2));
    return new Promise((resolve) => {
        const mocha = spawn(path.join(repoRoot, "node_modules", ".bin", "mocha"), ["--config", generated], {
            cwd: repoRoot,
            stdio: "inherit",
            env: { ...process.env, ENGINES_STATE: stateFile() },
        });
        mocha.on("error", () => resolve(1));
        mocha.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
}

let stopping: Promise<void> | undefined;
/** Idempotent: the normal path, a failure and Ctrl-C may all ask for it. */
function stopEverything(): Promise<void> {
    stopping ??= downEngines();
    return stopping;
}

async function main(command: string | undefined, dirArg: string | undefined): Promise<number> {
    switch (command) {
        case "up":
            process.on("SIGINT", () => void stopEverything().then(() => process.exit(130)));
            await upEngines(selectEngines(requestedEngines()));
            log(`state in ${stateFile()}; stop with npm run engines:down`);
            return 0;
        case "down":
            await downEngines();
            return 0;
        case "test": {
            // Ctrl-C reaches mocha too (same process group); the finally below then stops the engines.
            // Before mocha runs, stop here directly.
            let inMocha = false;
            process.on("SIGINT", () => {
                if (!inMocha) void stopEverything().then(() => process.exit(130));
            });
            const t0 = Date.now();
            try {
                const dir = path.resolve(repoRoot, dirArg ?? integrationDir);
                const all = suiteFiles(dir);
                // By default, just the engines these suites talk to.
                const selected = selectEngines(requestedEngines() ?? [...new Set(all.flatMap((f) => suites[f]!))]);
                const files = suitesFor(all, selected.map((e) => e.name));
                await upEngines(selected);
                log(`engines up in ${((Date.now() - t0) / 1000).toFixed(1)} s; running ${files.join(", ")}`);
                inMocha = true;
                return await runMocha(dir, files);
            } finally {
                await stopEverything();
                log(`total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
            }
        }
        default:
            console.error("usage: cli.ts up | down | test [suite dir]   (ENGINES=a,b selects engines)");
            return 2;
    }
}

main(process.argv[2], process.argv[3]).then(
    (code) => process.exit(code),
    (error) => {
        console.error(error instanceof Error ? error.message : error);
        process.exit(1);
    },
);
