import * as pulumi from "@pulumi/pulumi";
import { ServiceSpec } from "../platform/types";

/**
 * A tier's metadata database as the tier names it. Exported by each tier, so the test engine
 * creates exactly these databases and users on a real PostgreSQL.
 */
export interface MetadataDatabase {
    /** Service name, also the host name other services use. */
    name: string;
    database: string;
    user: string;
}

export interface PostgresArgs extends MetadataDatabase {
    tier: string;
    image: string;
    password: pulumi.Input<string>;
    memoryMiB: number;
}

/** The port the postgres image listens on; `internal.sql` of a postgresService is `<name>:5432`. */
export const POSTGRES_PORT = 5432;

/**
 * A small PostgreSQL for one tier's metadata (Iceberg catalog, Druid, Superset). Each tier gets its
 * own so a tier can be removed with its state; buffers are sized to the container limit.
 */
export function postgresService(args: PostgresArgs): Omit<ServiceSpec, "dependsOn"> {
    // shared_buffers defaults to 128 MB, which alone would fill a small container.
    const sharedBuffers = Math.max(16, Math.floor(args.memoryMiB / 4));
    return {
        name: args.name,
        tier: args.tier,
        image: args.image,
        command: ["postgres", "-c", `shared_buffers=${sharedBuffers}MB`, "-c", "max_connections=50", "-c", "work_mem=2MB"],
        env: { POSTGRES_DB: args.database, POSTGRES_USER: args.user, PGDATA: "/var/lib/postgresql/data/pgdata" },
        secretEnv: { POSTGRES_PASSWORD: args.password },
        ports: [{ name: "sql", containerPort: POSTGRES_PORT }],
        // Metadata only (catalog, segments, dashboards): megabytes.
        volumes: [{ name: "data", mountPath: "/var/lib/postgresql/data", sizeGiB: 2 }],
        // The image's postgres user. Started as it, the image skips its root start (chown, then gosu),
        // which a Kubernetes pod without capabilities cannot do; and a fresh claim gets its group.
        user: "999:999",
        health: { command: ["pg_isready", "-U", args.user, "-d", args.database], startPeriodSeconds: 10, intervalSeconds: 5 },
        memoryMiB: args.memoryMiB,
    };
}
