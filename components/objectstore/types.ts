import * as pulumi from "@pulumi/pulumi";
import { BucketKey } from "../config";
import { DeployedService } from "../platform/types";

/** Services that read or write the object store, each with its own least-privilege identity. */
export const storeConsumers = ["flink", "iceberg", "druid", "archiver"] as const;
export type StoreConsumer = (typeof storeConsumers)[number];

/**
 * Consumers whose AWS SDK predates EKS Pod Identity, so their workload identity goes through IRSA:
 * Druid 33's druid-s3-extensions runs SDK v1 1.12.638, and Pod Identity needs 1.12.746. Its
 * provider chain has the web identity step (AWSCredentialsUtils).
 */
export const webIdentityConsumers: readonly StoreConsumer[] = ["druid"];

export interface Grant {
    bucket: BucketKey;
    /** Limit to keys under this prefix; the whole bucket when absent. */
    prefix?: string;
}

/**
 * Who may touch what. Flink writes checkpoints and, as the Iceberg sink, data files in the
 * warehouse; the REST catalog writes table metadata there; Druid keeps segments and task logs
 * in its deep-storage bucket; the archiving consumer writes raw-event batches.
 */
export const grants: Record<StoreConsumer, Grant[]> = {
    flink: [{ bucket: "checkpoints" }, { bucket: "warehouse" }],
    iceberg: [{ bucket: "warehouse" }],
    druid: [{ bucket: "druid" }],
    archiver: [{ bucket: "raw" }],
};

/** A consumer's own access keys (MinIO users; IAM users where pods have no cloud identity). */
export interface S3Keys {
    kind: "keys";
    accessKeyId: pulumi.Output<string>;
    /** Always a Pulumi secret. */
    secretAccessKey: pulumi.Output<string>;
}

/** A consumer's own workload identity (EKS Pod Identity): its pods get short-lived credentials, and no key exists. */
export interface StoreIdentity {
    kind: "identity";
    serviceAccount: string;
    roleArn: pulumi.Output<string>;
}

export type StoreAccess = S3Keys | StoreIdentity;

/** The keys, when the consumer has keys: engines then get them as settings; otherwise their SDK's default chain finds the identity's. */
export const keysOf = (access: StoreAccess): S3Keys | undefined => (access.kind === "keys" ? access : undefined);

/** The ServiceSpec half of a consumer's identity: the account its pods run as. */
export const runsAs = (access: StoreAccess): { serviceAccount?: string } => (access.kind === "identity" ? { serviceAccount: access.serviceAccount } : {});

/** Keys as the standard AWS variables, which every SDK's default chain reads first; none for an identity. */
export function awsKeyEnv(access: StoreAccess): Record<string, pulumi.Output<string>> {
    const keys = keysOf(access);
    return keys ? { AWS_ACCESS_KEY_ID: keys.accessKeyId, AWS_SECRET_ACCESS_KEY: keys.secretAccessKey } : {};
}

/** What every later tier gets, whichever store was chosen. */
export interface ObjectStoreOutputs {
    kind: "minio" | "s3";
    /** S3 endpoint URL as services inside the platform reach it. */
    endpoint: pulumi.Output<string>;
    /** S3 endpoint URL from the machine that runs `pulumi up`. */
    hostEndpoint: pulumi.Output<string>;
    /** A web console, where the store has one. */
    consoleUrl: pulumi.Output<string>;
    region: string;
    /** MinIO needs path-style addressing; AWS uses virtual-hosted style. */
    pathStyle: boolean;
    buckets: Record<BucketKey, pulumi.Output<string>>;
    /** Each consumer's own access: keys, or on EKS a workload identity. */
    credentials: Record<StoreConsumer, StoreAccess>;
    /** Resources a consumer must wait for: buckets, users and policies exist once these do. */
    ready: pulumi.Resource[];
    /** Console login for a store the stack runs itself (MinIO root); secrets. */
    adminLogin?: { user: pulumi.Output<string>; password: pulumi.Output<string> };
    /** Containers this tier runs (none for S3). */
    services: DeployedService[];
}

/**
 * An IAM policy document scoped to the given buckets/prefixes. MinIO accepts the same AWS
 * policy language, so both stores use this one function.
 */
export function policyDocument(bucketGrants: { bucket: string; prefix?: string }[]): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: bucketGrants.flatMap(({ bucket, prefix }) => {
            const keys = prefix ? `${prefix.replace(/\/?$/, "/")}*` : "*";
            return [
                {
                    Effect: "Allow",
                    Action: ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
                    Resource: [`arn:aws:s3:::${bucket}`],
                    ...(prefix ? { Condition: { StringLike: { "s3:prefix": [keys] } } } : {}),
                },
                {
                    Effect: "Allow",
                    Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                    Resource: [`arn:aws:s3:::${bucket}/${keys}`],
                },
            ];
        }),
    });
}

/** Resolves a consumer's grants to the bucket names the store really created. */
export function resolvedGrants(consumer: StoreConsumer, buckets: Record<BucketKey, pulumi.Output<string>>) {
    return pulumi.all(grants[consumer].map((g) => buckets[g.bucket].apply((bucket) => ({ bucket, prefix: g.prefix }))));
}
