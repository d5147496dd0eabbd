/**
 * The provisioning part of the platform as `pulumi up` runs it, pointed at the test engines: the
 * pipeline's Kafka topics, the Druid aggregates supervisor and the Superset viewing dashboard.
 * Each is declared by the tier's own function from the product's own config (`kafka.topics`,
 * `druid.aggregates`, validated by the product's schema), so the specs are the product's specs.
 * Only where the engines are differs: their endpoints and the Superset login come in as stack
 * config under `engines:` (the password as secret config).
 */
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "../../components/config";
import { aggregatesSupervisorArgs } from "../../components/druid";
import { KafkaSupervisor } from "../../components/druid/supervisor";
import { topicArgs } from "../../components/kafka";
import { directBrokers, Topic } from "../../components/kafka/topics";
import { TopicKey } from "../../components/kafka/config";
import { druidSqlalchemyUri, SupersetDashboards } from "../../components/superset/dashboards";
import { viewingDashboardArgs } from "../../components/superset";

export const PROJECT = "dataplatform";

export function provisioning(): Record<string, pulumi.Output<unknown>> {
    const cfg = loadStackConfig();
    const engines = new pulumi.Config("engines");
    const bootstrap = engines.require("kafkaBootstrap");
    // The engines run on this host: each is reached directly, as the Docker platform's services are.
    const direct = (url: string) => ({ address: new URL(url).host });

    const topics = Object.fromEntries(
        (Object.keys(cfg.kafka.topics) as TopicKey[]).map((key) => [key, new Topic(`topic-${key}`, topicArgs(cfg, key, directBrokers(bootstrap)))]),
    ) as Record<TopicKey, Topic>;

    // The tasks run on this host too, so the broker's host listener is also what they reach.
    const supervisor = new KafkaSupervisor("supervisor-aggregates", aggregatesSupervisorArgs(cfg, direct(engines.require("druidRouter")), topics.processed.name, bootstrap), {
        dependsOn: [topics.processed],
    });

    const dashboard = new SupersetDashboards(
        "viewing-dashboard",
        {
            ...viewingDashboardArgs(
                direct(engines.require("supersetUrl")),
                engines.requireSecret("supersetPassword"),
                druidSqlalchemyUri(engines.require("druidBroker")),
                cfg.druid.aggregates.dataSource,
                cfg.superset.dashboard,
            ),
            // Rows arrive while `up` runs; a minute is plenty for the test engines.
            tableWaitSeconds: engines.getNumber("tableWaitSeconds") ?? 120,
        },
        { dependsOn: [supervisor] },
    );

    return {
        topics: pulumi.output(Object.fromEntries(Object.entries(topics).map(([k, t]) => [k, t.name]))),
        dataSource: supervisor.dataSource,
        dashboardId: dashboard.dashboardId,
        chartIds: dashboard.chartIds,
    };
}
