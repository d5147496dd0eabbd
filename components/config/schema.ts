import { z } from "zod";
import { images, ImageKey } from "../versions";
import { kafkaConfigSchema } from "../kafka/config";
import { druidConfigSchema } from "../druid/config";
import { pipelineConfigSchema } from "../pipeline/config";
import { supersetConfigSchema } from "../superset/config";
import { profileNames, profiles, TierName } from "./profiles";
import { allocatableMiB, instanceTypeNames, instanceTypes, InstanceType, systemReserveMiB } from "../cloud/eks/instances";

/**
 * Host ports published by each service, with the tier that owns them: the one table of ports.
 * Inside the Docker network services keep their upstream ports; only these are remapped, which
 * is how the upstream 8081/8083/8088 collisions are avoided.
 */
export const hostPortDefaults = {
    minioApi: { tier: "objectStore", port: 9000 },
    minioConsole: { tier: "objectStore", port: 9001 },
    kafka: { tier: "kafka", port: 9092 },
    schemaRegistry: { tier: "kafka", port: 8081 },
    kafkaConnect: { tier: "kafka", port: 8083 },
    ksqldb: { tier: "kafka", port: 8088 },
    kafkaUi: { tier: "kafka", port: 8080 },
    flinkUi: { tier: "flink", port: 18081 },
    sqlGateway: { tier: "flink", port: 18083 },
    icebergRest: { tier: "flink", port: 8181 },
    druidRouter: { tier: "druid", port: 8888 },
    superset: { tier: "superset", port: 8089 },
} as const satisfies Record<string, { tier: TierName; port: number }>;
export type HostPortKey = keyof typeof hostPortDefaults;

export const bucketDefaults = {
    raw: "raw-events",
    warehouse: "iceberg-warehouse",
    druid: "druid-deep-storage",
    checkpoints: "flink-checkpoints",
} as const;
export type BucketKey = keyof typeof bucketDefaults;

const port = z.number().int().min(1024, "expected a port from 1024 to 65535").max(65535, "expected a port from 1024 to 65535");

// S3 naming rules (the subset MinIO also enforces): 3-63 chars, lowercase, digits, dots, hyphens.
const bucketName = z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "expected 3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit")
    .refine((n) => !/\.\.|^\d+\.\d+\.\d+\.\d+$/.test(n), "expected no '..' and not an IP address");

const ipv4 = z
    .string()
    .regex(/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/, "expected an IPv4 address (four numbers 0-255) such as 127.0.0.1");

/**
 * An image override must stay pinned like the version table: a tag other than `latest`, or a
 * digest. A moving reference would change what runs without a change anyone previewed.
 */
const imageRef = z
    .string()
    .regex(/^[a-z0-9./_:@-]+$/i, "expected an image reference such as registry/name:tag")
    .refine((ref) => {
        if (/@sha256:[0-9a-f]{64}$/.test(ref)) return true;
        const tag = /:([\w][\w.-]{0,127})$/.exec(ref.slice(ref.lastIndexOf("/") + 1))?.[1];
        return tag !== undefined && tag !== "latest";
    }, "expected a pinned image: name:tag with a tag other than latest, or name@sha256:<digest>");

const tierFlags = Object.fromEntries(
    (Object.keys(profiles.laptop.tierMiB) as TierName[]).filter((t) => t !== "objectStore").map((t) => [t, z.boolean().default(true)]),
) as Record<Exclude<TierName, "objectStore">, z.ZodDefault<z.ZodBoolean>>;

const portFields = Object.fromEntries(
    Object.entries(hostPortDefaults).map(([k, v]) => [k, port.default(v.port)]),
) as Record<HostPortKey, z.ZodDefault<typeof port>>;

const bucketFields = Object.fromEntries(
    Object.entries(bucketDefaults).map(([k, v]) => [k, bucketName.default(v)]),
) as Record<BucketKey, z.ZodDefault<typeof bucketName>>;

const imageFields = Object.fromEntries(Object.keys(images).map((k) => [k, imageRef.optional()])) as Record<
    ImageKey,
    z.ZodOptional<typeof imageRef>
>;

/** A Kubernetes object name that is also a DNS label (namespaces). */
const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "expected a DNS label: 1-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit");
/** Most Kubernetes object names (storage classes, secrets). */
const dnsSubdomain = z
    .string()
    .max(253, "expected at most 253 characters")
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, "expected a DNS subdomain: a-z, 0-9, '-' and '.', starting and ending with a letter or digit");

/**
 * Where the stack runs when `platform` is kubernetes. Only paths and names: a kubeconfig's content
 * (tokens) would land in the state, so the key takes a file path.
 */
