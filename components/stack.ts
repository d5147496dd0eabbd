import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, StackConfig, TierName } from "./config";
import { jarProblems } from "../jars/verify";
import { EksCluster } from "./cloud/eks";
import { EcrRegistry } from "./cloud/eks/registry";
import { DruidTier, druidMemoryPlan } from "./druid";
import { FlinkTier, flinkMemoryPlan } from "./flink";
import { KafkaTier, kafkaMemoryPlan } from "./kafka";
import { Pipeline, pipelineMemoryPlan } from "./pipeline";
import { createObjectStore, StoreConsumer } from "./objectstore";
import { DockerPlatform } from "./platform/docker";
import { KubernetesPlatform } from "./platform/kubernetes";
import { DeployedService, Platform } from "./platform/types";
import { SupersetTier, supersetMemoryPlan } from "./superset";

export interface Stack {
    platform: Platform;
    /** Every container the stack runs, for the memory budget and the README table. */
    services: DeployedService[];
    outputs: Record<string, pulumi.Input<unknown>>;
}

/** The containers each enabled tier will run, with their memory limits (MiB). */
export function memoryPlan(cfg: StackConfig): Partial<Record<TierName, Record<string, number>>> {
    return {
        ...(cfg.objectStore === "minio" ? { objectStore: { minio: cfg.sizing.tierMiB.objectStore } } : {}),
        ...(cfg.tiers.kafka ? { kafka: kafkaMemoryPlan(cfg) } : {}),
        ...(cfg.tiers.flink ? { flink: flinkMemoryPlan(cfg) } : {}),
        ...(cfg.tiers.druid ? { druid: druidMemoryPlan(cfg) } : {}),
        ...(cfg.tiers.superset ? { superset: supersetMemoryPlan(cfg) } : {}),
        ...(cfg.tiers.pipeline ? { pipeline: pipelineMemoryPlan(cfg) } : {}),
    };
}

/** Images the program builds need their jars fetched and checked first (`npm run jars`). */
export function checkJars(cfg: StackConfig, jarsRoot?: string): void {
    const problems = cfg.tiers.flink ? [...jarProblems("flink", jarsRoot), ...jarProblems("iceberg-rest", jarsRoot)] : [];
    if (problems.length > 0) {
        throw new Error(`The images this stack builds need jars that are missing or changed:\n${problems.map((p) => `  - ${p}`).join("\n")}\nRun \`npm run jars\` to fetch and check them.`);
    }
}

/** Fails before any resource exists when a tier's containers would not fit the profile's share. */
export function checkMemoryPlan(cfg: StackConfig): void {
    const problems = Object.entries(memoryPlan(cfg)).flatMap(([tier, services]) => {
        const total = Object.values(services).reduce((a, b) => a + b, 0);
        const share = cfg.sizing.tierMiB[tier as TierName];
        if (total <= share) return [];
        const settings =
            tier === "kafka"
                ? { brokers: cfg.kafka.brokers, controllers: cfg.kafka.controllers, ui: cfg.kafka.ui }
                : tier === "flink"
                  ? { taskManagers: cfg.flink.taskManagers }
                  : {};
        return [
            {
                key: `${cfg.project}:${tier}`,
                value: JSON.stringify(settings),
                message:
                    `the ${tier} tier needs ${total} MiB (${Object.entries(services).map(([s, m]) => `${s} ${m}`).join(", ")}), ` +
                    `more than the ${cfg.profile} profile's share of ${share} MiB; use fewer or smaller services, or a larger profile`,
            },
        ];
    });
    if (problems.length > 0) throw new ConfigError(problems);
}

/** The cluster and registry the stack creates on AWS (kubernetes.cluster eks). */
export interface EksCloud {
    cluster: EksCluster;
    registry: EcrRegistry;
}

/** The EKS cluster and its ECR registry, before any tier: the platform runs on them. */
export function createEksCloud(cfg: StackConfig): EksCloud {
    const cluster = new EksCluster("eks", { cfg, memoryPlan: memoryPlan(cfg) });
    const registry = new EcrRegistry("ecr", { prefix: `${cfg.project}-${cfg.stack}`, provider: cluster.awsProvider, parent: cluster });
    return { cluster, registry };
}

