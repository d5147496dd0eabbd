/**
 * The real Pulumi engine for tests: the CLI built from the Go module proxy (no registry here
 * serves its binaries), cached under the engines' cache by version, the dynamic-provider host the
 * CLI starts for `pulumi.dynamic.Resource`s, and a file backend of this run. It runs no server of
 * its own: the Automation API starts the CLI per operation.
 *
 * Build: a wrapper module requires pulumi's `pkg/v3` and `sdk/v3` at `versions.pulumiCli` and
 * repeats pkg's one replace that points outside its repository (go does not apply a dependency's
 * replaces), then `go build`s `pkg/v3/cmd/pulumi`. Cold: a few minutes and about 2 GB of memory;
 * warm: nothing to do.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { versions } from "../../components/versions";
import { goEnv, serialGoBuild } from "./go";
import { cacheRoot, hashKey, run } from "./lib";
import { repoRoot } from "./state";
import type { Engine } from "./types";

const goMod = (version: string) => `module local.engines/pulumi-cli

go 1.26

require (
	github.com/pulumi/pulumi/pkg/v3 v${version}
	github.com/pulumi/pulumi/sdk/v3 v${version}
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
`;

/** Builds (once per version and wrapper) the CLI; returns its root, whose `bin/pulumi` the Automation API runs. */
async function ensurePulumiCli(log: (message: string) => void): Promise<string> {
    const version = versions.pulumiCli;
    const mod = goMod(version);
    const root = path.join(cacheRoot(), `pulumi-cli-${version}-${hashKey([mod])}`);
    const binary = path.join(root, "bin", "pulumi");
    if (fs.existsSync(binary)) return root;

    const src = path.join(root, "src");
    fs.mkdirSync(src, { recursive: true });
    fs.writeFileSync(path.join(src, "go.mod"), mod);
    log(`building the Pulumi CLI ${version} from the Go module proxy (first run only)`);
    const t0 = Date.now();
    const partial = `${binary}.part`;
    await serialGoBuild(() => run("go", [
        "build", "-trimpath",
        "-ldflags", `-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${version}`,
        "-o", partial, "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
    ], { cwd: src, env: goEnv() }));
    fs.renameSync(partial, binary); // only a complete binary counts as built
    log(`Pulumi CLI ${version} built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    return root;
}

/**
 * The dynamic-provider host, as `pulumi-resource-pulumi-nodejs` on PATH: upstream it is a
 * one-line script that runs `@pulumi/pulumi`'s cmd/dynamic-provider with node. Here it runs the
 * project's Node 22 and its own `@pulumi/pulumi`, so the host requires modules (kafkajs, ...)
 * from the project's node_modules exactly as it does in a user's `pulumi up`.
 */
function writeProviderHost(binDir: string): void {
    fs.mkdirSync(binDir, { recursive: true });
    const node = path.join(repoRoot, "node_modules", ".bin", "node");
    const host = path.join(repoRoot, "node_modules", "@pulumi", "pulumi", "cmd", "dynamic-provider", "index.js");
    const script = path.join(binDir, "pulumi-resource-pulumi-nodejs");
    fs.writeFileSync(script, `#!/bin/sh\nexec "${fs.existsSync(node) ? node : "node"}" "${host}" "$@"\n`, { mode: 0o755 });
}

export const pulumi: Engine = {
    name: "pulumi",
    dependsOn: [],

    async install(ctx) {
        await ensurePulumiCli(ctx.log);
    },

    async start(ctx) {
        const started = Date.now();
        const root = await ensurePulumiCli(ctx.log);
        const hostBin = path.join(ctx.workDir, "bin");
        writeProviderHost(hostBin);
        const backend = path.join(ctx.workDir, "backend");
        fs.mkdirSync(backend, { recursive: true });
        // The program's working directory, inside the repo like a user's project: the CLI starts the
        // dynamic-provider host there, and the host resolves the providers' require()s (kafkajs)
        // from that directory up, as from a project root with node_modules.
        const project = path.join(ctx.workDir, "project");
        fs.mkdirSync(project, { recursive: true });
        const version = (await run(path.join(root, "bin", "pulumi"), ["version"], { env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" } })).trim();
        ctx.log(`pulumi ${version}: file backend ${backend}`);
        return {
            name: "pulumi",
            version: versions.pulumiCli,
            endpoints: { backend: `file://${backend}` },
            details: { root, hostBin, project, home: path.join(ctx.workDir, "home") },
            pids: [],
            logFiles: [],
            startSeconds: (Date.now() - started) / 1000,
        };
    },
};
