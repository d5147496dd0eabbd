/**
 * A stack of the provisioning program on the real Pulumi CLI: the Automation API's inline program
 * (no language host needed), the CLI from the `pulumi` test engine, its file backend, a
 * passphrase secrets provider, and the dynamic-provider host on PATH. Nothing reaches the network.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigMap, LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { engine } from "../engines/state";
import { PROJECT, provisioning } from "./program";

/** One passphrase per test process: the state's secrets are encrypted with it. */
export const passphrase = randomBytes(18).toString("base64url");

export async function provisioningStack(stackName: string, config: ConfigMap): Promise<Stack> {
    const p = engine("pulumi");
    const pulumiCommand = await PulumiCommand.get({ root: p.details.root!, skipVersionCheck: true });
    const stack = await LocalWorkspace.createOrSelectStack(
        { stackName, projectName: PROJECT, program: async () => provisioning() },
        {
            pulumiCommand,
            workDir: p.details.project!,
            projectSettings: { name: PROJECT, runtime: "nodejs", backend: { url: p.endpoints.backend! } },
            envVars: {
                PULUMI_BACKEND_URL: p.endpoints.backend!,
                PULUMI_CONFIG_PASSPHRASE: passphrase,
                PULUMI_SKIP_UPDATE_CHECK: "true",
                PULUMI_HOME: p.details.home!,
                PATH: `${p.details.hostBin}${path.delimiter}${process.env.PATH}`,
            },
        },
    );
    await stack.setAllConfig(config);
    return stack;
}

/** The stack's state file as the file backend keeps it (what `pulumi stack export` shows, on disk). */
export function stateFileText(stackName: string): string {
    const file = path.join(new URL(engine("pulumi").endpoints.backend!).pathname, ".pulumi", "stacks", PROJECT, `${stackName}.json`);
    return fs.readFileSync(file, "utf8");
}
