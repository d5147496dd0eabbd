import { strict as assert } from "assert";
import { installMocks, isSecretInput, leakedSecrets, plain, PROJECT, Recorded, resolve } from "./mocks";
installMocks();
import { ConfigError, parseStackConfig } from "../../components/config";
import { grants, StoreConsumer, storeConsumers } from "../../components/objectstore";
import { DockerPlatform } from "../../components/platform/docker";
import { build, Built, K as KUBE, stackConfig, T } from "./build";

/** The eks stack file as `pulumi up --stack eks` reads it. */
const eks = () => stackConfig("eks");
/** The same platform on a cluster the stack does not own: the k8s stack's keys, sized and stored like eks. */
const k8sTwin = () => ({
    platform: "kubernetes",
    profile: "cluster",
    objectStore: "s3",
    "aws:region": "eu-west-1",
    kubernetes: JSON.stringify({ registry: "localhost:5001", context: "kind-dataplatform" }),
});

/** The Kubernetes tokens and the AWS ones this stack adds. */
const K = {
    ...KUBE,
    ecrRepo: "aws:ecr/repository:Repository",
    ecrLifecycle: "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    role: "aws:iam/role:Role",
    rolePolicy: "aws:iam/rolePolicy:RolePolicy",
    association: "aws:eks/podIdentityAssociation:PodIdentityAssociation",
    oidc: "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    accessKey: "aws:iam/accessKey:AccessKey",
    iamUser: "aws:iam/user:User",
    bucket: "aws:s3/bucket:Bucket",
};

interface Container {
    name: string;
    image: string;
    env?: { name: string; value?: string; valueFrom?: unknown }[];
    [k: string]: unknown;
}
interface PodSpec {
    containers: Container[];
    serviceAccountName?: string;
    automountServiceAccountToken?: boolean;
    imagePullSecrets?: unknown;
    [k: string]: unknown;
}
interface Workload {
    metadata: { name: string };
    spec: { template: { metadata: { annotations?: Record<string, string> }; spec: PodSpec }; volumeClaimTemplates?: { spec: { storageClassName?: string } }[]; [k: string]: unknown };
}

const workloads = (b: Built) => [...b.ofType(K.deployment), ...b.ofType(K.statefulSet)].map((r) => plain(r.inputs) as Workload);

/** Which store consumer a service is, by name: the pods that read or write S3. */
function consumerOf(service: string): StoreConsumer | undefined {
    if (/^flink-/.test(service)) return "flink";
    if (service === "iceberg-rest") return "iceberg";
    if (/^druid-/.test(service) && !["druid-zookeeper", "druid-db"].includes(service)) return "druid";
    if (service === "pipeline-archiver") return "archiver";
    return undefined;
}

/** Every setting name that carries an access key, on any engine. */
const KEY_SETTINGS = /^(AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|CATALOG_S3_ACCESS__KEY__ID|CATALOG_S3_SECRET__ACCESS__KEY|druid_s3_accessKey|druid_s3_secretKey)$/;

