import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";

export const PROJECT = "dataplatform";
export const STACK = "test";

export interface Recorded {
    type: string;
    name: string;
    /** Types of the enclosing components, outermost first (read from the URN). */
    parents: string[];
    /** Inputs as the program registered them; secrets keep Pulumi's secret wrapper. */
    inputs: Record<string, unknown>;
}

/** Fake provider-computed outputs, so code that reads them (ids, generated secrets) gets values. */
function computed(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    switch (type) {
        case "random:index/randomPassword:RandomPassword":
            return { result: `${SECRET_MARK}${name}` };
        case "random:index/randomString:RandomString":
            return { result: `rnd${name.replace(/[^a-z]/g, "")}`.slice(0, 8) };
        case "random:index/randomId:RandomId":
            return { b64Url: "Q2x1c3Rlci1JZC0xMjM0NQ", hex: "00" };
        case "docker:index/remoteImage:RemoteImage":
            return { imageId: `sha256:${name}`, repoDigest: `${inputs.name}@sha256:0` };
        case "docker-build:index:Image": {
            // A loaded, unpushed image is referred to by its tag; a pushed one has the digest of
            // what was pushed, which here follows the tag (the tag follows the build's inputs).
            const tag = (inputs.tags as string[])[0]!;
            return { ref: tag, digest: inputs.push ? `sha256:${createHash("sha256").update(tag).digest("hex")}` : "sha256:built" };
        }
        case "aws:s3/bucket:Bucket":
            return { arn: `arn:aws:s3:::${inputs.bucket}` };
        case "aws:iam/policy:Policy":
            return { arn: `arn:aws:iam::123456789012:policy/${name}` };
        case "aws:iam/role:Role":
            return { arn: `arn:aws:iam::123456789012:role/${name}`, name };
        case "aws:kms/key:Key":
            return { arn: `arn:aws:kms:eu-west-1:123456789012:key/${name}` };
        case "aws:ec2/launchTemplate:LaunchTemplate":
            return { latestVersion: 1 };
        case "aws:ecr/repository:Repository":
            return { repositoryUrl: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${inputs.name}`, registryId: "123456789012", arn: `arn:aws:ecr:eu-west-1:123456789012:repository/${inputs.name}` };
        case "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            return { arn: `arn:aws:iam::123456789012:oidc-provider/${String(inputs.url).replace(/^https:\/\//, "")}` };
        case "aws:eks/cluster:Cluster":
            return {
                name,
                arn: `arn:aws:eks:eu-west-1:123456789012:cluster/${name}`,
                endpoint: `https://${name}.gr7.eu-west-1.eks.amazonaws.com`,
                certificateAuthority: { data: "Q0EtREFUQQ==" },
                identities: [{ oidcs: [{ issuer: `https://oidc.eks.eu-west-1.amazonaws.com/id/${name}` }] }],
            };
        case "aws:iam/accessKey:AccessKey":
            return { secret: `${SECRET_MARK}${name}` };
        default:
            return {};
    }
}

/** Every generated password or key under mocks starts with this, so tests can hunt for leaks. */
export const SECRET_MARK = "secret-material-";

// Internal to @pulumi/pulumi (what `disconnect` awaits at the end of a program), not in its typings.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { waitForRPCs } = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs: () => Promise<void> };

type MockMonitor = { resources: Map<string, { urn: string; state: Record<string, unknown> }> };
const monitor = () => pulumi.runtime.getMonitor() as unknown as MockMonitor;
let registered: { type: string; name: string; inputs: Record<string, unknown> }[] = [];

/** Installs Pulumi's mocks; call once per process before any program code runs. */
export function installMocks(): void {
    void pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                const inputs = args.inputs as Record<string, unknown>;
                registered.push({ type: args.type, name: args.name, inputs });
                return { id: `${args.name}-id`, state: { ...inputs, ...computed(args.type, args.name, inputs) } };
            },
            call: (args) => {
                switch (args.token) {
                    // Three zones, as most regions have; the opt-in filter is what the program must pass.
                    case "aws:index/getAvailabilityZones:getAvailabilityZones":
                        return { ...args.inputs, names: ["eu-west-1a", "eu-west-1b", "eu-west-1c"], zoneIds: ["euw1-az1", "euw1-az2", "euw1-az3"] };
                    // A fresh token on each call, as ECR hands out: what the push provider must absorb.
                    case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
                        return { ...args.inputs, proxyEndpoint: "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com", userName: "AWS", password: `${SECRET_MARK}ecr-token` };
                    default:
                        return args.inputs;
                }
            },
        },
        PROJECT,
        STACK,
        false,
    );
}

/** Forgets resources of earlier builds, so each test sees only what its own build registered. */
export function resetResources(): void {
    registered = [];
    monitor().resources.clear();
}

/** Waits for registrations to settle, then lists the build's resources with their parents. */
export async function resources(): Promise<Recorded[]> {
    // Every registration is an RPC to the mock monitor: wait for the queue to drain, however busy
    // the machine is (a fixed pause missed late registrations under load), then one more turn.
    await waitForRPCs();
    await new Promise((r) => setTimeout(r, 50));
    await waitForRPCs();
    const byKey = new Map(registered.map((r) => [`${r.type}::${r.name}`, r.inputs]));
    // urn:pulumi:<stack>::<project>::<parent types $ type>::<name>
    return [...monitor().resources.values()].map(({ urn }) => {
        const [, , typeChain, name] = urn.split("::");
        const chain = typeChain.split("$");
        const type = chain[chain.length - 1];
        return { type, name, parents: chain.slice(0, -1), inputs: byKey.get(`${type}::${name}`) ?? {} };
    });
}

export function setConfig(values: Record<string, string>): void {
    pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(values).map(([k, v]) => [k.includes(":") ? k : `${PROJECT}:${k}`, v])));
}

/** Resolves an Output (or plain value) inside a test. */
export function resolve<T>(value: pulumi.Input<T>): Promise<T> {
    return new Promise((r) => pulumi.output(value).apply((v) => r(v as T)));
}

/** True when a registered input value carries Pulumi's secret wrapper. */
export function isSecretInput(value: unknown): value is { value: unknown } {
    return (
        typeof value === "object" &&
        value !== null &&
        (value as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig
    );
}

/** Unwraps secret wrappers, for asserting on the values inside. */
export function plain(value: unknown): unknown {
    if (isSecretInput(value)) return plain(value.value);
    if (Array.isArray(value)) return value.map(plain);
    if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
    return value;
}

/** Paths of generated secret material that appear in inputs outside a secret wrapper. */
export function leakedSecrets(value: unknown, path = ""): string[] {
    if (isSecretInput(value)) return [];
    if (typeof value === "string") return value.includes(SECRET_MARK) ? [path] : [];
    if (Array.isArray(value)) return value.flatMap((v, i) => leakedSecrets(v, `${path}[${i}]`));
    if (typeof value === "object" && value !== null) return Object.entries(value).flatMap(([k, v]) => leakedSecrets(v, `${path}.${k}`));
    return [];
}
