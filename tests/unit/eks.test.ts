import { strict as assert } from "assert";
import { installMocks, plain, PROJECT, Recorded, resetResources, resolve, resources } from "./mocks";
installMocks();
import { ConfigError, parseStackConfig, StackConfig } from "../../components/config";
import { EksCluster, eksNodeProblems, MemoryPlan } from "../../components/cloud/eks";
import { memoryPlan } from "../../components/stack";
import { versions } from "../../components/versions";

const T = {
    vpc: "aws:ec2/vpc:Vpc",
    subnet: "aws:ec2/subnet:Subnet",
    igw: "aws:ec2/internetGateway:InternetGateway",
    nat: "aws:ec2/natGateway:NatGateway",
    route: "aws:ec2/route:Route",
    association: "aws:ec2/routeTableAssociation:RouteTableAssociation",
    cluster: "aws:eks/cluster:Cluster",
    nodeGroup: "aws:eks/nodeGroup:NodeGroup",
    launchTemplate: "aws:ec2/launchTemplate:LaunchTemplate",
    addon: "aws:eks/addon:Addon",
    podIdentity: "aws:eks/podIdentityAssociation:PodIdentityAssociation",
    role: "aws:iam/role:Role",
    attach: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    accessKey: "aws:iam/accessKey:AccessKey",
    storageClass: "kubernetes:storage.k8s.io/v1:StorageClass",
    k8sProvider: "pulumi:providers:kubernetes",
} as const;

const base = { platform: "kubernetes", profile: "cluster", kubernetes: JSON.stringify({ cluster: "eks" }), "aws:region": "eu-west-1" };

function parse(raw: Record<string, string>): StackConfig {
    return parseStackConfig(Object.fromEntries(Object.entries(raw).map(([k, v]) => [k.includes(":") ? k : `${PROJECT}:${k}`, v])), PROJECT, "test");
}
const withEks = (eks: Record<string, unknown> = {}, extra: Record<string, string> = {}) => ({ ...base, eks: JSON.stringify(eks), ...extra });

interface Built {
    eks: EksCluster;
    all: Recorded[];
    ofType(type: string): Recorded[];
    one(type: string, name: string): Recorded;
}

let last: Promise<unknown> = Promise.resolve();
const cache = new Map<string, Promise<Built>>();
/** Builds the component alone under the config, once per config; builds run one after another (they share the mock monitor). */
function build(eks: Record<string, unknown> = {}): Promise<Built> {
    const key = JSON.stringify(eks);
    if (!cache.has(key)) {
        const built = last.catch(() => undefined).then(async () => {
            resetResources();
            const cfg = parse(withEks(eks));
            const cluster = new EksCluster("eks", { cfg, memoryPlan: memoryPlan(cfg) });
            const all = await resources();
            const ofType = (type: string) => all.filter((r) => r.type === type);
            const one = (type: string, name: string) => {
                const found = all.find((r) => r.type === type && r.name === name);
                assert.ok(found, `no ${type} named ${name}; have ${all.map((r) => r.name).join(", ")}`);
                return found;
            };
            return { eks: cluster, all, ofType, one };
        });
        last = built;
        cache.set(key, built);
    }
    return cache.get(key)!;
}

const id = (r: Recorded) => `${r.name}-id`;
/** Where each subnet's default route goes: { subnet id: the route's inputs }. */
function defaultRoutes(b: Built): Map<string, Record<string, unknown>> {
    const routesByTable = new Map(b.ofType(T.route).filter((r) => r.inputs.destinationCidrBlock === "0.0.0.0/0").map((r) => [r.inputs.routeTableId as string, r.inputs]));
    return new Map(b.ofType(T.association).map((a) => [a.inputs.subnetId as string, routesByTable.get(a.inputs.routeTableId as string)!]));
}

