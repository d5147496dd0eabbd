/**
 * The node instance types the eks stack accepts, with what sizing needs to know. Memory is AWS's
 * published size (GiB, as MiB); maxPods is the VPC CNI's limit for the type (AWS's
 * eni-max-pods.txt), which drives the kubelet's memory reservation. x86 only: the node group uses
 * the AL2023 x86_64 AMI and the images the program builds are x86.
 */
export const instanceTypes = {
    "t3.medium": { memoryMiB: 4096, maxPods: 17 },
    "t3.large": { memoryMiB: 8192, maxPods: 35 },
    "t3.xlarge": { memoryMiB: 16384, maxPods: 58 },
    "t3.2xlarge": { memoryMiB: 32768, maxPods: 58 },
    "m6i.large": { memoryMiB: 8192, maxPods: 29 },
    "m6i.xlarge": { memoryMiB: 16384, maxPods: 58 },
    "m6i.2xlarge": { memoryMiB: 32768, maxPods: 58 },
    "m6i.4xlarge": { memoryMiB: 65536, maxPods: 234 },
    "m7i.large": { memoryMiB: 8192, maxPods: 29 },
    "m7i.xlarge": { memoryMiB: 16384, maxPods: 58 },
    "m7i.2xlarge": { memoryMiB: 32768, maxPods: 58 },
    "m7i.4xlarge": { memoryMiB: 65536, maxPods: 234 },
    "r6i.large": { memoryMiB: 16384, maxPods: 29 },
    "r6i.xlarge": { memoryMiB: 32768, maxPods: 58 },
    "r6i.2xlarge": { memoryMiB: 65536, maxPods: 58 },
    "r6i.4xlarge": { memoryMiB: 131072, maxPods: 234 },
    "r7i.large": { memoryMiB: 16384, maxPods: 29 },
    "r7i.xlarge": { memoryMiB: 32768, maxPods: 58 },
    "r7i.2xlarge": { memoryMiB: 65536, maxPods: 58 },
    "r7i.4xlarge": { memoryMiB: 131072, maxPods: 234 },
} as const satisfies Record<string, { memoryMiB: number; maxPods: number }>;

export type InstanceType = keyof typeof instanceTypes;
export const instanceTypeNames = Object.keys(instanceTypes) as [InstanceType, ...InstanceType[]];

/**
 * Memory of one node that pods cannot have. The kernel reports about 5% less than the published
 * size; the EKS AMI's kubelet reserves 255 MiB + 11 MiB per possible pod and evicts below 100 MiB
 * free; the add-ons' own pods (aws-node, kube-proxy, ebs-csi-node, eks-pod-identity-agent on every
 * node, CoreDNS and the EBS CSI controller somewhere) get a 768 MiB allowance. An estimate that
 * errs on the large side: a plan that only fits without it would leave pods Pending.
 */
export function systemReserveMiB(type: InstanceType): number {
    const { memoryMiB, maxPods } = instanceTypes[type];
    return Math.ceil(memoryMiB * 0.05) + 255 + 11 * maxPods + 100 + 768;
}

/** What one node of the type leaves for the stack's containers. */
export function allocatableMiB(type: InstanceType): number {
    return instanceTypes[type].memoryMiB - systemReserveMiB(type);
}
