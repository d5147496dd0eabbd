import { strict as assert } from "assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT } from "./mocks";
import { parseStackConfig } from "../../components/config";
import { stackConfig } from "./build";

const root = path.join(__dirname, "..", "..");
const full = (config: Record<string, string>) => Object.fromEntries(Object.entries(config).map(([k, v]) => [k.includes(":") ? k : `${PROJECT}:${k}`, v]));

describe("the stack files", () => {
    const stacks = fs.readdirSync(root).flatMap((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1] ?? []);

    it("are the laptop, the laptop on S3 and the local Kubernetes cluster", () => assert.deepEqual(stacks.sort(), ["aws", "dev", "k8s"]));

    for (const stack of stacks) {
        it(`${stack}: passes the config schema`, () => assert.doesNotThrow(() => parseStackConfig(full(stackConfig(stack)), PROJECT, stack)));
    }

    it("k8s: runs on a kind cluster's context with its local registry, in the stack's own namespace", () => {
        const cfg = parseStackConfig(full(stackConfig("k8s")), PROJECT, "k8s");
        assert.equal(cfg.platform, "kubernetes");
        assert.equal(cfg.objectStore, "minio");
        assert.deepEqual(cfg.kubernetes, { cluster: "existing", context: "kind-dataplatform", registry: "localhost:5001", namespace: "dataplatform-k8s" });
    });
});
