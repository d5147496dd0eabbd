import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { StackConfig } from "../config";
import { keysOf, ObjectStoreOutputs, runsAs } from "../objectstore";
import { heapOpts } from "../platform/jvm";
import { DeployedService, Platform } from "../platform/types";
import { jarImage } from "../shared/image";
import { MetadataDatabase, postgresService } from "../shared/postgres";
import { CatalogLocation, icebergCatalogOptions } from "./options";

export { icebergCatalogOptions, withClause } from "./options";

const REST_PORT = 8181;

/** The catalog's tables and namespaces (JdbcCatalog); the data and metadata files are on the object store. */
export const icebergDatabase: MetadataDatabase = { name: "iceberg-db", database: "iceberg", user: "iceberg" };

/** What the catalog server is told; values are pulumi Inputs in the tier, plain strings in the test engine. */
export interface IcebergRestSettings<V> {
    /** `host:port` of the catalog's PostgreSQL. */
    dbAddress: string;
    dbPassword: V;
    /** `s3://<bucket>/`. */
    warehouse: V;
    /** MinIO's endpoint; absent on AWS. */
    s3Endpoint?: V;
    pathStyle: boolean;
    region: string;
    /** The catalog's own keys; absent with a workload identity. */
    credentials?: { accessKeyId: V; secretAccessKey: V };
    memoryMiB: number;
}

/**
 * The catalog server's environment. The fixture turns every `CATALOG_*` variable into a catalog
 * property (prefix dropped, `__` -> `-`, `_` -> `.`, lower case). Exported so the test engine
 * runs the catalog with exactly this environment.
 */
export function icebergRestEnv<V>(s: IcebergRestSettings<V>): { env: Record<string, V | string>; secretEnv: Record<string, V> } {
    return {
        env: {
            CATALOG_CATALOG__IMPL: "org.apache.iceberg.jdbc.JdbcCatalog",
            CATALOG_URI: `jdbc:postgresql://${s.dbAddress}/${icebergDatabase.database}`,
            CATALOG_JDBC_USER: icebergDatabase.user,
            // Schema V1 also stores views; the fixture's default (V0) cannot.
            CATALOG_JDBC_SCHEMA__VERSION: "V1",
            CATALOG_WAREHOUSE: s.warehouse,
            CATALOG_IO__IMPL: "org.apache.iceberg.aws.s3.S3FileIO",
            CATALOG_S3_PATH__STYLE__ACCESS: String(s.pathStyle),
            ...(s.s3Endpoint !== undefined ? { CATALOG_S3_ENDPOINT: s.s3Endpoint } : {}),
            CATALOG_CLIENT_REGION: s.region,
            AWS_REGION: s.region,
            JAVA_TOOL_OPTIONS: heapOpts(s.memoryMiB),
            // The server's port is the catalog property rest.port; the image's REST_PORT only feeds its own healthcheck.
            CATALOG_REST_PORT: String(REST_PORT),
        },
        secretEnv: {
            CATALOG_JDBC_PASSWORD: s.dbPassword,
            // Without keys S3FileIO takes the SDK v2 (2.33.0) default chain, which reads EKS Pod Identity's.
            ...(s.credentials ? { CATALOG_S3_ACCESS__KEY__ID: s.credentials.accessKeyId, CATALOG_S3_SECRET__ACCESS__KEY: s.credentials.secretAccessKey } : {}),
        },
    };
}

export interface IcebergCatalogArgs {
    store: ObjectStoreOutputs;
    /** Memory limits (MiB) for the catalog server and its database, from the Flink tier's share. */
    memoryMiB: { rest: number; db: number };
}

/**
 * The Iceberg REST catalog, its state in PostgreSQL on a volume (durable across re-creation), its
 * warehouse on the object store, reached with the catalog's own least-privilege identity.
 */
export class IcebergCatalog extends pulumi.ComponentResource {
    readonly service: DeployedService;
    readonly services: DeployedService[];
    /** URI for containers on the platform network. */
    readonly uri: string;
    readonly hostUri: string;
    readonly warehouse: pulumi.Output<string>;
    /** The `CREATE CATALOG` options for Flink SQL inside the platform. */
    readonly flinkCatalogOptions: pulumi.Output<Record<string, string>>;

    constructor(name: string, cfg: StackConfig, platform: Platform, args: IcebergCatalogArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dataplatform:iceberg:Catalog", name, {}, opts);
        const { store } = args;
        const dbPassword = pulumi.secret(new random.RandomPassword("db-password", { length: 32, special: false }, { parent: this }).result);
        const db = platform.deploy(
            postgresService({ ...icebergDatabase, tier: "flink", image: cfg.images.postgres, password: dbPassword, memoryMiB: args.memoryMiB.db }),
            this,
        );
        const warehouse = pulumi.interpolate`s3://${store.buckets.warehouse}/`;
        const image = jarImage(
            "iceberg-rest-image",
            { jars: "iceberg-rest", dockerfile: path.join(__dirname, "Dockerfile"), baseArg: "ICEBERG_REST_IMAGE", base: cfg.images.icebergRest, repository: "dataplatform/iceberg-rest" },
            this,
            platform.registry,
        );
        this.service = platform.deploy(
            {
                name: "iceberg-rest",
                tier: "flink",
                image,
                ...icebergRestEnv({
                    dbAddress: db.internal.sql,
                    dbPassword,
                    warehouse,
                    s3Endpoint: store.kind === "minio" ? store.endpoint : undefined,
                    pathStyle: store.pathStyle,
                    region: store.region,
                    credentials: keysOf(store.credentials.iceberg),
                    memoryMiB: args.memoryMiB.rest,
                }),
                ...runsAs(store.credentials.iceberg),
                ports: [{ name: "http", containerPort: REST_PORT, hostPort: cfg.ports.icebergRest }],
                health: { command: ["curl", "-fsS", "-o", "/dev/null", `http://localhost:${REST_PORT}/v1/config`], http: { port: REST_PORT, path: "/v1/config" } },
                memoryMiB: args.memoryMiB.rest,
                dependsOn: [db],
                requires: store.ready,
            },
            this,
        );
        this.services = [db, this.service];
        this.uri = `http://${this.service.internal.http}`;
        this.hostUri = `http://${this.service.published.http}`;
        this.warehouse = warehouse;
        this.flinkCatalogOptions = pulumi
            .all([store.buckets.warehouse, store.endpoint])
            .apply(([bucket, endpoint]) =>
                icebergCatalogOptions({
                    uri: this.uri,
                    warehouseBucket: bucket,
                    s3Endpoint: store.kind === "minio" ? endpoint : undefined,
                    pathStyle: store.pathStyle,
                    region: store.region,
                } satisfies CatalogLocation),
            );
        this.registerOutputs({ uri: this.uri, warehouse: this.warehouse });
    }
}