/** The one place that knows which platform runs the tiers. */
export function createPlatform(cfg: StackConfig, cloud?: EksCloud): DockerPlatform | KubernetesPlatform {
    const k = cfg.kubernetes;
    if (cfg.platform !== "kubernetes" || !k) return new DockerPlatform("platform", { prefix: `${cfg.project}-${cfg.stack}`, bindAddress: cfg.bindAddress });
    if (cloud) {
        // Everything of the platform on the cluster the stack made: its provider, storage class,
        // registry, kubeconfig (for the provisioning tunnels) and pod identities.
        const { cluster, registry } = cloud;
        return new KubernetesPlatform("platform", {
            namespace: k.namespace,
            storageClass: cluster.storageClassName,
            provider: cluster.provider,
            kubeconfigData: cluster.kubeconfig,
            registry,
            ingress: k.ingress,
            bindIdentity: (account, parent) => cluster.bindIdentity(account, parent),
        });
    }
    // Every Kubernetes object goes through this provider, so the stack never follows whatever context happens to be current.
    const provider = new k8s.Provider("kubernetes", { context: k.context, kubeconfig: k.kubeconfig });
    return new KubernetesPlatform("platform", {
        namespace: k.namespace,
        storageClass: k.storageClass,
        provider,
        context: k.context,
        kubeconfig: k.kubeconfig,
        registry: k.registry ? { address: k.registry, auth: k.registryAuth ? { username: k.registryAuth.username, password: pulumi.secret(k.registryAuth.password) } : undefined } : undefined,
        ingress: k.ingress,
    });
}

/**
 * Builds the whole platform from a validated config. A function, not module-level code, so
 * tests can build the stack under several configurations in one process.
 */
