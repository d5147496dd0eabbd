import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { images, ImageKey } from "../versions";
import { Profile, profiles, ProfileName, TierName } from "./profiles";
import { RawStackConfig, stackConfigSchema } from "./schema";

export { bucketDefaults, BucketKey, hostPortDefaults, HostPortKey } from "./schema";
export { profiles, ProfileName, tierNames, TierName } from "./profiles";

/** The validated configuration every tier reads: raw keys plus the profile's resolved defaults. */
export interface StackConfig extends Omit<RawStackConfig, "kafka" | "flink" | "images" | "kubernetes" | "eks"> {
    project: string;
    stack: string;
    sizing: Pick<Profile, "budgetMiB" | "tierMiB">;
    kafka: Omit<RawStackConfig["kafka"], keyof Profile["kafka"]> & Profile["kafka"];
    flink: Profile["flink"];
    images: Record<ImageKey, string>;
    /** Set when platform is kubernetes, with the namespace resolved. */
    kubernetes?: Omit<NonNullable<RawStackConfig["kubernetes"]>, "namespace"> & { namespace: string };
    /** Set when the stack creates an EKS cluster, with the region and desired count resolved. */
    eks?: Omit<NonNullable<RawStackConfig["eks"]>, "region" | "desiredNodes"> & { region: string; desiredNodes: number };
    isEnabled(tier: TierName): boolean;
}

export interface ConfigProblem {
    key: string;
    value: string;
    message: string;
}

/**
 * Thrown before any resource exists. Lists every bad value found in one pass; cross-key checks
 * (port clashes, region required for s3) run once each key on its own is valid.
 */
