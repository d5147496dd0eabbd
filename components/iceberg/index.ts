import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { StackConfig } from "../config";
import { ObjectStoreOutputs } from "../objectstore";
import { heapOpts } from "../platform/jvm";
import { DeployedService, Platform } from "../platform/types";
import { jarImage } from "../shared/image";
import { MetadataDatabase, postgresService } from "../shared/postgres";
import { CatalogLocation, icebergCatalogOptions } from "./options";

export { icebergCatalogOptions, withClause } from "./options";

const REST_PORT = 8181;

/** The catalog's tables and namespaces (JdbcCatalog); the data and metadata files are on the object store. */
export const icebergDatabase: MetadataDatabase = { name: "iceberg-db", database: "iceberg", user: "iceberg" };

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
        const creds = store.credentials.iceberg;
        const image = jarImage(
            "iceberg-rest-image",
            { jars: "iceberg-rest", dockerfile: path.join(__dirname, "Dockerfile"), baseArg: "ICEBERG_REST_IMAGE", base: cfg.images.icebergRest, repository: "dataplatform/iceberg-rest" },
            this,
        );
        this.service = platform.deploy(
            {
                name: "iceberg-rest",
                tier: "flink",
                image,
                env: {
                    CATALOG_CATALOG__IMPL: "org.apache.iceberg.jdbc.JdbcCatalog",
                    CATALOG_URI: `jdbc:postgresql://${db.internal.sql}/iceberg`,
                    CATALOG_JDBC_USER: "iceberg",
                    // Schema V1 also stores views; the fixture's default (V0) cannot.
                    CATALOG_JDBC_SCHEMA__VERSION: "V1",
                    CATALOG_WAREHOUSE: pulumi.interpolate`s3://${store.buckets.warehouse}/`,
                    CATALOG_IO__IMPL: "org.apache.iceberg.aws.s3.S3FileIO",
                    CATALOG_S3_PATH__STYLE__ACCESS: String(store.pathStyle),
                    ...(store.kind === "minio" ? { CATALOG_S3_ENDPOINT: store.endpoint } : {}),
                    CATALOG_CLIENT_REGION: store.region,
                    AWS_REGION: store.region,
                    JAVA_TOOL_OPTIONS: heapOpts(args.memoryMiB.rest),
                    REST_PORT: String(REST_PORT),
                },
                secretEnv: {
                    CATALOG_JDBC_PASSWORD: dbPassword,
                    CATALOG_S3_ACCESS__KEY__ID: creds.accessKeyId,
                    CATALOG_S3_SECRET__ACCESS__KEY: creds.secretAccessKey,
                },
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
        this.warehouse = pulumi.interpolate`s3://${store.buckets.warehouse}/`;
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