describe("EKS cluster (mocks)", () => {
    describe("network", () => {
        it("spreads public and private subnets over three zones by default, tagged for the load balancer roles", async () => {
            const b = await build();
            const subnets = b.ofType(T.subnet);
            const priv = subnets.filter((s) => /private/.test(s.name));
            const pub = subnets.filter((s) => /public/.test(s.name));
            assert.deepEqual(priv.map((s) => s.inputs.availabilityZone), ["eu-west-1a", "eu-west-1b", "eu-west-1c"]);
            assert.deepEqual(pub.map((s) => s.inputs.availabilityZone), ["eu-west-1a", "eu-west-1b", "eu-west-1c"]);
            for (const s of priv) assert.deepEqual([(s.inputs.tags as Record<string, string>)["kubernetes.io/role/internal-elb"], (s.inputs.tags as Record<string, string>)["kubernetes.io/role/elb"]], ["1", undefined]);
            for (const s of pub) assert.deepEqual([(s.inputs.tags as Record<string, string>)["kubernetes.io/role/elb"], s.inputs.mapPublicIpOnLaunch], ["1", false]);
            assert.equal(b.ofType(T.igw).length, 1);
        });

        it("puts the nodes and the control plane in exactly the private subnets, which route out through NAT and not the internet gateway", async () => {
            const b = await build();
            const privateIds = b.ofType(T.subnet).filter((s) => /private/.test(s.name)).map(id);
            const group = b.ofType(T.nodeGroup);
            assert.equal(group.length, 1);
            assert.deepEqual(group[0]!.inputs.subnetIds, privateIds);
            assert.deepEqual((b.ofType(T.cluster)[0]!.inputs.vpcConfig as { subnetIds: string[] }).subnetIds, privateIds);
            const routes = defaultRoutes(b);
            const natIds = b.ofType(T.nat).map(id);
            for (const subnet of privateIds) {
                const route = routes.get(subnet);
                assert.ok(route, `no default route for ${subnet}`);
                assert.ok(natIds.includes(route.natGatewayId as string), `${subnet} routes to ${JSON.stringify(route)}`);
                assert.equal(route.gatewayId, undefined);
            }
            for (const s of b.ofType(T.subnet).filter((s) => /public/.test(s.name))) assert.equal(routes.get(id(s))!.gatewayId, id(b.ofType(T.igw)[0]!));
        });

        it("has one NAT gateway by default, which every private subnet shares", async () => {
            const b = await build();
            const nats = b.ofType(T.nat);
            assert.equal(nats.length, 1);
            assert.equal(nats[0]!.inputs.subnetId, "eks-public-0-id");
            const privateRoutes = b.ofType(T.route).filter((r) => r.inputs.natGatewayId !== undefined);
            assert.deepEqual(privateRoutes.map((r) => r.inputs.natGatewayId), [id(nats[0]!), id(nats[0]!), id(nats[0]!)]);
        });

        it("has one NAT gateway per zone on request, each private subnet using its own zone's", async () => {
            const b = await build({ natGateways: "perZone" });
            const nats = b.ofType(T.nat);
            assert.deepEqual(nats.map((n) => n.inputs.subnetId), ["eks-public-0-id", "eks-public-1-id", "eks-public-2-id"]);
            const routes = defaultRoutes(b);
            [0, 1, 2].forEach((i) => assert.equal(routes.get(`eks-private-${i}-id`)!.natGatewayId, id(nats[i]!)));
        });

        it("uses two zones when configured", async () => {
            const b = await build({ availabilityZones: 2 });
            assert.deepEqual(b.ofType(T.subnet).filter((s) => /private/.test(s.name)).map((s) => s.inputs.availabilityZone), ["eu-west-1a", "eu-west-1b"]);
            assert.equal(b.ofType(T.nodeGroup)[0]!.inputs.subnetIds instanceof Array && (b.ofType(T.nodeGroup)[0]!.inputs.subnetIds as string[]).length, 2);
        });
    });

    describe("cluster", () => {
        it("uses access entries, the version table's EKS version, private endpoint access and encrypted secrets", async () => {
            const c = (await build()).ofType(T.cluster);
            assert.equal(c.length, 1);
            const inputs = c[0]!.inputs as Record<string, Record<string, unknown>>;
            assert.equal(inputs.accessConfig!.authenticationMode, "API");
            assert.equal(c[0]!.inputs.version, versions.eks);
            assert.equal(inputs.vpcConfig!.endpointPrivateAccess, true);
            assert.deepEqual((inputs.encryptionConfig as { resources: string[] }).resources, ["secrets"]);
        });

        it("keeps the public endpoint off by default: no 0.0.0.0/0 anywhere in its config", async () => {
            const vpc = (await build()).ofType(T.cluster)[0]!.inputs.vpcConfig as Record<string, unknown>;
            assert.equal(vpc.endpointPublicAccess, false);
            assert.ok(!JSON.stringify(vpc).includes("0.0.0.0/0"), JSON.stringify(vpc));
        });

        it("opens the public endpoint to exactly the configured CIDRs", async () => {
            const cidrs = ["203.0.113.0/24", "198.51.100.7/32"];
            const vpc = (await build({ publicAccessCidrs: cidrs })).ofType(T.cluster)[0]!.inputs.vpcConfig as Record<string, unknown>;
            assert.equal(vpc.endpointPublicAccess, true);
            assert.deepEqual(vpc.publicAccessCidrs, cidrs);
        });

        it("gives the cluster role only the EKS cluster policy", async () => {
            const b = await build();
            const attached = b.ofType(T.attach).filter((a) => a.inputs.role === "eks-cluster").map((a) => a.inputs.policyArn);
            assert.deepEqual(attached, ["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"]);
        });
    });

    describe("nodes", () => {
        it("require IMDSv2 with one hop, and boot from encrypted gp3", async () => {
            const b = await build();
            const lt = b.ofType(T.launchTemplate);
            assert.equal(lt.length, 1);
            const meta = lt[0]!.inputs.metadataOptions as Record<string, unknown>;
            assert.deepEqual([meta.httpTokens, meta.httpPutResponseHopLimit, meta.httpEndpoint], ["required", 1, "enabled"]);
            const disks = lt[0]!.inputs.blockDeviceMappings as { ebs: Record<string, unknown> }[];
            assert.ok(disks.length > 0);
            for (const d of disks) assert.deepEqual([d.ebs.volumeType, d.ebs.encrypted], ["gp3", "true"]);
            assert.equal((b.ofType(T.nodeGroup)[0]!.inputs.launchTemplate as { id: string }).id, id(lt[0]!));
        });

        it("size to the cluster profile by default and take type and counts from config", async () => {
            const defaults = (await build()).ofType(T.nodeGroup)[0]!.inputs;
            assert.deepEqual(defaults.instanceTypes, ["m6i.xlarge"]);
            assert.deepEqual(defaults.scalingConfig, { minSize: 3, maxSize: 6, desiredSize: 3 });
            const custom = (await build({ instanceType: "r6i.xlarge", minNodes: 2, maxNodes: 5, desiredNodes: 4 })).ofType(T.nodeGroup)[0]!.inputs;
            assert.deepEqual(custom.instanceTypes, ["r6i.xlarge"]);
            assert.deepEqual(custom.scalingConfig, { minSize: 2, maxSize: 5, desiredSize: 4 });
        });

        it("have a role with the worker, CNI and ECR pull policies only", async () => {
            const b = await build();
            const attached = b.ofType(T.attach).filter((a) => a.inputs.role === "eks-node").map((a) => a.inputs.policyArn);
            assert.deepEqual(attached.sort(), [
                "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
                "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
                "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
            ]);
        });
    });

    describe("add-ons and identity", () => {
        it("installs the five add-ons", async () => {
            const names = (await build()).ofType(T.addon).map((a) => a.inputs.addonName);
            assert.deepEqual([...names].sort(), ["aws-ebs-csi-driver", "coredns", "eks-pod-identity-agent", "kube-proxy", "vpc-cni"]);
        });

        it("binds the EBS CSI controller to its own role through Pod Identity, with only the AWS EBS CSI policy", async () => {
            const b = await build();
            const assoc = b.ofType(T.podIdentity);
            assert.equal(assoc.length, 1);
            assert.deepEqual([assoc[0]!.inputs.namespace, assoc[0]!.inputs.serviceAccount], ["kube-system", "ebs-csi-controller-sa"]);
            const role = b.ofType(T.role).find((r) => assoc[0]!.inputs.roleArn === `arn:aws:iam::123456789012:role/${r.name}`);
            assert.ok(role, `no role with arn ${String(assoc[0]!.inputs.roleArn)}`);
            const trust = JSON.parse(role.inputs.assumeRolePolicy as string) as { Statement: { Principal: { Service: string }; Action: string[] }[] };
            assert.deepEqual(trust.Statement.map((s) => [s.Principal.Service, s.Action]), [["pods.eks.amazonaws.com", ["sts:AssumeRole", "sts:TagSession"]]]);
            const attached = b.ofType(T.attach).filter((a) => a.inputs.role === role.name).map((a) => a.inputs.policyArn);
            assert.deepEqual(attached, ["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"]);
            assert.equal(await resolve(b.eks.ebsCsiRoleArn), assoc[0]!.inputs.roleArn);
        });

        it("creates no IAM access key, user or inline credentials", async () => {
            for (const cfg of [{}, { natGateways: "perZone", publicAccessCidrs: ["203.0.113.0/24"] }]) {
                const b = await build(cfg);
                assert.deepEqual(b.ofType(T.accessKey), []);
                assert.deepEqual(b.ofType("aws:iam/user:User"), []);
            }
        });
    });

    describe("Kubernetes access", () => {
        it("makes an encrypted gp3 storage class the default, through the cluster's own provider", async () => {
            const b = await build();
            const sc = b.ofType(T.storageClass);
            assert.equal(sc.length, 1);
            const inputs = sc[0]!.inputs as { metadata: { annotations: Record<string, string> }; parameters: Record<string, string> };
            assert.equal(inputs.metadata.annotations["storageclass.kubernetes.io/is-default-class"], "true");
            assert.equal(sc[0]!.inputs.provisioner, "ebs.csi.aws.com");
            assert.deepEqual([inputs.parameters.type, inputs.parameters.encrypted], ["gp3", "true"]);
            assert.equal(sc[0]!.inputs.volumeBindingMode, "WaitForFirstConsumer");
            assert.equal(await resolve(b.eks.storageClassName), "gp3");
            assert.deepEqual(b.ofType(T.k8sProvider).map((p) => p.name), ["eks"]);
        });

        it("builds a secret kubeconfig from the cluster's endpoint and CA that gets tokens with aws eks get-token", async () => {
            const b = await build();
            assert.equal(await (b.eks.kubeconfig as unknown as { isSecret: Promise<boolean> }).isSecret, true);
            const kc = JSON.parse(await resolve(b.eks.kubeconfig)) as {
                clusters: { cluster: Record<string, string> }[];
                users: { user: { exec: { command: string; args: string[] }; token?: string } }[];
            };
            assert.equal(kc.clusters[0]!.cluster.server, await resolve(b.eks.endpoint));
            assert.equal(kc.clusters[0]!.cluster["certificate-authority-data"], "Q0EtREFUQQ==");
            assert.equal(kc.users[0]!.user.exec.command, "aws");
            assert.deepEqual(kc.users[0]!.user.exec.args.slice(0, 2), ["eks", "get-token"]);
            assert.ok(kc.users[0]!.user.exec.args.includes("eu-west-1"));
            assert.equal(kc.users[0]!.user.token, undefined);
            // The provider is handed the same secret kubeconfig.
            assert.ok(typeof plain(b.ofType(T.k8sProvider)[0]!.inputs.kubeconfig) === "string");
        });

        it("exposes the pieces the identity part needs", async () => {
            const b = await build();
            assert.match(await resolve(b.eks.oidcIssuer), /^https:\/\/oidc\.eks\./);
            assert.deepEqual(await Promise.all(b.eks.privateSubnetIds.map((s) => resolve(s))), ["eks-private-0-id", "eks-private-1-id", "eks-private-2-id"]);
            assert.equal(b.eks.region, "eu-west-1");
            const trust = JSON.parse(b.eks.podIdentityTrustPolicy) as { Statement: { Principal: { Service: string } }[] };
            assert.equal(trust.Statement[0]!.Principal.Service, "pods.eks.amazonaws.com");
        });
    });

    describe("rejects bad config naming the key, the value and what is allowed", () => {
        function rejects(raw: Record<string, string>, ...expected: RegExp[]): void {
            assert.throws(
                () => parse(raw),
                (e: unknown) => {
                    assert.ok(e instanceof ConfigError, String(e));
                    for (const re of expected) assert.match(e.message, re);
                    return true;
                },
            );
        }
        it("one availability zone", () => rejects(withEks({ availabilityZones: 1 }), /dataplatform:eks\.availabilityZones = 1: expected 2 or 3 availability zones/));
        it("four availability zones", () => rejects(withEks({ availabilityZones: 4 }), /dataplatform:eks\.availabilityZones = 4: expected 2 or 3/));
        it("min nodes greater than max", () => rejects(withEks({ minNodes: 5, maxNodes: 4 }), /dataplatform:eks\.minNodes = 5: expected at most eks\.maxNodes \(4\)/));
        it("desired nodes outside [min, max]", () => {
            rejects(withEks({ minNodes: 3, maxNodes: 6, desiredNodes: 7 }), /dataplatform:eks\.desiredNodes = 7: expected desired nodes from eks\.minNodes \(3\) to eks\.maxNodes \(6\)/);
            rejects(withEks({ minNodes: 3, maxNodes: 6, desiredNodes: 2 }), /dataplatform:eks\.desiredNodes = 2: expected desired nodes from/);
        });
        it("nodes that together cannot hold the profile's budget", () =>
            rejects(withEks({ instanceType: "m6i.large" }), /dataplatform:eks\.instanceType = "m6i\.large": 3 × m6i\.large .* hold \d+ MiB .*the cluster profile needs 32768 MiB: use 6 or more nodes .*or an instance type such as m6i\.xlarge/));
        it("an instance type not in the table", () => rejects(withEks({ instanceType: "m6i.metal" }), /dataplatform:eks\.instanceType = "m6i\.metal": .*expected one of .*"m6i\.xlarge"/));
        it("a missing region", () => {
            const { "aws:region": _, ...noRegion } = withEks();
            void _;
            rejects(noRegion, /dataplatform:eks\.region = \(not set\): required: the AWS region .*set eks\.region or aws:region/);
        });
        it("a CIDR that is not a CIDR", () => {
            rejects(withEks({ publicAccessCidrs: ["203.0.113.0"] }), /dataplatform:eks\.publicAccessCidrs\.0 = "203\.0\.113\.0": expected an IPv4 CIDR block such as 203\.0\.113\.0\/24/);
            rejects(withEks({ publicAccessCidrs: ["10.0.0.300/8"] }), /publicAccessCidrs\.0 = "10\.0\.0\.300\/8": expected an IPv4 CIDR/);
            rejects(withEks({ publicAccessCidrs: ["203.0.113.7/24"] }), /publicAccessCidrs\.0 = "203\.0\.113\.7\/24": .*no host bits set: 203\.0\.113\.0\/24/);
        });
        it("eks on the docker platform", () => rejects({ eks: JSON.stringify({}), "aws:region": "eu-west-1" }, /dataplatform:eks = \{"region":"eu-west-1"\}: applies only when platform is kubernetes/));
        it("accepts eks.region in place of aws:region", () => {
            const { "aws:region": _, ...noRegion } = withEks({ region: "us-east-2" });
            void _;
            assert.equal(parse(noRegion).eks!.region, "us-east-2");
        });

        it("a node smaller than the plan's largest container, before any resource", async () => {
            const cfg = parse(withEks({ instanceType: "m6i.large", minNodes: 6, maxNodes: 8 }));
            const plan: MemoryPlan = { kafka: { "kafka-1": 7000, "kafka-2": 2048 } };
            assert.match(eksNodeProblems(cfg, plan)[0]!.message, /one m6i\.large node leaves \d+ MiB .*kafka-1 needs 7000 MiB: use an instance type such as/);
            assert.deepEqual(eksNodeProblems(cfg, memoryPlan(cfg)), []);
            await last.catch(() => undefined);
            resetResources();
            assert.throws(() => new EksCluster("eks", { cfg, memoryPlan: plan }), /dataplatform:eks\.instanceType = "m6i\.large": one m6i\.large node/);
            assert.deepEqual(await resources(), []);
        });
    });
});