export const kubernetesConfigSchema = z.strictObject({
    /**
     * Where the cluster comes from: `existing` is reached through a kubeconfig context; `eks` is
     * created by the stack (the eks key sizes it) with its own registry, storage class and kubeconfig.
     */
    cluster: z.enum(["existing", "eks"]).default("existing"),
    /** One namespace per stack; `<project>-<stack>` when unset. */
    namespace: dnsLabel.optional(),
    /** A kubeconfig context; the kubeconfig's current context when unset (kubernetes:context stands in). */
    context: z.string().min(1, "expected a kubeconfig context name").optional(),
    /** A kubeconfig file; $KUBECONFIG or ~/.kube/config when unset. */
    kubeconfig: z.string().min(1, "expected a file path").optional(),
    /** For the volume claims; the cluster's default class when unset. */
    storageClass: dnsSubdomain.optional(),
    /** Where the images the program builds are pushed and pulled from: host[:port][/path]. */
    registry: z
        .string()
        .regex(/^[a-z0-9.-]+(:\d{1,5})?(\/[a-z0-9._-]+)*$/, "expected a registry as host[:port][/path], such as localhost:5001 or 123456789012.dkr.ecr.eu-west-1.amazonaws.com")
        .optional(),
    /** Credentials for a private registry: used to push, and kept in the pods' pull Secret. Set the password with --secret. */
    registryAuth: z.strictObject({ username: z.string().min(1, "expected a user name"), password: z.string().min(1, "expected a password") }).optional(),
    /** Off unless set: the UIs are then reached through `kubectl port-forward` only. */
    ingress: z
        .strictObject({
            className: dnsSubdomain,
            baseDomain: dnsSubdomain,
            controllerNamespace: dnsLabel,
            tlsSecret: dnsSubdomain.optional(),
        })
        .optional(),
});

const awsRegion = z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, "expected an AWS region such as eu-west-1");

const cidrMessage = "expected an IPv4 CIDR block such as 203.0.113.0/24";
/** An IPv4 CIDR block with no host bits set, the form EKS stores (and compares on every update). */
const cidr = z
    .string()
    .regex(/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\/(3[0-2]|[12]?\d)$/, cidrMessage)
    .superRefine((block, ctx) => {
        const [ip, bits] = block.split("/") as [string, string];
        const addr = ip.split(".").reduce((a, o) => a * 256 + Number(o), 0);
        const size = 2 ** (32 - Number(bits));
        const network = addr - (addr % size);
        if (network !== addr) {
            const canonical = [24, 16, 8, 0].map((s) => Math.floor(network / 2 ** s) % 256).join(".");
            ctx.addIssue({ code: "custom", input: block, message: `${cidrMessage}, with no host bits set: ${canonical}/${bits}` });
        }
    });

const nodeCount = (what: string) => z.number().int().min(1, `expected 1 to 100 ${what}`).max(100, `expected 1 to 100 ${what}`);

/**
 * The EKS cluster the stack creates. Defaults are sized for the cluster profile (three nodes of
 * 16 GiB, one per zone) and keep the API endpoint private.
 */
export const eksConfigSchema = z.strictObject({
    /** aws:region stands in when unset. */
    region: awsRegion.optional(),
    /** Three by default: the cluster profile's three Kafka brokers and controllers then each have a zone, so a zone outage keeps a quorum. */
    availabilityZones: z.number().int().min(2, "expected 2 or 3 availability zones: EKS needs subnets in at least two").max(3, "expected 2 or 3 availability zones").default(3),
    /** One NAT gateway unless perZone: cheaper, at the price of private subnets losing egress while its zone is down. */
    natGateways: z.enum(["single", "perZone"]).default("single"),
    instanceType: z.enum(instanceTypeNames).default("m6i.xlarge"),
    minNodes: nodeCount("minimum nodes").default(3),
    maxNodes: nodeCount("maximum nodes").default(6),
    /** minNodes when unset. */
    desiredNodes: nodeCount("desired nodes").optional(),
    /** Networks that may reach the cluster's API over the internet; none (private endpoint only) when unset. */
    publicAccessCidrs: z.array(cidr).default([]),
});

