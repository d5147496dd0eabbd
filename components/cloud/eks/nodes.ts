import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { serviceRole } from "./iam";

export interface NodesArgs {
    partition: string;
    clusterName: pulumi.Input<string>;
    clusterVersion: pulumi.Input<string>;
    subnetIds: pulumi.Input<string>[];
    instanceType: string;
    minNodes: number;
    maxNodes: number;
    desiredNodes: number;
    dependsOn: pulumi.Resource[];
}

/** Root volume size: images of the engines (Flink, Druid, Superset) run to several GiB each, cached per node. */
export const rootVolumeGiB = 50;

export function createNodes(name: string, args: NodesArgs, opts: pulumi.CustomResourceOptions): { group: aws.eks.NodeGroup; role: aws.iam.Role; template: aws.ec2.LaunchTemplate } {
    const role = serviceRole(
        `${name}-node`,
        {
            principal: "ec2.amazonaws.com",
            actions: ["sts:AssumeRole"],
            partition: args.partition,
            // Pull-only rather than ReadOnly: nodes pull images and have no reason to list or describe repositories.
            policies: ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly"],
        },
        opts,
    );
    const template = new aws.ec2.LaunchTemplate(
        `${name}-nodes`,
        {
            metadataOptions: {
                httpEndpoint: "enabled",
                // IMDSv2 only: a session token defeats SSRF-style reads of the node's credentials.
                httpTokens: "required",
                // One hop: pods (one hop further, in their own network namespace) cannot reach IMDS
                // and the node role. They take AWS credentials from Pod Identity; host-network pods
                // (aws-node, kube-proxy) are at hop one and still can.
                httpPutResponseHopLimit: 1,
            },
            blockDeviceMappings: [
                // /dev/xvda is the root device of the EKS AL2023 AMI; encrypted with the account's default EBS key.
                { deviceName: "/dev/xvda", ebs: { volumeSize: rootVolumeGiB, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" } },
            ],
            tagSpecifications: [{ resourceType: "instance", tags: { Name: `${name}-node` } }],
        },
        opts,
    );
    const group = new aws.eks.NodeGroup(
        name,
        {
            clusterName: args.clusterName,
            version: args.clusterVersion,
            nodeRoleArn: role.arn,
            subnetIds: args.subnetIds,
            amiType: "AL2023_x86_64_STANDARD",
            capacityType: "ON_DEMAND",
            instanceTypes: [args.instanceType],
            launchTemplate: { id: template.id, version: template.latestVersion.apply(String) },
            scalingConfig: { minSize: args.minNodes, maxSize: args.maxNodes, desiredSize: args.desiredNodes },
            // One node at a time: Kafka and Druid keep replicas on different nodes and lose at most one during a roll.
            updateConfig: { maxUnavailable: 1 },
        },
        { ...opts, dependsOn: [role, ...args.dependsOn] },
    );
    return { group, role, template };
}
