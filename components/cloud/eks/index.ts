import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, ConfigProblem, StackConfig } from "../../config";
import { createNodeAddons, createWorkloadAddons } from "./addons";
import { createCluster } from "./cluster";
import { partitionOf, podIdentityActions, podIdentityPrincipal } from "./iam";
import { allocatableMiB, instanceTypeNames, instanceTypes, InstanceType } from "./instances";
import { createNetwork } from "./network";
import { createNodes } from "./nodes";

export { instanceTypes, instanceTypeNames, InstanceType } from "./instances";
export { ebsCsiServiceAccount } from "./addons";

/** The containers the stack will run (MiB), as components/stack.ts's memoryPlan returns them. */
export type MemoryPlan = Partial<Record<string, Record<string, number>>>;

export interface EksClusterArgs {
    cfg: StackConfig;
    memoryPlan: MemoryPlan;
}

/**
 * The per-node half of the node sizing (the config schema checks the total against the profile's
 * budget): a pod larger than one node's allocatable memory stays Pending however many nodes
 * there are. Needs the memory plan, which the tiers compute, so it runs here, before any resource.
 */
export function eksNodeProblems(cfg: StackConfig, plan: MemoryPlan): ConfigProblem[] {
    if (!cfg.eks) return [];
    const type = cfg.eks.instanceType as InstanceType;
    const containers = Object.values(plan).flatMap((services) => Object.entries(services ?? {}));
    if (containers.length === 0) return [];
    const [largest, mib] = containers.reduce((a, b) => (b[1] > a[1] ? b : a));
    if (mib <= allocatableMiB(type)) return [];
    const fits = instanceTypeNames.filter((t) => allocatableMiB(t) >= mib);
    return [
        {
            key: `${cfg.project}:eks.instanceType`,
            value: JSON.stringify(type),
            message: `one ${type} node leaves ${allocatableMiB(type)} MiB for containers (${instanceTypes[type].memoryMiB} MiB less its system reserve); ${largest} needs ${mib} MiB: use an instance type such as ${fits.slice(0, 4).join(", ")}`,
        },
    ];
}

/**
 * An EKS cluster the stack owns: network, control plane, managed nodes, add-ons and a default
 * encrypted gp3 storage class, with a Kubernetes provider for everything else the stack runs.
 */
export class EksCluster extends pulumi.ComponentResource {
    readonly provider: k8s.Provider;
    /** A kubeconfig that runs `aws eks get-token`: no token in it, but it names the cluster's endpoint. */
    readonly kubeconfig: pulumi.Output<string>;
    readonly clusterName: pulumi.Output<string>;
    readonly endpoint: pulumi.Output<string>;
    readonly region: string;
    readonly partition: string;
    readonly storageClassName: pulumi.Output<string>;
    readonly privateSubnetIds: pulumi.Output<string>[];
    readonly vpcId: pulumi.Output<string>;
    /** The cluster's OIDC issuer, for IRSA should a consumer's SDK lack Pod Identity. */
    readonly oidcIssuer: pulumi.Output<string>;
    /** The trust policy of a role that pods assume through Pod Identity (give it to aws.iam.Role's assumeRolePolicy). */
    readonly podIdentityTrustPolicy: string;
    /** Add-ons, by name: the pod identity agent must exist before any PodIdentityAssociation is of use. */
    readonly addons: Record<string, aws.eks.Addon>;
    readonly ebsCsiRoleArn: pulumi.Output<string>;
    /** The AWS provider of the cluster's region: every AWS resource of the cluster and of its workloads' identities. */
    readonly awsProvider: aws.Provider;