export function buildStack(cfg: StackConfig): Stack {
    checkMemoryPlan(cfg);
    checkJars(cfg);
    const cloud = cfg.eks ? createEksCloud(cfg) : undefined;
    const platform = createPlatform(cfg, cloud);
    const store = createObjectStore(cfg, platform);
    const kafka = cfg.tiers.kafka ? new KafkaTier("kafka", cfg, platform) : undefined;
    const flink = cfg.tiers.flink ? new FlinkTier("flink", cfg, platform, { store }) : undefined;
    // The schema refuses druid without kafka, so `kafka` is set whenever druid is.
    const druid = cfg.tiers.druid && kafka ? new DruidTier("druid", cfg, platform, { store, kafka }) : undefined;
    // The last layer; the schema refuses it without the kafka and flink tiers.
    const pipeline = cfg.tiers.pipeline && kafka && flink ? new Pipeline("pipeline", cfg, platform, { store, kafka, flink }) : undefined;

    // Dashboards need Druid serving SQL, and (to find the datasource) data flowing through the pipeline.
    const superset = cfg.tiers.superset
        ? new SupersetTier(
              "superset",
              cfg,
              platform,
              druid
                  ? {
                        druidUri: druid.brokerSqlAlchemyUri,
                        druidTable: druid.aggregatesDataSource,
                        druidReady: [...druid.services.map((s) => s.ready), druid.supervisor, ...(pipeline?.services.map((s) => s.ready) ?? [])],
                    }
                  : {},
          )
        : undefined;

    const services = [
        ...store.services,
        ...(kafka?.services ?? []),
        ...(flink?.services ?? []),
        ...(druid?.services ?? []),
        ...(superset?.services ?? []),
        ...(pipeline?.services ?? []),
    ];
    return {
        platform,
        services,
        outputs: {
            objectStore: {
                kind: store.kind,
                endpoint: store.hostEndpoint,
                internalEndpoint: store.endpoint,
                consoleUrl: store.consoleUrl,
                region: store.region,
                pathStyle: store.pathStyle,
                buckets: store.buckets,
                identities: Object.values(store.credentials).some((c) => c.kind === "identity")
                    ? Object.fromEntries(Object.entries(store.credentials).flatMap(([who, c]) => (c.kind === "identity" ? [[who, { serviceAccount: c.serviceAccount, roleArn: c.roleArn }]] : [])))
                    : undefined,
            },
            // Keys where consumers have keys; on EKS no key exists, and `objectStore.identities` says who runs as what.
            objectStoreCredentials: Object.values(store.credentials).some((c) => c.kind === "keys")
                ? pulumi.secret(
                      Object.fromEntries(
                          Object.entries(store.credentials).flatMap(([who, c]) => (c.kind === "keys" ? [[who, { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey }]] : [])),
                      ) as Partial<Record<StoreConsumer, unknown>>,
                  )
                : undefined,
            objectStoreConsoleLogin: store.adminLogin ? pulumi.secret(store.adminLogin) : undefined,
            kafka: kafka
                ? {
                      bootstrapServers: kafka.bootstrapHost,
                      bootstrapServersInternal: kafka.bootstrapInternal,
                      schemaRegistryUrl: kafka.schemaRegistryHostUrl,
                      connectUrl: `http://${kafka.services.find((s) => s.name === "kafka-connect")!.published.http}`,
                      ksqldbUrl: `http://${kafka.services.find((s) => s.name === "ksqldb")!.published.http}`,
                      uiUrl: kafka.uiUrl,
                      topics: kafka.topics,
                  }
                : undefined,
            kafkaUiLogin: kafka?.uiLogin ? pulumi.secret(kafka.uiLogin) : undefined,
            flink: flink
                ? {
                      jobManagerUrl: flink.jobManagerHostUrl,
                      sqlGatewayUrl: flink.sqlGatewayHostUrl,
                      sqlGatewayUrlInternal: flink.sqlGatewayUrl,
                      catalogUri: flink.catalog.hostUri,
                      catalogUriInternal: flink.catalog.uri,
                      warehouse: flink.catalog.warehouse,
                      catalogOptions: flink.catalog.flinkCatalogOptions,
                  }
                : undefined,
            druid: druid
                ? {
                      routerUrl: druid.routerUrl,
                      routerUrlInternal: druid.routerUrlInternal,
                      brokerUrlInternal: druid.brokerUrlInternal,
                      brokerSqlAlchemyUri: druid.brokerSqlAlchemyUri,
                      // The overlord API is proxied by the router (management proxy) at routerUrl.
                      overlordUrl: druid.routerUrl,
                      overlordUrlInternal: druid.overlordUrlInternal,
                      dataSource: druid.supervisor.dataSource,
                  }
                : undefined,
            superset: superset ? { url: superset.url, dashboardIds: superset.dashboards ? { dashboard: superset.dashboards.dashboardId, charts: superset.dashboards.chartIds } : undefined } : undefined,
            supersetLogin: superset ? pulumi.secret(superset.login) : undefined,
            pipeline: pipeline ? { services: pipeline.services.map((s) => s.name), archive: pulumi.interpolate`s3://${store.buckets.raw}/aggregates/` } : undefined,
            memoryMiB: Object.fromEntries(services.map((s) => [s.name, s.memoryMiB])),
            eks: cloud
                ? {
                      clusterName: cloud.cluster.clusterName,
                      endpoint: cloud.cluster.endpoint,
                      region: cloud.cluster.region,
                      // No credential in it (`aws eks get-token` runs on each use), but it names the endpoint and CA: kept a secret.
                      kubeconfig: cloud.cluster.kubeconfig,
                      // Makes the cluster kubectl's current context, which the portForward commands use.
                      updateKubeconfig: pulumi.interpolate`aws eks update-kubeconfig --region ${cloud.cluster.region} --name ${cloud.cluster.clusterName}`,
                      ecrRepositories: Object.fromEntries(Object.entries(cloud.registry.repositories).map(([image, repo]) => [image, repo.repositoryUrl])),
                  }
                : undefined,
            kubernetes:
                platform instanceof KubernetesPlatform
                    ? {
                          namespace: cfg.kubernetes!.namespace,
                          context: cfg.kubernetes!.context,
                          // The host URLs above work once these run (each listens on its Docker port).
                          portForward: Object.fromEntries(platform.access.map((a) => [`${a.service}/${a.port}`, a.portForward])),
                          urls: platform.access.some((a) => a.url) ? Object.fromEntries(platform.access.filter((a) => a.url).map((a) => [`${a.service}/${a.port}`, a.url])) : undefined,
                      }
                    : undefined,
        },
    };
}
