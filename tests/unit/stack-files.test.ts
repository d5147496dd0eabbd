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

    it("are the laptop, the laptop on S3, the local Kubernetes cluster and the cloud stack", () => assert.deepEqual(stacks.sort(), ["aws", "dev", "eks", "k8s"]));

    for (const stack of stacks) {
        it(`${stack}: passes the config schema`, () => assert.doesNotThrow(() => parseStackConfig(full(stackConfig(stack)), PROJECT, stack)));
    }

    it("k8s: runs on a kind cluster's context with its local registry, in the stack's own namespace", () => {
        const cfg = parseStackConfig(full(stackConfig("k8s")), PROJECT, "k8s");
        assert.equal(cfg.platform, "kubernetes");
        assert.equal(cfg.objectStore, "minio");
        assert.deepEqual(cfg.kubernetes, { cluster: "existing", context: "kind-dataplatform", registry: "localhost:5001", namespace: "dataplatform-k8s" });
    });

    it("eks: creates the cluster in the cluster profile, on S3, with a private API endpoint", () => {
        const cfg = parseStackConfig(full(stackConfig("eks")), PROJECT, "eks");
        assert.deepEqual([cfg.platform, cfg.objectStore, cfg.profile, cfg.kubernetes?.cluster], ["kubernetes", "s3", "cluster", "eks"]);
        assert.deepEqual(cfg.eks, { region: "eu-west-1", availabilityZones: 3, natGateways: "single", instanceType: "m6i.xlarge", minNodes: 3, maxNodes: 6, desiredNodes: 3, publicAccessCidrs: [] });
    });
});
