/**
 * Every engine the harness can start, and which engines each integration suite needs.
 * Adding an engine: import its module and list it in `engines` (order does not matter:
 * dependsOn decides). Adding a suite: map its file to the engines it talks to; the `test`
 * command runs a suite only when all of them were started, and refuses unmapped suite files.
 */
import type { Engine } from "./types";
import { connect } from "./connect";
import { druid } from "./druid";
import { flink } from "./flink";
import { iceberg } from "./iceberg";
import { kafka } from "./kafka";
import { etcd, kubernetes, kwok } from "./kubernetes";
import { minio } from "./minio";
import { postgres } from "./postgres";
import { pulumi } from "./pulumi";
import { redis } from "./redis";
import { s3 } from "./s3";
import { superset } from "./superset";

export const engines: Engine[] = [
    kafka,
    connect,
    s3,
    postgres,
    redis,
    iceberg,
    flink,
    druid,
    superset,
    pulumi,
    etcd,
    kubernetes,
    kwok,
    minio,
];

export const suites: Record<string, string[]> = {
    "tests/integration/kafka.test.ts": ["kafka"],
    // Starts its own 6-node cluster from the kafka engine's jars, for this suite only.
    "tests/integration/kafka-quorum.test.ts": ["kafka"],
    "tests/integration/topics.test.ts": ["kafka"],
    "tests/integration/connect.test.ts": ["connect", "kafka"],
    "tests/integration/s3.test.ts": ["s3"],
    "tests/integration/least-privilege.test.ts": ["s3"],
    "tests/integration/workload-identity.test.ts": ["s3", "postgres", "iceberg", "flink"],
    "tests/integration/iceberg.test.ts": ["iceberg", "s3"],
    "tests/integration/flink.test.ts": ["flink", "kafka", "s3", "iceberg"],
    "tests/integration/processor-watch.test.ts": ["flink"],
    // Druid's metadata is on postgres (a dependency of druid); this suite also reads its address.
    "tests/integration/druid.test.ts": ["druid", "kafka", "postgres"],
    "tests/integration/druid-supervisor.test.ts": ["druid", "kafka"],
    "tests/integration/pipeline.test.ts": ["kafka", "flink", "s3", "iceberg"],
    // Also reads the cache Redis the rendered config points Superset at.
    "tests/integration/superset.test.ts": ["superset", "druid", "redis"],
    // Superset tests a connection on create and reads a dataset's columns from Druid: both live.
    // Reads the cached entries in Redis and the metadata rows in PostgreSQL too.
    "tests/integration/superset-dashboards.test.ts": ["superset", "druid", "redis", "postgres"],
    // The MinIO provisioning providers against the real server the platform deploys.
    "tests/integration/minio-admin.test.ts": ["minio"],
    // The real Pulumi CLI driving the provisioning resources against the engines they provision.
    "tests/pulumi/lifecycle.test.ts": ["pulumi", "kafka", "druid", "superset"],
    // The stack's rendered Kubernetes objects, server-side applied to a real control plane with kwok nodes.
    "tests/k8s/apply.test.ts": ["kwok", "kubernetes"],
    // Provisioning tunnels: the topic provider through kubectl port-forward to a kwok pod that forwards to the real Kafka.
    "tests/k8s/tunnel.test.ts": ["kwok", "kubernetes", "kafka"],
    // The MinIO providers through the same tunnel, to a kwok pod that forwards to the real MinIO.
    "tests/k8s/minio-tunnel.test.ts": ["kwok", "kubernetes", "minio"],
    // kubectl port-forward through the API server to a kwok pod, whose PortForward object sends the port to the test.
    "tests/k8s/port-forward.test.ts": ["kwok", "kubernetes"],
};
