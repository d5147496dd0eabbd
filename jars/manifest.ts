/**
 * The jars baked into the images the program builds, on top of their upstream images: one list,
 * used by the Docker images (through `npm run jars`, which fills jars/<image>/ and checks every
 * SHA-256) and by the Flink the integration tests run, so both execute SQL with the same jars.
 * Every entry is a plain Maven Central artifact, copied without its dependencies (each one is
 * already a shaded bundle). A version bump in components/versions.ts needs a new sha256 here;
 * `npm run jars` names the jar and both digests when they differ.
 *
 * Proven minimal by the Flink integration suite: without hadoop-client-runtime, CREATE CATALOG
 * for Iceberg fails (NoClassDefFoundError org/apache/hadoop/shaded/com/ctc/wstx/io/InputBootstrapper);
 * without hadoop-client-api, Iceberg's FlinkCatalogFactory cannot build its Hadoop Configuration.
 */
import { versions } from "../components/versions";

export interface MavenJar {
    group: string;
    artifact: string;
    version: string;
    /** SHA-256 of the jar as Maven Central serves it. */
    sha256: string;
}

export const flinkLibJars: readonly MavenJar[] = [
    // Kafka source/sink tables ('connector' = 'kafka' / 'upsert-kafka'), Kafka client shaded inside.
    {
        group: "org.apache.flink",
        artifact: "flink-sql-connector-kafka",
        version: versions.flinkKafkaConnector,
        sha256: "c7127a6518fba5d6b75eb4692229192e7147ea378e69c7b7cf16d0494057b0c3",
    },
    // Iceberg catalogs and tables ('type' = 'iceberg'), incl. the REST catalog client.
    {
        group: "org.apache.iceberg",
        artifact: `iceberg-flink-runtime-${flinkMinor(versions.flink)}`,
        version: versions.iceberg,
        sha256: "5237fc834c6388ff3ff08d7d309b3d318a77aef9f533fa55d5142cfc26628615",
    },
    // S3FileIO and the AWS SDK it needs ('io-impl' = 'org.apache.iceberg.aws.s3.S3FileIO').
    {
        group: "org.apache.iceberg",
        artifact: "iceberg-aws-bundle",
        version: versions.iceberg,
        sha256: "86bf20892ea5b4c17688f19b075399885f6aa5303f6b2dc9f491e76ceef9633b",
    },
    // Iceberg's Flink runtime builds a Hadoop Configuration even when no HDFS is involved.
    {
        group: "org.apache.hadoop",
        artifact: "hadoop-client-api",
        version: versions.hadoop,
        sha256: "a964d4daa054c9615bbafb4553efbb140fa7fb9ac6f358a24393f183a5703438",
    },
    {
        group: "org.apache.hadoop",
        artifact: "hadoop-client-runtime",
        version: versions.hadoop,
        sha256: "f6a800a159f918670db533606d33560d6c13b7e13f14eda493280ae33b9eeb2f",
    },
];

/** The Iceberg REST catalog keeps its state in PostgreSQL; the upstream fixture has no driver for it. */
export const icebergRestJars: readonly MavenJar[] = [
    {
        group: "org.postgresql",
        artifact: "postgresql",
        version: versions.postgresJdbc,
        sha256: "2a32a9dcbc42d67a50ad3a0de5efd102c8d2be46720045f2cbd6689f160ab7c7",
    },
];

/** Jars by the image (and jars/ sub-folder, the image's build context) they go into. */
export const imageJars = { flink: flinkLibJars, "iceberg-rest": icebergRestJars } as const;
export type JarImage = keyof typeof imageJars;

/** `group:artifact:version`, the form Maven tools take. */
export function coordinate(jar: MavenJar): string {
    return `${jar.group}:${jar.artifact}:${jar.version}`;
}

/** The file name Maven Central (and a copy into lib/) gives the jar. */
export function fileName(jar: MavenJar): string {
    return `${jar.artifact}-${jar.version}.jar`;
}

/** "2.0.0" -> "2.0": Iceberg publishes one Flink runtime per Flink minor line. */
function flinkMinor(version: string): string {
    return version.split(".").slice(0, 2).join(".");
}
