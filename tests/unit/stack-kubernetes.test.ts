import { strict as assert } from "assert";
import { installMocks, isSecretInput, leakedSecrets, plain, resolve, SECRET_MARK } from "./mocks";
installMocks();
import { tierNames } from "../../components/config";
import { profileNames } from "../../components/config/profiles";
import { build, Built, K, T } from "./build";

/** The whole program (`program()`, as `pulumi up` runs it) with `platform: kubernetes`. */
const k8s = (keys: Record<string, unknown> = {}, more: Record<string, string> = {}) => ({
    platform: "kubernetes",
    kubernetes: JSON.stringify({ registry: "localhost:5001", context: "kind-dataplatform", ...keys }),
    ...more,
});

interface Workload {
    metadata: { name: string };
    spec: { template: { spec: { containers: { image: string }[] } } };
}

const workloads = (b: Built) => [...b.ofType(K.deployment), ...b.ofType(K.statefulSet)].map((r) => plain(r.inputs) as Workload);

describe("the stack on kubernetes", () => {
    for (const profile of profileNames) {
        it(`renders every tier of the ${profile} profile as Kubernetes workloads, one per service, and no Docker resource`, async () => {
            const b = await build(k8s({}, { profile }));
            assert.deepEqual(b.all.filter((r) => r.type.startsWith("docker:")).map((r) => `${r.type} ${r.name}`), []);
            assert.deepEqual(workloads(b).map((w) => w.metadata.name).sort(), b.stack.services.map((s) => s.name).sort());
            assert.deepEqual([...new Set(b.stack.services.map((s) => s.tier))].sort(), [...tierNames].sort());
            assert.equal(b.stack.platform.kind, "kubernetes");
        });
    }

    it("goes through one provider on the configured context and kubeconfig, never the ambient current context", async () => {
        const b = await build(k8s({ kubeconfig: "/home/me/.kube/kind" }));
        const [provider] = b.ofType(K.provider);
        assert.deepEqual([provider?.inputs.context, provider?.inputs.kubeconfig], ["kind-dataplatform", "/home/me/.kube/kind"]);
    });

    it("pushes the images it builds to the registry and runs them by digest; Docker loads them and runs them by tag", async () => {
        const b = await build(k8s());
        const built = b.ofType(T.build).map((r) => r.inputs as { tags: string[]; push: boolean; load: boolean });
        assert.deepEqual(built.map((i) => i.tags[0]!.replace(/:[0-9a-f]{12}$/, ":<tag>")).sort(), [
            "localhost:5001/dataplatform/flink:<tag>",
            "localhost:5001/dataplatform/iceberg-rest:<tag>",
            "localhost:5001/dataplatform/pipeline:<tag>",
            "localhost:5001/dataplatform/superset:<tag>",
        ]);
        for (const i of built) assert.deepEqual([i.push, i.load], [true, false], i.tags[0]);
        const refs = new Set(workloads(b).flatMap((w) => w.spec.template.spec.containers.map((c) => c.image)).filter((i) => i.startsWith("localhost:5001/")));
        assert.deepEqual([...refs].map((r) => r.replace(/@sha256:[0-9a-f]{64}$/, "")).sort(), built.map((i) => i.tags[0]).sort(), "every built image, each by tag and digest");
        for (const r of refs) assert.match(r, /@sha256:[0-9a-f]{64}$/);

        const docker = (await build()).ofType(T.build).map((r) => r.inputs as { tags: string[]; push: boolean; load: boolean });
        for (const i of docker) {
            assert.deepEqual([i.push, i.load], [false, true], i.tags[0]);
            assert.match(i.tags[0]!, /^dataplatform\/[a-z-]+:[0-9a-f]{12}$/);
        }
    });

    it("rolls exactly the pods whose image changed: a new Node base changes the pipeline's image and nothing else", async () => {
        const before = workloads(await build(k8s()));
        const after = workloads(await build(k8s({}, { images: JSON.stringify({ node: "node:22.21.2-bookworm-slim" }) })));
        const changed = after.filter((w) => JSON.stringify(w) !== JSON.stringify(before.find((o) => o.metadata.name === w.metadata.name))).map((w) => w.metadata.name);
        assert.ok(changed.length > 0);
        assert.deepEqual(changed.filter((n) => !n.startsWith("pipeline-")), [], "only the pipeline's pods roll");
    });

    it("hands registry credentials to the image push and the pods' pull Secret, only as secrets", async () => {
        const b = await build(k8s({ registryAuth: { username: "ci", password: `${SECRET_MARK}registry` } }));
        for (const image of b.ofType(T.build)) {
            const raw = image.inputs.registries;
            const [registry] = plain(raw) as { address: string; username: string; password: string }[];
            assert.deepEqual(registry, { address: "localhost:5001", username: "ci", password: `${SECRET_MARK}registry` });
            const wrapped = isSecretInput(raw) || isSecretInput((raw as { password: unknown }[])[0]?.password);
            assert.ok(wrapped, "the password stays a secret");
        }
        assert.equal(b.ofType(K.secret).filter((s) => s.name === "registry-pull").length, 1);
        assert.deepEqual(b.all.flatMap((r) => leakedSecrets(r.inputs, `${r.type} ${r.name}`)), []);
        for (const w of workloads(b)) assert.deepEqual((w.spec.template.spec as { imagePullSecrets?: unknown }).imagePullSecrets, [{ name: "registry-pull" }], w.metadata.name);
    });

    it("outputs a port-forward command per UI and API, with the context, listening where the host URLs point", async () => {
        const b = await build(k8s());
        const out = await resolve(b.stack.outputs.kubernetes as { namespace: string; context: string; portForward: Record<string, string>; urls?: unknown });
        assert.equal(out.namespace, "dataplatform-test");
        assert.equal(out.context, "kind-dataplatform");
        assert.equal(out.urls, undefined, "no ingress unless configured");
        assert.equal(out.portForward["superset/http"], "kubectl --context kind-dataplatform port-forward -n dataplatform-test svc/superset 8089:8088");
        assert.equal(out.portForward["kafka-1/host"], "kubectl --context kind-dataplatform port-forward -n dataplatform-test svc/kafka-1 9092:19092");
        // The same strings as on Docker, so notebooks and scripts that read them work on both.
        const docker = await build();
        const urls = async (x: Built) => {
            const o = x.stack.outputs as Record<string, unknown>;
            return resolve({ superset: (o.superset as { url: string }).url, kafka: (o.kafka as { bootstrapServers: string }).bootstrapServers, druid: (o.druid as { routerUrl: string }).routerUrl });
        };
        assert.deepEqual(await urls(b), await urls(docker));
        assert.equal((docker.stack.outputs as Record<string, unknown>).kubernetes, undefined);
    });

    it("provisions MinIO, the topics, the supervisor and the dashboard through tunnels into the namespace; on Docker through the published ports", async () => {
        const reaches = (b: Built) => {
            const found: { type: string; reach: { address: string; via?: unknown } }[] = [];
            const walk = (type: string, v: unknown): void => {
                if (Array.isArray(v)) v.forEach((x) => walk(type, x));
                else if (v !== null && typeof v === "object") {
                    const o = v as Record<string, unknown>;
                    if (typeof o.address === "string") found.push({ type, reach: o as { address: string; via?: unknown } });
                    else Object.values(o).forEach((x) => walk(type, x));
                }
            };
            for (const r of b.all.filter((x) => x.type.startsWith("pulumi-nodejs:dynamic/"))) walk(r.type.split(":").pop()!, plain(r.inputs));
            return found;
        };
        const onCluster = reaches(await build(k8s()));
        assert.deepEqual([...new Set(onCluster.map((f) => f.type))].sort(), [
            "DruidKafkaSupervisor",
            "KafkaTopic",
            "MinioBucket",
            "MinioPolicy",
            "MinioPolicyAttachment",
            "MinioUser",
            "SupersetDashboards",
        ]);
        for (const f of onCluster) {
            assert.deepEqual(f.reach.via, { namespace: "dataplatform-test", context: "kind-dataplatform" }, f.type);
            assert.match(f.reach.address, /^[a-z][a-z0-9-]*:\d+$/, `${f.type}: a Service name, never a host address`);
        }
        for (const f of reaches(await build())) {
            assert.equal(f.reach.via, undefined, f.type);
            assert.match(f.reach.address, /^127\.0\.0\.1:\d+$/, f.type);
        }
    });

    it("serves each UI through an Ingress in ingress mode, and outputs its URL", async () => {
        const b = await build(k8s({ ingress: { className: "traefik", baseDomain: "data.example", controllerNamespace: "kube-system" } }));
        const out = await resolve(b.stack.outputs.kubernetes as { urls: Record<string, string> });
        assert.equal(out.urls["superset/http"], "http://superset.data.example");
        assert.equal(out.urls["druid-router/http"], "http://druid-router.data.example");
        assert.equal(out.urls["kafka-1/host"], undefined, "Kafka's TCP listener is port-forwarded only");
    });
});