describe("the eks stack (Pulumi.eks.yaml, mocks)", () => {
    it("creates the cluster and runs every tier on it through the cluster's own provider, with the gp3 class for every claim", async () => {
        const b = await build(eks());
        assert.equal(b.stack.platform.kind, "kubernetes");
        assert.equal(b.ofType("aws:eks/cluster:Cluster").length, 1);
        const providers = b.ofType(K.provider);
        assert.equal(providers.length, 1, "one Kubernetes provider");
        assert.match(String(plain(providers[0]!.inputs.kubeconfig)), /"command":"aws","args":\["eks","get-token","--cluster-name","eks"/);
        assert.deepEqual(b.ofType(K.storageClass).map((s) => (plain(s.inputs) as { metadata: { name: string } }).metadata.name), ["gp3"]);
        const claims = workloads(b).flatMap((w) => w.spec.volumeClaimTemplates ?? []);
        assert.ok(claims.length > 5);
        for (const c of claims) assert.equal(c.spec.storageClassName, "gp3");
        assert.deepEqual(b.all.filter((r) => r.type.startsWith("docker:")), []);
    });

    it("creates no access key and no IAM user; no pod gets AWS keys, in env, a Secret or a file", async () => {
        const b = await build(eks());
        assert.deepEqual([...b.ofType(K.accessKey), ...b.ofType(K.iamUser)].map((r) => r.name), []);
        for (const w of workloads(b)) {
            for (const c of w.spec.template.spec.containers) {
                assert.deepEqual((c.env ?? []).map((e) => e.name).filter((n) => KEY_SETTINGS.test(n)), [], `${w.metadata.name}: key settings`);
            }
        }
        for (const s of b.ofType(K.secret)) {
            const data = plain(s.inputs.stringData) as Record<string, string> | undefined;
            assert.deepEqual(Object.keys(data ?? {}).filter((k) => KEY_SETTINGS.test(k)), [], s.name);
            assert.doesNotMatch(JSON.stringify(data ?? {}), /accessKey|access-key-id|ACCESS_KEY/i, s.name);
        }
        assert.equal((b.stack.outputs as Record<string, unknown>).objectStoreCredentials, undefined);
    });

    it("runs every pod that reads S3 as its consumer's own ServiceAccount, and no other pod as any", async () => {
        const b = await build(eks());
        const seen = new Set<StoreConsumer>();
        for (const w of workloads(b)) {
            const want = consumerOf(w.metadata.name);
            assert.equal(w.spec.template.spec.serviceAccountName, want, w.metadata.name);
            assert.equal(w.spec.template.spec.automountServiceAccountToken, false, `${w.metadata.name}: no Kubernetes API token`);
            if (want) seen.add(want);
        }
        assert.deepEqual([...seen].sort(), [...storeConsumers].sort());
        const accounts = b.ofType(K.serviceAccount).map((r) => plain(r.inputs) as { metadata: { name: string; namespace: string }; automountServiceAccountToken: boolean });
        assert.deepEqual(accounts.map((a) => a.metadata.name).sort(), [...storeConsumers].sort());
        for (const a of accounts) assert.deepEqual([a.metadata.namespace, a.automountServiceAccountToken], ["dataplatform-test", false]);
    });

    it("binds each account to a role of its own: Pod Identity for flink, iceberg and archiver, IRSA for Druid; each role's policy names only its own buckets", async () => {
        const b = await build(eks());
        const roleOf = (consumer: string) => b.one(K.role, `${consumer}-workload`);
        const associations = b.ofType(K.association).map((r) => plain(r.inputs) as { namespace: string; serviceAccount: string; roleArn: string; clusterName: string });
        const mine = associations.filter((a) => a.namespace === "dataplatform-test");
        assert.deepEqual(mine.map((a) => a.serviceAccount).sort(), ["archiver", "flink", "iceberg"]);
        for (const a of mine) {
            assert.equal(a.roleArn, `arn:aws:iam::123456789012:role/${a.serviceAccount}-workload`);
            const trust = JSON.parse(plain(roleOf(a.serviceAccount).inputs.assumeRolePolicy) as string) as { Statement: { Principal: unknown; Action: unknown }[] };
            assert.deepEqual(trust.Statement.map((s) => [s.Principal, s.Action]), [[{ Service: "pods.eks.amazonaws.com" }, ["sts:AssumeRole", "sts:TagSession"]]]);
        }

        // Druid 33's SDK v1 (1.12.638) predates Pod Identity: a web identity token from the cluster's OIDC issuer, for this one account.
        assert.equal(b.ofType(K.oidc).length, 1);
        const druidTrust = JSON.parse(plain(roleOf("druid").inputs.assumeRolePolicy) as string) as { Statement: { Principal: { Federated: string }; Action: string; Condition: { StringEquals: Record<string, string> } }[] };
        const [statement] = druidTrust.Statement;
        assert.equal(statement!.Action, "sts:AssumeRoleWithWebIdentity");
        assert.match(statement!.Principal.Federated, /^arn:aws:iam::123456789012:oidc-provider\/oidc\.eks\.eu-west-1\.amazonaws\.com\/id\/eks$/);
        assert.deepEqual(Object.values(statement!.Condition.StringEquals).sort(), ["sts.amazonaws.com", "system:serviceaccount:dataplatform-test:druid"]);
        const druidAccount = plain(b.one(K.serviceAccount, "druid").inputs) as { metadata: { annotations: Record<string, string> } };
        assert.equal(druidAccount.metadata.annotations["eks.amazonaws.com/role-arn"], "arn:aws:iam::123456789012:role/druid-workload");

        const bucketName = Object.fromEntries(b.ofType(K.bucket).map((r) => [r.name.replace(/^bucket-/, ""), String(r.inputs.bucket)]));
        for (const consumer of storeConsumers) {
            const policy = JSON.parse(plain(b.one(K.rolePolicy, `${consumer}-workload`).inputs.policy) as string) as { Statement: { Resource: string[] }[] };
            const named = new Set(policy.Statement.flatMap((s) => s.Resource).map((arn) => arn.replace(/^arn:aws:s3:::/, "").split("/")[0]));
            assert.deepEqual([...named].sort(), grants[consumer].map((g) => bucketName[g.bucket]).sort(), consumer);
        }
    });

    it("pushes every built image to an ECR repository of the stack (immutable tags, scan on push, a lifecycle policy) and runs it by digest, with no pull Secret", async () => {
        const b = await build(eks());
        const repos = b.ofType(K.ecrRepo).map((r) => plain(r.inputs) as { name: string; imageTagMutability: string; imageScanningConfiguration: { scanOnPush: boolean } });
        assert.deepEqual(repos.map((r) => r.name).sort(), ["flink", "iceberg-rest", "pipeline", "superset"].map((i) => `dataplatform-test/dataplatform/${i}`));
        for (const r of repos) assert.deepEqual([r.imageTagMutability, r.imageScanningConfiguration.scanOnPush], ["IMMUTABLE", true], r.name);
        const rules = b.ofType(K.ecrLifecycle).map((l) => JSON.parse(String(l.inputs.policy)) as { rules: unknown[] });
        assert.equal(rules.length, repos.length);
        for (const r of rules) assert.equal(r.rules.length, 2);

        const built = b.ofType(T.build).map((r) => plain(r.inputs) as { tags: string[]; push: boolean; registries?: unknown });
        assert.equal(built.length, 4);
        for (const i of built) {
            assert.match(i.tags[0]!, /^123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/dataplatform-test\/dataplatform\/[a-z-]+:[0-9a-f]{12}$/);
            assert.equal(i.push, true);
            // The token lives on the push provider: a new token on each run must not touch the images.
            assert.equal(i.registries, undefined);
        }
        const login = b.one("pulumi:providers:docker-build", "ecr-push");
        assert.ok(isSecretInput((login.inputs.registries as { password: unknown }[] | undefined)?.[0]?.password) || isSecretInput(login.inputs.registries), "the ECR token stays a secret");

        const ecrImages = workloads(b).flatMap((w) => w.spec.template.spec.containers.map((c) => c.image)).filter((i) => i.includes(".dkr.ecr."));
        assert.deepEqual([...new Set(ecrImages.map((i) => i.replace(/@sha256:[0-9a-f]{64}$/, "")))].sort(), built.map((i) => i.tags[0]).sort());
        for (const i of ecrImages) assert.match(i, /@sha256:[0-9a-f]{64}$/);
        for (const w of workloads(b)) assert.equal(w.spec.template.spec.imagePullSecrets, undefined, w.metadata.name);
        assert.deepEqual(b.ofType(K.secret).filter((s) => s.name === "registry-pull"), []);
    });

    it("provisions through tunnels that carry the cluster's own kubeconfig, as a secret", async () => {
        const b = await build(eks());
        const topics = b.ofType("pulumi-nodejs:dynamic/dataplatform:KafkaTopic");
        assert.ok(topics.length > 0);
        for (const t of topics) {
            const brokers = plain(t.inputs.brokers) as { reach: { address: string; via: { namespace: string; kubeconfigData: string } } }[];
            for (const { reach } of brokers) {
                assert.equal(reach.via.namespace, "dataplatform-test");
                assert.match(reach.via.kubeconfigData, /"server":"https:\/\/eks\.gr7\.eu-west-1\.eks\.amazonaws\.com"/);
            }
        }
        assert.deepEqual(b.all.flatMap((r) => leakedSecrets(r.inputs, `${r.type} ${r.name}`)), []);
    });

    it("outputs the cluster, its secret kubeconfig, the ECR repositories, the identities, and the same service outputs as the k8s stack", async () => {
        const b = await build(eks());
        const o = b.stack.outputs as Record<string, unknown>;
        const out = await resolve(o.eks as { clusterName: string; endpoint: string; region: string; updateKubeconfig: string; ecrRepositories: Record<string, string> });
        assert.deepEqual([out.clusterName, out.endpoint, out.region], ["eks", "https://eks.gr7.eu-west-1.eks.amazonaws.com", "eu-west-1"]);
        assert.equal(out.updateKubeconfig, "aws eks update-kubeconfig --region eu-west-1 --name eks");
        assert.deepEqual(Object.keys(out.ecrRepositories).sort(), ["dataplatform/flink", "dataplatform/iceberg-rest", "dataplatform/pipeline", "dataplatform/superset"]);
        assert.ok(await new Promise((r) => (o.eks as { kubeconfig: { isSecret: Promise<boolean> } }).kubeconfig.isSecret.then(r)), "the kubeconfig output is a secret");
        const store = await resolve(o.objectStore as { identities: Record<string, { serviceAccount: string; roleArn: string }> });
        assert.deepEqual(Object.keys(store.identities).sort(), [...storeConsumers].sort());

        const twin = (await build(k8sTwin())).stack.outputs as Record<string, unknown>;
        const shape = (x: Record<string, unknown>) => Object.keys(x).filter((k) => x[k] !== undefined).sort();
        assert.deepEqual(shape(o).filter((k) => k !== "eks"), shape(twin).filter((k) => k !== "objectStoreCredentials"));
        const urls = async (x: Record<string, unknown>) => resolve({ superset: (x.superset as { url: string }).url, kafka: (x.kafka as { bootstrapServers: string }).bootstrapServers, druid: (x.druid as { routerUrl: string }).routerUrl });
        assert.deepEqual(await urls(o), await urls(twin));
    });

    it("renders the same Kubernetes objects as the k8s stack, apart from the storage class, images and identity", async () => {
        const ours = await build(eks());
        const theirs = await build(k8sTwin());
        const kubernetesObjects = (b: Built) => new Map(b.all.filter((r) => r.type.startsWith("kubernetes:")).map((r) => [`${r.type}::${r.name}`, r] as const));
        const a = kubernetesObjects(ours);
        const z = kubernetesObjects(theirs);
        // Only here: the class the stack creates, and the consumers' accounts.
        assert.deepEqual([...a.keys()].filter((k) => !z.has(k)).sort(), [`${K.storageClass}::eks-gp3`, ...storeConsumers.map((c) => `${K.serviceAccount}::${c}`)].sort());
        // Only there: the Secrets that held nothing but a consumer's keys (plus the registry login, which ECR needs none of).
        const onlyTheirs = [...z.keys()].filter((k) => !a.has(k));
        for (const k of onlyTheirs) {
            assert.ok(k.startsWith(`${K.secret}::`), k);
            const data = plain(z.get(k)!.inputs.stringData) as Record<string, string>;
            assert.ok(Object.keys(data).every((key) => KEY_SETTINGS.test(key)) || k.endsWith("::registry-pull"), `${k} holds more than keys: ${Object.keys(data).join(", ")}`);
        }
        assert.ok(onlyTheirs.length > 0);

        /** A workload with what may differ taken out: images' registry, the account, key env, the claims' class and the checksum over secret env. */
        const normal = (r: Recorded) => {
            const w = plain(r.inputs) as Workload;
            const pod = w.spec.template.spec;
            const { serviceAccountName: _sa, imagePullSecrets: _ps, ...podRest } = pod;
            const { annotations: _ann, ...templateMeta } = w.spec.template.metadata;
            return {
                ...w,
                spec: {
                    ...w.spec,
                    volumeClaimTemplates: w.spec.volumeClaimTemplates?.map((c) => ({ ...c, spec: { ...c.spec, storageClassName: "<class>" } })),
                    template: {
                        metadata: templateMeta,
                        spec: {
                            ...podRest,
                            containers: pod.containers.map((c) => ({
                                ...c,
                                image: c.image.replace(/^.*\/dataplatform\/([a-z-]+):([0-9a-f]{12})@sha256:[0-9a-f]{64}$/, "<registry>/$1:$2"),
                                env: (c.env ?? []).filter((e) => !KEY_SETTINGS.test(e.name)),
                            })),
                        },
                    },
                },
            };
        };
        let compared = 0;
        for (const [key, r] of a) {
            if (!/apps\/v1:(Deployment|StatefulSet)::/.test(key)) continue;
            assert.deepEqual(normal(r), normal(z.get(key)!), key);
            compared++;
        }
        assert.equal(compared, workloads(ours).length);
        // Every other object the two share is the same, to the letter.
        for (const [key, r] of a) {
            if (/apps\/v1:(Deployment|StatefulSet)::/.test(key) || !z.has(key)) continue;
            if (key.startsWith(`${K.secret}::`)) continue; // the values are generated per build
            assert.deepEqual(plain(r.inputs), plain(z.get(key)!.inputs), key);
        }
    });

    describe("bad config, before any resource", () => {
        const rejects = (raw: Record<string, string>, pattern: RegExp) =>
            assert.throws(
                () => parseStackConfig(Object.fromEntries(Object.entries(raw).map(([k, v]) => [k.includes(":") ? k : `${PROJECT}:${k}`, v])), PROJECT, "eks"),
                (e: Error) => e instanceof ConfigError && pattern.test(e.message),
            );
        const withKubernetes = (k: Record<string, unknown>) => ({ ...eks(), kubernetes: JSON.stringify({ cluster: "eks", ...k }) });

        it("a context, kubeconfig, registry or storage class for a cluster the stack creates", () => {
            rejects(withKubernetes({ context: "kind-dataplatform" }), /dataplatform:kubernetes\.context = "kind-dataplatform": not used with kubernetes\.cluster eks: the stack creates the cluster/);
            rejects(withKubernetes({ registry: "localhost:5001" }), /dataplatform:kubernetes\.registry = "localhost:5001": not used with kubernetes\.cluster eks: the stack pushes its images to its own ECR repositories/);
            rejects(withKubernetes({ storageClass: "standard" }), /dataplatform:kubernetes\.storageClass = "standard": not used with kubernetes\.cluster eks: the stack creates the encrypted gp3 class/);
        });
        it("eks settings for an existing cluster", () =>
            rejects({ ...k8sTwin(), eks: JSON.stringify({ minNodes: 3 }) }, /dataplatform:eks = .*: applies only when kubernetes\.cluster is eks/));
        it("a cluster kind that does not exist", () => rejects(withKubernetes({ cluster: "gke" }), /dataplatform:kubernetes\.cluster = "gke": .*"existing".*"eks"/));
        it("takes the eks defaults and aws:region when the eks key is unset", () => {
            const { eks: _eks, ...noEks } = eks();
            void _eks;
            const cfg = parseStackConfig(Object.fromEntries(Object.entries(noEks).map(([k, v]) => [k.includes(":") ? k : `${PROJECT}:${k}`, v])), PROJECT, "eks");
            assert.deepEqual([cfg.eks?.region, cfg.eks?.instanceType, cfg.eks?.desiredNodes], ["eu-west-1", "m6i.xlarge", 3]);
        });
        it("an availability zone count of 1, min nodes above max, a small instance type, no region", () => {
            const withEks = (e: Record<string, unknown>) => ({ ...eks(), eks: JSON.stringify(e) });
            rejects(withEks({ availabilityZones: 1 }), /dataplatform:eks\.availabilityZones = 1: expected 2 or 3 availability zones/);
            rejects(withEks({ minNodes: 5, maxNodes: 4 }), /dataplatform:eks\.minNodes = 5: expected at most eks\.maxNodes \(4\)/);
            rejects(withEks({ instanceType: "t3.medium" }), /dataplatform:eks\.instanceType = "t3\.medium": .*the cluster profile needs/);
            const { "aws:region": _r, ...noRegion } = eks();
            void _r;
            rejects(noRegion, /dataplatform:eks\.region = \(not set\): required/);
        });
    });

    it("Docker refuses a service that would run as a cloud identity: it gives containers none", () => {
        const docker = new DockerPlatform("refuses", { prefix: "t", bindAddress: "127.0.0.1" });
        assert.throws(
            () => docker.deploy({ name: "x", tier: "flink", image: "x", health: { command: ["true"] }, memoryMiB: 64, serviceAccount: "flink" }, docker),
            /x: runs as service account flink, but Docker gives containers no cloud identity/,
        );
    });
});