export class ConfigError extends Error {
    constructor(readonly problems: ConfigProblem[]) {
        super(
            "Invalid stack configuration:\n" +
                problems.map((p) => `  - ${p.key} = ${p.value}: ${p.message}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

const show = (v: unknown) => (v === undefined ? "(not set)" : JSON.stringify(v));

function valueAt(root: unknown, path: PropertyKey[]): unknown {
    return path.reduce<unknown>((o, k) => (o !== null && typeof o === "object" ? (o as Record<PropertyKey, unknown>)[k] : undefined), root);
}

/**
 * Parses the project's config map as Pulumi hands it over (`<project>:<key>` -> string; structured
 * values arrive as JSON). Keys of other namespaces (aws:, docker:) are left to their providers,
 * except aws:region, which stands in for s3.region, and kubernetes:context and kubernetes:kubeconfig,
 * which stand in for kubernetes.context and kubernetes.kubeconfig. aws:region also stands in for
 * eks.region when the stack creates the cluster (kubernetes.cluster eks).
 */
export function parseStackConfig(raw: Record<string, string>, project: string, stack: string): StackConfig {
    const input: Record<string, unknown> = {};
    const problems: ConfigProblem[] = [];
    for (const [fullKey, text] of Object.entries(raw)) {
        if (!fullKey.startsWith(`${project}:`)) continue;
        const key = fullKey.slice(project.length + 1);
        if (/^\s*[[{]/.test(text)) {
            try {
                input[key] = JSON.parse(text);
            } catch {
                problems.push({ key: fullKey, value: show(text), message: "not valid JSON for a structured value" });
            }
        } else input[key] = text;
    }
    const awsRegion = raw["aws:region"];
    if (awsRegion && input.s3 === undefined) input.s3 = { region: awsRegion };
    // A created cluster needs no eks key of its own: every eks setting has a default but the region.
    const cluster = (input.kubernetes as Record<string, unknown> | undefined)?.cluster;
    if (input.platform === "kubernetes" && cluster === "eks" && input.eks === undefined) input.eks = {};
    const eks = input.eks as Record<string, unknown> | undefined;
    if (awsRegion && typeof eks === "object" && eks !== null && !Array.isArray(eks) && eks.region === undefined) input.eks = { ...eks, region: awsRegion };

    if (input.platform === "kubernetes") {
        const k8s = (input.kubernetes ?? {}) as Record<string, unknown>;
        // A cluster the stack creates is reached with its own kubeconfig, whatever the provider's keys say.
        if (typeof k8s === "object" && k8s !== null && cluster !== "eks") {
            const stand = { context: raw["kubernetes:context"], kubeconfig: raw["kubernetes:kubeconfig"] };
            const filled = Object.fromEntries(Object.entries(stand).filter(([k, v]) => v !== undefined && k8s[k] === undefined));
            if (input.kubernetes !== undefined || Object.keys(filled).length > 0) input.kubernetes = { ...k8s, ...filled };
        }
        // Port-forward listens on 127.0.0.1 whatever this says; a set value would promise what does not happen.
        if (input.bindAddress !== undefined) {
            problems.push({ key: `${project}:bindAddress`, value: show(input.bindAddress), message: "not used on kubernetes: each port-forward listens on 127.0.0.1; unset it" });
        }
    }

    const result = stackConfigSchema.safeParse(input, { reportInput: true });
    if (!result.success) problems.push(...toProblems(result.error, input, project));
    if (problems.length > 0) throw new ConfigError(problems);
    const cfg = resolve(result.data!, project, stack);
    const namespace = cfg.kubernetes?.namespace;
    if (namespace !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) {
        throw new ConfigError([
            { key: `${project}:kubernetes.namespace`, value: "(not set)", message: `the default namespace ${namespace} is not a DNS label (a-z, 0-9 and '-', at most 63); set kubernetes.namespace` },
        ]);
    }
    return cfg;
}

function toProblems(error: z.ZodError, input: unknown, project: string): ConfigProblem[] {
    return error.issues.flatMap((issue) => {
        const key = (path: PropertyKey[]) => `${project}:${path.map(String).join(".")}`;
        if (issue.code === "unrecognized_keys") {
            const parent = valueAt(input, issue.path);
            const allowed = allowedKeys(issue.path);
            return issue.keys.map((k) => {
                const value = (parent as Record<string, unknown>)[k];
                // `pulumi config set project:kafka.brokers 3` sets a key named "kafka.brokers"; nested keys need --path.
                const nested = issue.path.length === 0 && k.includes(".") && allowed.includes(k.split(".")[0]!);
                const hint = nested ? `; to set ${k} inside ${k.split(".")[0]}, use: pulumi config set --path '${project}:${k}' ${typeof value === "string" ? value : JSON.stringify(value)}` : "";
                return { key: key([...issue.path, k]), value: show(value), message: `unknown key; allowed: ${allowed.join(", ")}${hint}` };
            });
        }
        return [{ key: key(issue.path), value: show(valueAt(input, issue.path)), message: issue.message }];
    });
}

/** Walks the schema to name the keys allowed where an unknown one was found. */
function allowedKeys(path: PropertyKey[]): string[] {
    let node: z.ZodType | undefined = stackConfigSchema;
    for (const k of path) {
        while (node && !(node instanceof z.ZodObject) && "unwrap" in node) node = (node as unknown as { unwrap(): z.ZodType }).unwrap();
        node = node instanceof z.ZodObject ? (node.shape as Record<string, z.ZodType>)[String(k)] : undefined;
    }
    while (node && !(node instanceof z.ZodObject) && "unwrap" in node) node = (node as unknown as { unwrap(): z.ZodType }).unwrap();
    return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
}

function resolve(cfg: RawStackConfig, project: string, stack: string): StackConfig {
    const profile: Profile = profiles[cfg.profile as ProfileName];
    return {
        ...cfg,
        project,
        stack,
        sizing: { budgetMiB: profile.budgetMiB, tierMiB: profile.tierMiB },
        kafka: { ...cfg.kafka, brokers: cfg.kafka.brokers ?? profile.kafka.brokers, controllers: cfg.kafka.controllers ?? profile.kafka.controllers },
        flink: {
            taskManagers: cfg.flink.taskManagers ?? profile.flink.taskManagers,
            slotsPerTaskManager: cfg.flink.slotsPerTaskManager ?? profile.flink.slotsPerTaskManager,
        },
        images: { ...images, ...(Object.fromEntries(Object.entries(cfg.images).filter(([, v]) => v)) as Partial<Record<ImageKey, string>>) },
        kubernetes: cfg.platform === "kubernetes" ? { cluster: "existing", ...cfg.kubernetes, namespace: cfg.kubernetes?.namespace ?? `${project}-${stack}` } : undefined,
        eks: cfg.eks ? { ...cfg.eks, region: cfg.eks.region!, desiredNodes: cfg.eks.desiredNodes ?? cfg.eks.minNodes } : undefined,
        isEnabled: (tier) => (tier === "objectStore" ? true : cfg.tiers[tier]),
    };
}

/** Reads this stack's config from the Pulumi engine and validates it. */
export function loadStackConfig(): StackConfig {
    return parseStackConfig(pulumi.runtime.allConfig(), pulumi.getProject(), pulumi.getStack());
}
