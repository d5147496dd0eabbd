/**
 * The jars that go into Flink's lib/ on top of the Flink distribution: one list for the Docker
 * Flink image and for the Flink the integration tests run, so both execute SQL with the same
 * connectors. Every entry is a plain Maven Central artifact (copied without its dependencies:
 * each one is already a shaded bundle).
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
}

export const flinkLibJars: readonly MavenJar[] = [
    // Kafka source/sink tables ('connector' = 'kafka' / 'upsert-kafka'), Kafka client shaded inside.
    { group: "org.apache.flink", artifact: "flink-sql-connector-kafka", version: versions.flinkKafkaConnector },
    // Iceberg catalogs and tables ('type' = 'iceberg'), incl. the REST catalog client.
    { group: "org.apache.iceberg", artifact: `iceberg-flink-runtime-${flinkMinor(versions.flink)}`, version: versions.iceberg },
    // S3FileIO and the AWS SDK it needs ('io-impl' = 'org.apache.iceberg.aws.s3.S3FileIO').
    { group: "org.apache.iceberg", artifact: "iceberg-aws-bundle", version: versions.iceberg },
    // Iceberg's Flink runtime builds a Hadoop Configuration even when no HDFS is involved.
    { group: "org.apache.hadoop", artifact: "hadoop-client-api", version: versions.hadoop },
    { group: "org.apache.hadoop", artifact: "hadoop-client-runtime", version: versions.hadoop },
];

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
