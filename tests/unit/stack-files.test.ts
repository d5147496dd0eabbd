import { strict as assert } from "assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT } from "./mocks";
import { parseStackConfig } from "../../components/config";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require("js-yaml") as { load(text: string): unknown };

const root = path.join(__dirname, "..", "..");

/** A stack file's config as Pulumi hands it to the program: structured values as JSON strings. */
function stackConfig(stack: string): Record<string, string> {
    const file = yaml.load(fs.readFileSync(path.join(root, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
    return Object.fromEntries(Object.entries(file.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}

describe("the stack files", () => {
    const stacks = fs.readdirSync(root).flatMap((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1] ?? []);

    it("are the laptop, the laptop on S3 and the local Kubernetes cluster", () => assert.deepEqual(stacks.sort(), ["aws", "dev", "k8s"]));

    for (const stack of stacks) {
        it(`${stack}: passes the config schema`, () => assert.doesNotThrow(() => parseStackConfig(stackConfig(stack), PROJECT, stack)));
    }

    it("k8s: runs on a kind cluster's context with its local registry, in the stack's own namespace", () => {
        const cfg = parseStackConfig(stackConfig("k8s"), PROJECT, "k8s");
        assert.equal(cfg.platform, "kubernetes");
        assert.equal(cfg.objectStore, "minio");
        assert.deepEqual(cfg.kubernetes, { context: "kind-dataplatform", registry: "localhost:5001", namespace: "dataplatform-k8s" });
    });
});
