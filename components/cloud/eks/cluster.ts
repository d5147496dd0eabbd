import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { versions } from "../../versions";
import { serviceRole } from "./iam";

export interface ClusterArgs {
    partition: string;
    subnetIds: pulumi.Input<string>[];
    publicAccessCidrs: string[];
}

export function createCluster(name: string, args: ClusterArgs, opts: pulumi.CustomResourceOptions): { cluster: aws.eks.Cluster; role: aws.iam.Role; key: aws.kms.Key } {
    const role = serviceRole(`${name}-cluster`, { principal: "eks.amazonaws.com", actions: ["sts:AssumeRole", "sts:TagSession"], partition: args.partition, policies: ["AmazonEKSClusterPolicy"] }, opts);
    // Secrets hold the stack's passwords; EKS's own etcd encryption does not protect them from a
    // snapshot reader, envelope encryption with a key of the account's does.
    const key = new aws.kms.Key(`${name}-secrets`, { description: `${name}: EKS secrets envelope encryption`, enableKeyRotation: true, deletionWindowInDays: 7 }, opts);
    const cluster = new aws.eks.Cluster(
        name,
        {
            version: versions.eks,
            roleArn: role.arn,
            // Access entries, not the aws-auth ConfigMap: access is then IAM API calls, visible and revocable without a kubeconfig.
            // The creator's entry is how this program itself reaches the API to create the storage class.
            accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: true },
            // The managed add-ons below are the only copies; EKS's unmanaged defaults would have to be adopted or would drift.
            bootstrapSelfManagedAddons: false,
            vpcConfig: {
                subnetIds: args.subnetIds,
                endpointPrivateAccess: true,
                // Off unless networks are configured: a public endpoint open to 0.0.0.0/0 exposes the
                // API server (and any credential leak) to the whole internet. Private-only means
                // pulumi and kubectl must run inside the VPC or a network peered with it.
                endpointPublicAccess: args.publicAccessCidrs.length > 0,
                ...(args.publicAccessCidrs.length > 0 ? { publicAccessCidrs: args.publicAccessCidrs } : {}),
            },
            encryptionConfig: { provider: { keyArn: key.arn }, resources: ["secrets"] },
        },
        { ...opts, dependsOn: [role] },
    );
    return { cluster, role, key };
}
