import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { BucketKey, StackConfig } from "../config";
import { Platform } from "../platform/types";
import { MinioBucket, MinioPolicy, MinioPolicyAttachment, MinioUser } from "./minio-admin";
import { ObjectStoreOutputs, policyDocument, resolvedGrants, StoreAccess, StoreConsumer, storeConsumers } from "./types";

const API_PORT = 9000;
const CONSOLE_PORT = 9001;

/** MinIO in a container, its buckets private, one least-privilege user per consuming service. */
export class MinioStore extends pulumi.ComponentResource implements ObjectStoreOutputs {
    readonly kind = "minio" as const;
    readonly region = "us-east-1";
    readonly pathStyle = true;
    readonly endpoint: pulumi.Output<string>;
    readonly hostEndpoint: pulumi.Output<string>;
    readonly consoleUrl: pulumi.Output<string>;
    readonly buckets: Record<BucketKey, pulumi.Output<string>>;
    readonly credentials: Record<StoreConsumer, StoreAccess>;
    readonly ready: pulumi.Resource[];
    readonly services: ObjectStoreOutputs["services"];
    readonly adminLogin: { user: pulumi.Output<string>; password: pulumi.Output<string> };

    constructor(name: string, cfg: StackConfig, platform: Platform, opts?: pulumi.ComponentResourceOptions) {
        super("dataplatform:objectstore:Minio", name, {}, opts);
        const child = { parent: this };

        const rootUser = new random.RandomString("root-user", { length: 16, special: false, upper: false }, child);
        const rootPassword = new random.RandomPassword("root-password", { length: 40, special: false }, child);
        this.adminLogin = { user: pulumi.secret(pulumi.interpolate`root-${rootUser.result}`), password: pulumi.secret(rootPassword.result) };
        const { user, password } = this.adminLogin;

        const server = platform.deploy(
            {
                name: "minio",
                tier: "objectStore",
                image: cfg.images.minio,
                command: ["server", "/data", "--address", `:${API_PORT}`, "--console-address", `:${CONSOLE_PORT}`],
                secretEnv: { MINIO_ROOT_USER: user, MINIO_ROOT_PASSWORD: password },
                ports: [
                    { name: "api", containerPort: API_PORT, hostPort: cfg.ports.minioApi },
                    { name: "console", containerPort: CONSOLE_PORT, hostPort: cfg.ports.minioConsole },
                ],
                // Every bucket: the archive, the Iceberg warehouse, Druid's deep storage, checkpoints.
                volumes: [{ name: "data", mountPath: "/data", sizeGiB: 50 }],
                // `mc` ships in the image with a `local` alias; `ready` checks the server accepts writes.
                health: { command: ["mc", "ready", "local"], http: { port: API_PORT, path: "/minio/health/ready" }, startPeriodSeconds: 10 },
                memoryMiB: cfg.sizing.tierMiB.objectStore,
            },
            this,
        );
        this.services = [server];
        this.endpoint = pulumi.output(`http://${server.internal.api}`);
        this.hostEndpoint = pulumi.output(`http://${server.published.api}`);
        this.consoleUrl = pulumi.output(`http://${server.published.console}`);

        // Provisioning reaches the API port itself (a tunnel per operation on Kubernetes), signed in
        // as root; it can only start once the server is healthy.
        const admin = { reach: server.reach.api, adminUser: user, adminPassword: password };
        const managed = { parent: this, dependsOn: [server.ready] };

        const buckets = Object.fromEntries(
            (Object.keys(cfg.buckets) as BucketKey[]).map((key) => [
                key,
                new MinioBucket(`bucket-${key}`, { ...admin, bucket: cfg.buckets[key] }, managed),
            ]),
        ) as Record<BucketKey, MinioBucket>;
        this.buckets = Object.fromEntries(Object.entries(buckets).map(([k, b]) => [k, b.bucket])) as Record<BucketKey, pulumi.Output<string>>;

        const ready: pulumi.Resource[] = [];
        this.credentials = Object.fromEntries(
            storeConsumers.map((consumer) => {
                const secret = new random.RandomPassword(`${consumer}-secret`, { length: 40, special: false }, child);
                const user = new MinioUser(`${consumer}-user`, { ...admin, name: `svc-${consumer}`, secretKey: pulumi.secret(secret.result) }, managed);
                const policy = new MinioPolicy(
                    `${consumer}-policy`,
                    { ...admin, name: `svc-${consumer}-access`, policy: resolvedGrants(consumer, this.buckets).apply(policyDocument) },
                    managed,
                );
                ready.push(new MinioPolicyAttachment(`${consumer}-attach`, { ...admin, user: user.name, policy: policy.name }, managed));
                return [consumer, { kind: "keys", accessKeyId: user.name, secretAccessKey: pulumi.secret(secret.result) }];
            }),
        ) as Record<StoreConsumer, StoreAccess>;
        this.ready = [...Object.values(buckets), ...ready];

        this.registerOutputs({ endpoint: this.endpoint, consoleUrl: this.consoleUrl, buckets: this.buckets });
    }
}
