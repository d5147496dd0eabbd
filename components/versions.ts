/**
 * The one version table. Container images for the Docker (and later Kubernetes) platform and
 * the engines that integration tests start as local processes both read from here, so the
 * product is tested against the exact versions it deploys.
 *
 * Flink 2.0 is the line where the Flink SQL gateway, the S3 filesystem plugin, the Kafka SQL
 * connector (4.0.1-2.0) and the Iceberg Flink runtime (1.10.1) are all published together.
 * Druid 33 is the newest line whose server jars are on Maven Central (tests run it from there).
 */
export const versions = {
    kafka: "4.1.1",
    confluent: "8.1.0",
    // The last Control Center that runs without Prometheus/Alertmanager beside it (licensed).
    controlCenter: "7.9.2",
    kafkaUi: "v1.3.0",
    flink: "2.0.0",
    flinkKafkaConnector: "4.0.1-2.0",
    iceberg: "1.10.1",
    /** Hadoop client jars Iceberg's Flink runtime needs (Iceberg 1.10 builds against Hadoop 3.4.1). */
    hadoop: "3.4.1",
    postgresJdbc: "42.7.8",
    druid: "33.0.0",
    zookeeper: "3.9.4",
    superset: "6.1.0",
    postgres: "17.6",
    redis: "7.4.5",
    minio: "RELEASE.2025-09-07T16-13-09Z",
    moto: "5.2.5",
    java: "17",
    node: "22.21.1",
    /** The Pulumi CLI the engine tests drive (built from the Go module proxy); users need this or newer. */
    pulumiCli: "3.274.1",
    /** The control plane the Kubernetes platform is tested against (`npm run test:k8s`, built from the Go module proxy). */
    kubernetes: "1.37.2",
    /** The etcd server kubernetes 1.37.2 pins in its go.mod. */
    etcd: "3.7.0",
    /** Kubernetes WithOut Kubelet: fake nodes for the test control plane. */
    kwok: "0.8.0",
    /**
     * The EKS control plane the eks stack creates: the newest EKS minor (GA 28 Jan 2026, standard
     * support to 27 Mar 2027, per AWS's EKS version calendar). Its managed add-ons and node AMI follow it.
     */
    eks: "1.35",
} as const;

/** Pinned images, by the service family that uses them. Config may override a tag, never the table. */
export const images = {
    minio: `quay.io/minio/minio:${versions.minio}`,
    kafka: `apache/kafka:${versions.kafka}`,
    schemaRegistry: `confluentinc/cp-schema-registry:${versions.confluent}`,
    ksqldb: `confluentinc/cp-ksqldb-server:${versions.confluent}`,
    kafkaConnect: `confluentinc/cp-kafka-connect:${versions.confluent}`,
    kafkaUi: `ghcr.io/kafbat/kafka-ui:${versions.kafkaUi}`,
    controlCenter: `confluentinc/cp-enterprise-control-center:${versions.controlCenter}`,
    flink: `flink:${versions.flink}-java${versions.java}`,
    icebergRest: `apache/iceberg-rest-fixture:${versions.iceberg}`,
    druid: `apache/druid:${versions.druid}`,
    zookeeper: `zookeeper:${versions.zookeeper}`,
    superset: `apache/superset:${versions.superset}`,
    postgres: `postgres:${versions.postgres}`,
    redis: `redis:${versions.redis}`,
    node: `node:${versions.node}-bookworm-slim`,
} as const;

export type ImageKey = keyof typeof images;