    constructor(private readonly name: string, args: EksClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        const { cfg } = args;
        const problems = cfg.eks ? eksNodeProblems(cfg, args.memoryPlan) : [{ key: `${cfg.project}:eks`, value: "(not set)", message: "required to create an EKS cluster" }];
        if (problems.length > 0) throw new ConfigError(problems);
        super("dataplatform:cloud:EksCluster", name, {}, opts);
        const eks = cfg.eks!;
        this.region = eks.region;
        this.partition = partitionOf(eks.region);
        const provider = new aws.Provider(`${name}-aws`, { region: eks.region as aws.Region }, { parent: this });
        this.awsProvider = provider;
        const child = { parent: this, provider };

        const network = createNetwork(name, { availabilityZones: eks.availabilityZones, natGateways: eks.natGateways }, child);
        const privateSubnetIds = network.privateSubnets.map((s) => s.id);
        // The control plane's ENIs go in the private subnets only: nothing of it is reachable through the public ones.
        const { cluster } = createCluster(name, { partition: this.partition, subnetIds: privateSubnetIds, publicAccessCidrs: eks.publicAccessCidrs }, child);
        const nodeAddons = createNodeAddons(name, cluster.name, child);
        const nodes = createNodes(
            name,
            {
                partition: this.partition,
                clusterName: cluster.name,
                clusterVersion: cluster.version,
                subnetIds: privateSubnetIds,
                instanceType: eks.instanceType,
                minNodes: eks.minNodes,
                maxNodes: eks.maxNodes,
                desiredNodes: eks.desiredNodes,
                dependsOn: Object.values(nodeAddons),
            },
            child,
        );
        const workload = createWorkloadAddons(name, { partition: this.partition, clusterName: cluster.name, nodes: nodes.group }, child);
        this.addons = { ...nodeAddons, ...workload.addons };
        this.ebsCsiRoleArn = workload.ebsCsiRole.arn;

        this.clusterName = cluster.name;
        this.endpoint = cluster.endpoint;
        this.vpcId = network.vpc.id;
        this.privateSubnetIds = privateSubnetIds;
        this.oidcIssuer = cluster.identities.apply((ids) => ids?.[0]?.oidcs?.[0]?.issuer ?? "");
        this.podIdentityTrustPolicy = JSON.stringify({
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", Principal: { Service: podIdentityPrincipal }, Action: podIdentityActions }],
        });
        this.kubeconfig = pulumi.secret(
            pulumi.all([cluster.name, cluster.endpoint, cluster.certificateAuthority]).apply(([clusterName, endpoint, ca]) =>
                kubeconfigFor({ clusterName, endpoint, caData: ca.data ?? "", region: eks.region }),
            ),
        );
        // After every add-on: pods then start with DNS (CoreDNS) and claims with a provisioner (EBS
        // CSI); and a destroy removes every object of the stack, its claims' volumes included,
        // before the add-ons that serve them go.
        this.provider = new k8s.Provider(name, { kubeconfig: this.kubeconfig }, { parent: this, dependsOn: [nodes.group, ...Object.values(workload.addons)] });
        const storageClass = new k8s.storage.v1.StorageClass(
            `${name}-gp3`,
            {
                metadata: { name: "gp3", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
                provisioner: "ebs.csi.aws.com",
                parameters: { type: "gp3", encrypted: "true", "csi.storage.k8s.io/fstype": "ext4" },
                // EBS volumes are zonal: bind once the pod is placed, so volume and pod share a zone.
                volumeBindingMode: "WaitForFirstConsumer",
                allowVolumeExpansion: true,
                // Delete: a destroy must not leave volumes behind that bill on; the lakehouse data lives in S3.
                reclaimPolicy: "Delete",
            },
            { parent: this, provider: this.provider, dependsOn: Object.values(workload.addons) },
        );
        this.storageClassName = storageClass.metadata.name;
        this.registerOutputs({ clusterName: this.clusterName, endpoint: this.endpoint, kubeconfig: this.kubeconfig, storageClassName: this.storageClassName });
    }

    /**
     * A role for the pods of one ServiceAccount, holding `policy` inline (a role per account, so
     * nothing else attaches to it). Through EKS Pod Identity: trusted by the pod identity service
     * alone, bound to the account once the agent that hands out its credentials runs. Or, for an
     * engine whose SDK predates Pod Identity, through IRSA: trusted for web identity tokens of this
     * one account from the cluster's OIDC issuer, named in the account's annotation.
     */
    bindIdentity(
        account: { namespace: pulumi.Input<string>; name: string; policy: pulumi.Input<string>; webIdentity?: boolean },
        parent: pulumi.Resource,
    ): { roleArn: pulumi.Output<string>; ready: pulumi.Resource[]; annotations?: Record<string, pulumi.Input<string>> } {
        const opts = { parent, provider: this.awsProvider };
        const trust = account.webIdentity ? this.webIdentityTrust(account) : this.podIdentityTrustPolicy;
        const role = new aws.iam.Role(
            `${account.name}-workload`,
            { assumeRolePolicy: trust, description: pulumi.interpolate`pods of ${account.namespace}/${account.name} on EKS cluster ${this.clusterName}` },
            opts,
        );
        const policy = new aws.iam.RolePolicy(`${account.name}-workload`, { role: role.id, policy: account.policy }, opts);
        if (account.webIdentity) return { roleArn: role.arn, ready: [policy], annotations: { "eks.amazonaws.com/role-arn": role.arn, "eks.amazonaws.com/sts-regional-endpoints": "true" } };
        const association = new aws.eks.PodIdentityAssociation(
            `${account.name}-pod-identity`,
            { clusterName: this.clusterName, namespace: account.namespace, serviceAccount: account.name, roleArn: role.arn },
            { ...opts, dependsOn: [this.addons["eks-pod-identity-agent"]!] },
        );
        return { roleArn: role.arn, ready: [policy, association] };
    }

    private oidcProvider?: aws.iam.OpenIdConnectProvider;

    /** IRSA's trust: the cluster's OIDC issuer (registered with IAM on first use), for this account's tokens with STS's audience. */
    private webIdentityTrust(account: { namespace: pulumi.Input<string>; name: string }): pulumi.Output<string> {
        this.oidcProvider ??= new aws.iam.OpenIdConnectProvider(`${this.name}-oidc`, { url: this.oidcIssuer, clientIdLists: ["sts.amazonaws.com"] }, { parent: this, provider: this.awsProvider });
        const issuer = this.oidcIssuer.apply((url) => url.replace(/^https:\/\//, ""));
        return pulumi.all([this.oidcProvider.arn, issuer, account.namespace]).apply(([arn, host, namespace]) =>
            JSON.stringify({
                Version: "2012-10-17",
                Statement: [
                    {
                        Effect: "Allow",
                        Principal: { Federated: arn },
                        Action: "sts:AssumeRoleWithWebIdentity",
                        Condition: { StringEquals: { [`${host}:sub`]: `system:serviceaccount:${namespace}:${account.name}`, [`${host}:aud`]: "sts.amazonaws.com" } },
                    },
                ],
            }),
        );
    }
}

export function kubeconfigFor(c: { clusterName: string; endpoint: string; caData: string; region: string }): string {
    return JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: c.clusterName, cluster: { server: c.endpoint, "certificate-authority-data": c.caData } }],
        contexts: [{ name: c.clusterName, context: { cluster: c.clusterName, user: c.clusterName } }],
        "current-context": c.clusterName,
        users: [
            {
                name: c.clusterName,
                // A token from the caller's own AWS identity on each use: nothing long-lived in the file or the state.
                user: {
                    exec: {
                        apiVersion: "client.authentication.k8s.io/v1beta1",
                        command: "aws",
                        args: ["eks", "get-token", "--cluster-name", c.clusterName, "--region", c.region, "--output", "json"],
                        interactiveMode: "Never",
                    },
                },
            },
        ],
    });
}
