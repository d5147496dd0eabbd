import { program } from "../../components/program";
import { Stack } from "../../components/stack";
import * as fs from "node:fs";
import * as path from "node:path";
import { plain, PROJECT, Recorded, resetResources, resources, setConfig } from "./mocks";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require("js-yaml") as { load(text: string): unknown };

/**
 * A stack file's config (`Pulumi.<stack>.yaml`) as build() takes it: the project's keys without
 * their prefix, other namespaces' keys (aws:region) whole, structured values as JSON, which is
 * how Pulumi hands them to the program.
 */
export function stackConfig(stack: string): Record<string, string> {
    const file = yaml.load(fs.readFileSync(path.join(__dirname, "..", "..", `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
    return Object.fromEntries(
        Object.entries(file.config).map(([k, v]) => [k.startsWith(`${PROJECT}:`) ? k.slice(PROJECT.length + 1) : k, typeof v === "string" ? v : JSON.stringify(v)]),
    );
}

export interface Built {
    stack: Stack;
    all: Recorded[];
    ofType(type: string): Recorded[];
    one(type: string, name: string): Recorded;
}

const builds = new Map<string, Promise<Built>>();

/**
 * Builds the program under the given config keys (without the project prefix) and lists what it
 * registered. A build is pure data once recorded, so each configuration is built once per run.
 */
export function build(config: Record<string, string> = {}): Promise<Built> {
    const key = JSON.stringify(Object.entries(config).sort());
    let built = builds.get(key);
    if (!built) {
        // Builds run one after another: each resets the shared mock monitor.
        const previous = [...builds.values()].pop() ?? Promise.resolve(undefined);
        built = previous.catch(() => undefined).then(() => buildNow(config));
        builds.set(key, built);
    }
    return built;
}

async function buildNow(config: Record<string, string>): Promise<Built> {
    resetResources();
    setConfig(config);
    const stack = program();
    const all = await resources();
    const ofType = (type: string) => all.filter((r) => r.type === type);
    return {
        stack,
        all,
        ofType,
        one: (type, name) => {
            const found = all.find((r) => r.type === type && r.name === name);
            if (!found) throw new Error(`no ${type} named ${name}; have: ${all.map((r) => `${r.type}::${r.name}`).join(", ")}`);
            return found;
        },
    };
}

export const T = {
    container: "docker:index/container:Container",
    volume: "docker:index/volume:Volume",
    image: "docker:index/remoteImage:RemoteImage",
    build: "docker-build:index:Image",
    network: "docker:index/network:Network",
    minioBucket: "pulumi-nodejs:dynamic/dataplatform:MinioBucket",
    minioUser: "pulumi-nodejs:dynamic/dataplatform:MinioUser",
    minioPolicy: "pulumi-nodejs:dynamic/dataplatform:MinioPolicy",
    minioAttach: "pulumi-nodejs:dynamic/dataplatform:MinioPolicyAttachment",
    s3Bucket: "aws:s3/bucket:Bucket",
    s3PublicAccess: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    s3Encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    s3Versioning: "aws:s3/bucketVersioning:BucketVersioning",
    s3Ownership: "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    iamUser: "aws:iam/user:User",
    iamPolicy: "aws:iam/policy:Policy",
    iamAttach: "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    iamKey: "aws:iam/accessKey:AccessKey",
} as const;

/** A rendered container's environment as a map (secret values unwrapped). */
export function env(b: Built, name: string): Record<string, string> {
    return Object.fromEntries((plain(b.one(T.container, name).inputs.envs) as string[]).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
}

/** The Kubernetes objects' type tokens, as the mocks record them. */
export const K = {
    namespace: "kubernetes:core/v1:Namespace",
    networkPolicy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    deployment: "kubernetes:apps/v1:Deployment",
    statefulSet: "kubernetes:apps/v1:StatefulSet",
    service: "kubernetes:core/v1:Service",
    secret: "kubernetes:core/v1:Secret",
    configMap: "kubernetes:core/v1:ConfigMap",
    serviceAccount: "kubernetes:core/v1:ServiceAccount",
    ingress: "kubernetes:networking.k8s.io/v1:Ingress",
    pdb: "kubernetes:policy/v1:PodDisruptionBudget",
    storageClass: "kubernetes:storage.k8s.io/v1:StorageClass",
    provider: "pulumi:providers:kubernetes",
} as const;
