import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { BucketKey, StackConfig } from "../config";
import { WorkloadIdentities } from "../platform/types";
import { ObjectStoreOutputs, policyDocument, resolvedGrants, StoreAccess, StoreConsumer, storeConsumers, webIdentityConsumers } from "./types";

/**
 * Private, encrypted, versioned AWS S3 buckets, and for each consuming service its own identity
 * with its own least-privilege policy: a workload identity where the platform gives pods one
 * (EKS), so no key exists; an IAM user with an access key otherwise (containers on Docker).
 */
export class S3Store extends pulumi.ComponentResource implements ObjectStoreOutputs {
    readonly kind = "s3" as const;
    readonly pathStyle = false;
    readonly region: string;
    readonly endpoint: pulumi.Output<string>;
    readonly hostEndpoint: pulumi.Output<string>;
    readonly consoleUrl: pulumi.Output<string>;
    readonly buckets: Record<BucketKey, pulumi.Output<string>>;
    readonly credentials: Record<StoreConsumer, StoreAccess>;
    readonly ready: pulumi.Resource[];
    readonly services: ObjectStoreOutputs["services"] = [];

    constructor(name: string, cfg: StackConfig, identities?: WorkloadIdentities, opts?: pulumi.ComponentResourceOptions) {
        super("dataplatform:objectstore:S3", name, {}, opts);
        this.region = cfg.s3.region!;
        const provider = new aws.Provider("aws", { region: this.region as aws.Region }, { parent: this });
        const managed = { parent: this, provider };

        // Bucket names are global on AWS: a suffix fixed at first deploy keeps them unique and stable.
        const suffix = new random.RandomString("bucket-suffix", { length: 8, special: false, upper: false }, { parent: this });
        const ready: pulumi.Resource[] = [];
        this.buckets = Object.fromEntries(
            (Object.keys(cfg.buckets) as BucketKey[]).map((key) => {
                const bucket = new aws.s3.Bucket(`bucket-${key}`, { bucket: pulumi.interpolate`${cfg.buckets[key]}-${suffix.result}`, forceDestroy: false }, managed);
                const on = { bucket: bucket.id };
                ready.push(
                    new aws.s3.BucketPublicAccessBlock(
                        `bucket-${key}-public-access`,
                        { ...on, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
                        managed,
                    ),
                    new aws.s3.BucketOwnershipControls(`bucket-${key}-ownership`, { ...on, rule: { objectOwnership: "BucketOwnerEnforced" } }, managed),
                    new aws.s3.BucketServerSideEncryptionConfiguration(
                        `bucket-${key}-encryption`,
                        { ...on, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }] },
                        managed,
                    ),
                    new aws.s3.BucketVersioning(`bucket-${key}-versioning`, { ...on, versioningConfiguration: { status: "Enabled" } }, managed),
                );
                return [key, bucket.bucket];
            }),
        ) as Record<BucketKey, pulumi.Output<string>>;

        this.credentials = Object.fromEntries(
            storeConsumers.map((consumer): [StoreConsumer, StoreAccess] => {
                const policyDocumentOf = resolvedGrants(consumer, this.buckets).apply(policyDocument);
                if (identities) {
                    const identity = identities.bind(consumer, policyDocumentOf, this, { webIdentity: webIdentityConsumers.includes(consumer) });
                    ready.push(...identity.ready);
                    return [consumer, { kind: "identity", serviceAccount: identity.serviceAccount, roleArn: identity.roleArn }];
                }
                const user = new aws.iam.User(`${consumer}-user`, { name: pulumi.interpolate`${cfg.project}-${cfg.stack}-${consumer}-${suffix.result}`, path: "/dataplatform/" }, managed);
                const policy = new aws.iam.Policy(`${consumer}-policy`, { policy: policyDocumentOf }, managed);
                ready.push(new aws.iam.UserPolicyAttachment(`${consumer}-attach`, { user: user.name, policyArn: policy.arn }, managed));
                const key = new aws.iam.AccessKey(`${consumer}-key`, { user: user.name }, managed);
                return [consumer, { kind: "keys", accessKeyId: key.id, secretAccessKey: pulumi.secret(key.secret) }];
            }),
        ) as Record<StoreConsumer, StoreAccess>;
        this.ready = ready;

        this.endpoint = pulumi.output(`https://s3.${this.region}.amazonaws.com`);
        this.hostEndpoint = this.endpoint;
        this.consoleUrl = pulumi.output(`https://${this.region}.console.aws.amazon.com/s3/buckets?region=${this.region}`);
        this.registerOutputs({ endpoint: this.endpoint, buckets: this.buckets });
    }
}