export const stackConfigSchema = z
    .strictObject({
        platform: z.enum(["docker", "kubernetes"]).default("docker"),
        objectStore: z.enum(["minio", "s3"]).default("minio"),
        profile: z.enum(profileNames).default("laptop"),
        /** Address published ports bind to. 127.0.0.1 keeps every UI and API off the network. */
        bindAddress: ipv4.default("127.0.0.1"),
        tiers: z.strictObject(tierFlags).prefault({}),
        ports: z.strictObject(portFields).prefault({}),
        buckets: z.strictObject(bucketFields).prefault({}),
        /** Image overrides (e.g. a mirror); the defaults come from the version table. */
        images: z.strictObject(imageFields).prefault({}),
        s3: z
            .strictObject({
                region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, "expected an AWS region such as eu-west-1").optional(),
            })
            .prefault({}),
        kafka: kafkaConfigSchema,
        flink: z
            .strictObject({
                taskManagers: z.number().int().min(1, "expected 1 to 16 task managers").max(16, "expected 1 to 16 task managers").optional(),
                slotsPerTaskManager: z.number().int().min(1, "expected 1 to 32 slots").max(32, "expected 1 to 32 slots").optional(),
            })
            .prefault({}),
        druid: druidConfigSchema,
        superset: supersetConfigSchema,
        pipeline: pipelineConfigSchema,
        kubernetes: kubernetesConfigSchema.optional(),
        eks: eksConfigSchema.optional(),
    })
    .superRefine((cfg, ctx) => {
        if (cfg.objectStore === "s3" && !cfg.s3.region) {
            ctx.addIssue({
                code: "custom",
                path: ["s3", "region"],
                input: undefined,
                message: "required when objectStore is s3 (set s3.region or aws:region)",
            });
        }
        if (cfg.eks) eksProblems(cfg, ctx);
        if (cfg.platform !== "kubernetes" && cfg.kubernetes !== undefined) {
            ctx.addIssue({ code: "custom", path: ["kubernetes"], input: cfg.kubernetes, message: "applies only when platform is kubernetes" });
        }
        const ownsCluster = cfg.kubernetes?.cluster === "eks";
        if (cfg.eks && cfg.platform === "kubernetes" && !ownsCluster) {
            ctx.addIssue({ code: "custom", path: ["eks"], input: cfg.eks, message: "applies only when kubernetes.cluster is eks (the stack then creates the cluster); set kubernetes.cluster to eks, or unset eks to use an existing cluster" });
        }
        if (ownsCluster) {
            // What the stack makes for its own cluster: a key for an existing one would be silently unused.
            const made: Partial<Record<keyof z.infer<typeof kubernetesConfigSchema>, string>> = {
                context: "the stack creates the cluster and reaches it with its own kubeconfig (the eks.kubeconfig output)",
                kubeconfig: "the stack creates the cluster and reaches it with its own kubeconfig (the eks.kubeconfig output)",
                registry: "the stack pushes its images to its own ECR repositories",
                registryAuth: "the stack pushes with an ECR token, and the nodes pull with their role",
                storageClass: "the stack creates the encrypted gp3 class its claims use",
            };
            for (const [key, why] of Object.entries(made)) {
                const value = (cfg.kubernetes as Record<string, unknown>)[key];
                if (value !== undefined) ctx.addIssue({ code: "custom", path: ["kubernetes", key], input: value, message: `not used with kubernetes.cluster eks: ${why}; unset it` });
            }
        }
        // Pods pull what the program builds from a registry; a local Docker daemon's images are not on the cluster.
        const builds = (["flink", "superset", "pipeline"] as const).filter((t) => cfg.tiers[t]);
        if (cfg.platform === "kubernetes" && !ownsCluster && !cfg.kubernetes?.registry && builds.length > 0) {
            ctx.addIssue({
                code: "custom",
                path: ["kubernetes", "registry"],
                input: undefined,
                message: `required on kubernetes: the ${builds.join(", ")} tier${builds.length > 1 ? "s build images" : " builds an image"} the cluster must pull; e.g. localhost:5001 for a kind or k3d local registry`,
            });
        }
        const enabled = (tier: TierName) =>
            tier === "objectStore" ? cfg.objectStore === "minio" : cfg.tiers[tier as Exclude<TierName, "objectStore">];
        const brokers = cfg.kafka.brokers ?? profiles[cfg.profile].kafka.brokers;
        // Each broker publishes its own host listener: ports.kafka, ports.kafka + 1, ...
        const span = (key: HostPortKey) => (key === "kafka" ? brokers : 1);
        const seen = new Map<number, HostPortKey>();
        for (const key of Object.keys(hostPortDefaults) as HostPortKey[]) {
            if (!enabled(hostPortDefaults[key].tier)) continue;
            for (let p = cfg.ports[key]; p < cfg.ports[key] + span(key); p++) {
                const other = seen.get(p);
                if (other) {
                    const taken = span(key) > 1 ? ` (ports.${key} takes ${cfg.ports[key]}-${cfg.ports[key] + span(key) - 1}, one per broker)` : "";
                    ctx.addIssue({
                        code: "custom",
                        path: ["ports", key],
                        input: cfg.ports[key],
                        message: `port clash: ports.${other} is also ${p}${taken}; every published port must be unique`,
                    });
                } else seen.set(p, key);
            }
        }
        for (const [key, topic] of Object.entries(cfg.kafka.topics)) {
            if (topic.replicationFactor !== undefined && topic.replicationFactor > brokers) {
                ctx.addIssue({
                    code: "custom",
                    path: ["kafka", "topics", key, "replicationFactor"],
                    input: topic.replicationFactor,
                    message: `expected at most ${brokers}, the number of brokers`,
                });
            }
        }
        if (cfg.tiers.druid && !cfg.tiers.kafka) {
            ctx.addIssue({
                code: "custom",
                path: ["tiers", "druid"],
                input: true,
                message: "the druid tier ingests from the kafka tier's processed topic; enable tiers.kafka or disable tiers.druid",
            });
        }
        const missing = (["kafka", "flink"] as const).filter((t) => !cfg.tiers[t]);
        if (cfg.tiers.pipeline && missing.length > 0) {
            ctx.addIssue({
                code: "custom",
                path: ["tiers", "pipeline"],
                input: true,
                message: `the pipeline runs on the kafka and flink tiers; enable tiers.${missing.join(" and tiers.")} or disable tiers.pipeline`,
            });
        }
        const names = new Map<string, BucketKey>();
        for (const key of Object.keys(bucketDefaults) as BucketKey[]) {
            const other = names.get(cfg.buckets[key]);
            if (other) {
                ctx.addIssue({
                    code: "custom",
                    path: ["buckets", key],
                    input: cfg.buckets[key],
                    message: `bucket name clash: buckets.${other} has the same name; each bucket holds one kind of data`,
                });
            } else names.set(cfg.buckets[key], key);
        }
    });

