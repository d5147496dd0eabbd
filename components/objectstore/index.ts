import * as pulumi from "@pulumi/pulumi";
import { StackConfig } from "../config";
import { Platform } from "../platform/types";
import { MinioStore } from "./minio";
import { S3Store } from "./s3";
import { ObjectStoreOutputs } from "./types";

export * from "./types";

/** The object-store tier: MinIO on the platform, or AWS S3, behind one set of outputs. */
export function createObjectStore(cfg: StackConfig, platform: Platform, opts?: pulumi.ComponentResourceOptions): ObjectStoreOutputs {
    return cfg.objectStore === "minio" ? new MinioStore("objectstore", cfg, platform, opts) : new S3Store("objectstore", cfg, platform.identities, opts);
}
