import * as aws from "@pulumi/aws";
import * as dockerbuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { ImageRegistry } from "../../platform/types";

/** How many pushed images a repository keeps: enough to roll back a few deploys, bounded storage. */
export const KEEP_IMAGES = 10;

/**
 * ECR's lifecycle rules: untagged manifests (left behind by multi-arch or interrupted pushes) go
 * after a day, and only the newest KEEP_IMAGES tagged images stay. Pods run by digest, so an
 * image still in use must be among those: a deploy pushes at most one per repository.
 */
export const lifecyclePolicy = JSON.stringify({
    rules: [
        { rulePriority: 1, description: "untagged after a day", selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 1 }, action: { type: "expire" } },
        { rulePriority: 2, description: `keep the newest ${KEEP_IMAGES}`, selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: KEEP_IMAGES }, action: { type: "expire" } },
    ],
});

/**
 * The stack's ECR repositories, one per image the program builds, made as the tiers ask for them.
 * The push logs in with an ECR token through a builder provider of its own: the token changes on
 * every run, and on the provider's config (not the images' inputs) it rebuilds nothing. Nodes pull
 * with their role (AmazonEC2ContainerRegistryReadOnly), so pods need no pull Secret, which a
 * 12-hour token would leave stale anyway.
 */
export class EcrRegistry implements ImageRegistry {
    readonly address: pulumi.Output<string>;
    readonly pullSecret = false;
    readonly pushProvider: dockerbuild.Provider;
    /** By the tier's image name (dataplatform/flink, ...). */
    readonly repositories: Record<string, aws.ecr.Repository> = {};

    constructor(
        private readonly name: string,
        private readonly args: { prefix: string; provider: aws.Provider; parent: pulumi.Resource },
    ) {
        const token = aws.ecr.getAuthorizationTokenOutput({}, { provider: args.provider, parent: args.parent });
        this.address = token.proxyEndpoint.apply((endpoint) => endpoint.replace(/^https:\/\//, ""));
        this.pushProvider = new dockerbuild.Provider(
            `${name}-push`,
            { registries: [{ address: this.address, username: token.userName, password: pulumi.secret(token.password) }] },
            { parent: args.parent },
        );
    }

    repository(image: string, parent: pulumi.Resource): pulumi.Output<string> {
        const existing = this.repositories[image];
        if (existing) return existing.repositoryUrl;
        const opts = { parent, provider: this.args.provider };
        // Named per stack: two stacks in one account and region never push into each other's repositories.
        const repo = new aws.ecr.Repository(
            `${this.name}-${image.split("/").pop()}`,
            {
                name: `${this.args.prefix}/${image}`,
                // Tags are content digests: a tag that could point elsewhere later would defeat them.
                imageTagMutability: "IMMUTABLE",
                imageScanningConfiguration: { scanOnPush: true },
                encryptionConfigurations: [{ encryptionType: "AES256" }],
                // Images are rebuilt from the repository's sources: a destroy must not stop at a non-empty repository.
                forceDelete: true,
            },
            opts,
        );
        new aws.ecr.LifecyclePolicy(`${this.name}-${image.split("/").pop()}`, { repository: repo.name, policy: lifecyclePolicy }, opts);
        this.repositories[image] = repo;
        return repo.repositoryUrl;
    }
}
