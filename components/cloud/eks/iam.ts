import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** The ARN partition of a region: managed policy ARNs differ in GovCloud and China. */
export function partitionOf(region: string): string {
    if (region.startsWith("us-gov-")) return "aws-us-gov";
    if (region.startsWith("cn-")) return "aws-cn";
    return "aws";
}

export const managedPolicyArn = (partition: string, name: string) => `arn:${partition}:iam::aws:policy/${name}`;

/**
 * A role for an AWS service principal, with AWS managed policies only. Each attachment is its own
 * resource so that a policy list change replaces one attachment, never the role.
 */
export function serviceRole(
    name: string,
    args: { principal: string; actions: string[]; partition: string; policies: string[] },
    opts: pulumi.CustomResourceOptions,
): aws.iam.Role {
    const role = new aws.iam.Role(
        name,
        {
            assumeRolePolicy: JSON.stringify({
                Version: "2012-10-17",
                Statement: [{ Effect: "Allow", Principal: { Service: args.principal }, Action: args.actions }],
            }),
        },
        opts,
    );
    for (const policy of args.policies) {
        new aws.iam.RolePolicyAttachment(`${name}-${policy.split("/").pop()}`, { role: role.name, policyArn: managedPolicyArn(args.partition, policy) }, opts);
    }
    return role;
}

/** Trust for roles that pods assume through EKS Pod Identity (the agent tags the session with the pod's identity). */
export const podIdentityPrincipal = "pods.eks.amazonaws.com";
export const podIdentityActions = ["sts:AssumeRole", "sts:TagSession"];
