import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { podIdentityActions, podIdentityPrincipal, serviceRole } from "./iam";

/** Add-ons every node needs before it can become Ready and before pods get credentials. */
export const nodeAddons = ["vpc-cni", "kube-proxy", "eks-pod-identity-agent"] as const;
/** Add-ons that run Deployments, so need nodes to become active. */
export const workloadAddons = ["coredns", "aws-ebs-csi-driver"] as const;
export const ebsCsiServiceAccount = { namespace: "kube-system", name: "ebs-csi-controller-sa" } as const;

/**
 * No addonVersion: EKS installs its default version for the cluster's Kubernetes version, which
 * follows the version table's eks entry; an update then happens when that entry changes.
 */
function addon(name: string, clusterName: pulumi.Input<string>, addonName: string, opts: pulumi.CustomResourceOptions): aws.eks.Addon {
    return new aws.eks.Addon(
        `${name}-${addonName}`,
        { clusterName, addonName, resolveConflictsOnCreate: "OVERWRITE", resolveConflictsOnUpdate: "OVERWRITE" },
        opts,
    );
}

export function createNodeAddons(name: string, clusterName: pulumi.Input<string>, opts: pulumi.CustomResourceOptions): Record<(typeof nodeAddons)[number], aws.eks.Addon> {
    return Object.fromEntries(nodeAddons.map((a) => [a, addon(name, clusterName, a, opts)])) as Record<(typeof nodeAddons)[number], aws.eks.Addon>;
}

export function createWorkloadAddons(
    name: string,
    args: { partition: string; clusterName: pulumi.Input<string>; nodes: pulumi.Resource },
    opts: pulumi.CustomResourceOptions,
): { addons: Record<(typeof workloadAddons)[number], aws.eks.Addon>; ebsCsiRole: aws.iam.Role; ebsCsiAssociation: aws.eks.PodIdentityAssociation } {
    // The controller creates and attaches volumes: its own role, so the nodes' role never can.
    const ebsCsiRole = serviceRole(
        `${name}-ebs-csi`,
        { principal: podIdentityPrincipal, actions: podIdentityActions, partition: args.partition, policies: ["service-role/AmazonEBSCSIDriverPolicy"] },
        opts,
    );
    const ebsCsiAssociation = new aws.eks.PodIdentityAssociation(
        `${name}-ebs-csi`,
        { clusterName: args.clusterName, namespace: ebsCsiServiceAccount.namespace, serviceAccount: ebsCsiServiceAccount.name, roleArn: ebsCsiRole.arn },
        opts,
    );
    const addons = {
        coredns: addon(name, args.clusterName, "coredns", { ...opts, dependsOn: [args.nodes] }),
        // After the association: the controller's first pods then start with credentials.
        "aws-ebs-csi-driver": addon(name, args.clusterName, "aws-ebs-csi-driver", { ...opts, dependsOn: [args.nodes, ebsCsiAssociation] }),
    };
    return { addons, ebsCsiRole, ebsCsiAssociation };
}