type Ctx = z.core.$RefinementCtx<{ platform: string; profile: keyof typeof profiles; eks?: z.infer<typeof eksConfigSchema> }>;

/** Cross-key checks of the eks key: where it applies, the node counts and whether the nodes hold the profile. */
function eksProblems(cfg: { platform: string; profile: keyof typeof profiles; eks?: z.infer<typeof eksConfigSchema> }, ctx: Ctx): void {
    const eks = cfg.eks!;
    if (cfg.platform !== "kubernetes") {
        ctx.addIssue({ code: "custom", path: ["eks"], input: eks, message: "applies only when platform is kubernetes: the eks cluster runs the Kubernetes platform" });
    }
    if (!eks.region) {
        ctx.addIssue({ code: "custom", path: ["eks", "region"], input: undefined, message: "required: the AWS region to create the cluster in (set eks.region or aws:region), such as eu-west-1" });
    }
    const desired = eks.desiredNodes ?? eks.minNodes;
    if (eks.minNodes > eks.maxNodes) {
        ctx.addIssue({ code: "custom", path: ["eks", "minNodes"], input: eks.minNodes, message: `expected at most eks.maxNodes (${eks.maxNodes})` });
    } else if (desired < eks.minNodes || desired > eks.maxNodes) {
        ctx.addIssue({
            code: "custom",
            path: ["eks", eks.desiredNodes === undefined ? "minNodes" : "desiredNodes"],
            input: eks.desiredNodes ?? eks.minNodes,
            message: `expected desired nodes from eks.minNodes (${eks.minNodes}) to eks.maxNodes (${eks.maxNodes})`,
        });
    } else {
        // Desired, not max: a managed node group runs its desired count and nothing here scales it
        // up, so the containers must fit what actually runs.
        const budget = profiles[cfg.profile].budgetMiB;
        const type = eks.instanceType as InstanceType;
        const holds = desired * allocatableMiB(type);
        if (holds < budget) {
            const needed = Math.ceil(budget / allocatableMiB(type));
            // The same family first: a change of size keeps the CPU-to-memory ratio the user picked.
            const family = (t: string) => t.split(".")[0];
            const bigger = instanceTypeNames
                .filter((t) => desired * allocatableMiB(t) >= budget && instanceTypes[t].memoryMiB > instanceTypes[type].memoryMiB)
                .sort((a, b) => Number(family(a) !== family(type)) - Number(family(b) !== family(type)) || instanceTypes[a].memoryMiB - instanceTypes[b].memoryMiB);
            ctx.addIssue({
                code: "custom",
                path: ["eks", "instanceType"],
                input: eks.instanceType,
                message:
                    `${desired} × ${type} (${instanceTypes[type].memoryMiB} MiB, less a ${systemReserveMiB(type)} MiB system reserve each) hold ${holds} MiB of containers; ` +
                    `the ${cfg.profile} profile needs ${budget} MiB: use ${needed} or more nodes (eks.desiredNodes), or an instance type such as ${bigger.slice(0, 4).join(", ")}`,
            });
        }
    }
}

export type RawStackConfig = z.infer<typeof stackConfigSchema>;
