/**
 * Druid as a small cluster of plain JVMs on 127.0.0.1, from Maven Central jars (no package
 * bundles a Druid server; 33.0.0 is the newest line published there): a ZooKeeper
 * (`versions.zookeeper`, its own classpath), then coordinator-as-overlord (it also serves the
 * embedded Derby metadata store), broker, historical, indexer (tasks run in its JVM, no peon
 * forks) and router, all on one classpath with the Kafka indexing extension. Extensions on the
 * classpath load because the load list is empty and druid.extensions.searchCurrentClassloader
 * defaults to true.
 *
 * Deep storage is a local folder: druid-s3-extensions is published on Maven Central only up to
 * 29.0.0, so S3 deep storage cannot be exercised with 33.0.0 here (the Docker image has it).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DruidRole, druidRoleProperties, druidRoles } from "../../components/druid";
import type { Engine, EngineContext } from "./types";
import { freePort, hashKey, javaBin, mavenRepo, mvnCopy, run, spawnDetached, waitForHttp, waitForTcp } from "./lib";

/**
 * ZooKeeper's pom marks these optional, yet its server loads them: metrics-core and snappy at
 * startup, an SLF4J binding to see its log. Versions as ZooKeeper 3.9 builds with.
 */
const ZOOKEEPER_RUNTIME_EXTRAS = [
    "io.dropwizard.metrics:metrics-core:4.1.12.1",
    "org.xerial.snappy:snappy-java:1.1.10.5",
    "org.slf4j:slf4j-simple:2.0.13",
];

/** The flags Druid's own launch scripts add on Java 17 (its memory and reflection tricks need them). */
const JAVA17_FLAGS = [
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
];

function druidLib(ctx: EngineContext): string {
    return path.join(ctx.cacheDir, `druid-${ctx.versions.druid}`, "lib");
}

function zookeeperLib(ctx: EngineContext): string {
    return path.join(ctx.cacheDir, `zookeeper-${ctx.versions.zookeeper}`, "lib");
}

/**
 * The Druid classpath as its distribution resolves it: Druid's parent pom imported as a BOM
 * (without it Maven's nearest-wins picks e.g. a Guice beta), and sigar excluded: it lives only
 * in a third-party repository and serves optional host metrics.
 */
function druidPom(version: string): string {
    const noSigar = "<exclusions><exclusion><groupId>org.hyperic</groupId><artifactId>sigar</artifactId></exclusion></exclusions>";
    const dependency = (group: string, artifact: string) =>
        `<dependency><groupId>${group}</groupId><artifactId>${artifact}</artifactId><version>${version}</version>${noSigar}</dependency>`;
    return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.engines</groupId><artifactId>druid</artifactId><version>0</version><packaging>pom</packaging>
  <dependencyManagement><dependencies>
    <dependency><groupId>org.apache.druid</groupId><artifactId>druid</artifactId><version>${version}</version><type>pom</type><scope>import</scope></dependency>
  </dependencies></dependencyManagement>
  <dependencies>
    ${dependency("org.apache.druid", "druid-services")}
    ${dependency("org.apache.druid.extensions", "druid-kafka-indexing-service")}
  </dependencies>
</project>
`;
}

async function installDruidLib(version: string, dest: string): Promise<void> {
    const pom = druidPom(version);
    const marker = path.join(dest, `.installed-${hashKey([pom])}`);
    if (fs.existsSync(marker)) return;
    fs.rmSync(dest, { recursive: true, force: true }); // never mix jars of two resolutions
    const pomDir = fs.mkdtempSync(path.join(os.tmpdir(), "druid-pom-"));
    try {
        fs.writeFileSync(path.join(pomDir, "pom.xml"), pom);
        await run("mvn", [
            "-q", "-B", `-Dmaven.repo.local=${mavenRepo()}`, "-f", path.join(pomDir, "pom.xml"),
            "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
            `-DoutputDirectory=${dest}`, "-DincludeScope=runtime",
        ]);
    } finally {
        fs.rmSync(pomDir, { recursive: true, force: true });
    }
    fs.writeFileSync(marker, pom);
}

/**
 * Heaps of the test JVMs: larger than the laptop containers' (C1-only JIT and 128 MiB heaps there),
 * so a busy CI machine's GC pauses do not turn into test timeouts.
 */
const HEAPS: Record<DruidRole, string> = { coordinator: "384m", broker: "384m", historical: "256m", indexer: "512m", router: "128m" };

/** One Druid service: its port, heap, and the properties only it needs. */
interface Role {
    name: DruidRole;
    heap: string;
    properties: Record<string, string>;
}

/**
 * The one substitution the tier's role properties need to run as processes on this host: folders
 * of the container (the historical's segment cache, the indexer's task dirs, which the image keeps
 * under /opt/druid/var) become folders of the work dir. Nothing else is changed.
 */
function localPaths(props: Record<string, string>, dir: (name: string) => string): Record<string, string> {
    const out = { ...props };
    const cache = out["druid.segmentCache.locations"];
    if (cache) out["druid.segmentCache.locations"] = JSON.stringify((JSON.parse(cache) as { path: string }[]).map((l) => ({ ...l, path: dir("segment-cache") })));
    if (out["druid.service"] === "druid/indexer") out["druid.indexer.task.baseTaskDir"] = dir("tasks");
    return out;
}

export const druid: Engine = {
    name: "druid",
    dependsOn: [],

    async install(ctx) {
        await Promise.all([
            mvnCopy([`org.apache.zookeeper:zookeeper:${ctx.versions.zookeeper}`, ...ZOOKEEPER_RUNTIME_EXTRAS], zookeeperLib(ctx)),
            installDruidLib(ctx.versions.druid, druidLib(ctx)),
        ]);
    },

    async start(ctx) {
        const started = Date.now();
        const dir = (name: string) => {
            const d = path.join(ctx.workDir, name);
            fs.mkdirSync(d, { recursive: true });
            return d;
        };
        const conf = dir("conf");
        const tmp = dir("tmp");

        // ZooKeeper first: every Druid service announces itself there.
        const zkPort = await freePort();
        const zkConfig = path.join(conf, "zoo.cfg");
        fs.writeFileSync(zkConfig, [
            `dataDir=${dir("zookeeper")}`, `clientPort=${zkPort}`, "clientPortAddress=127.0.0.1",
            "admin.enableServer=false", // its admin HTTP server would take port 8080
            "tickTime=2000", "",
        ].join("\n"));
        const zkLog = path.join(ctx.workDir, "zookeeper.log");
        const zkPid = spawnDetached(javaBin(), [
            "-Xmx128m", `-Djava.io.tmpdir=${tmp}`, "-cp", path.join(zookeeperLib(ctx), "*"),
            "org.apache.zookeeper.server.ZooKeeperServerMain", zkConfig,
        ], { logFile: zkLog });
        await waitForTcp("127.0.0.1", zkPort, { pid: zkPid, logFile: zkLog, timeoutMs: 60_000 });

        const derbyPort = await freePort();
        fs.writeFileSync(path.join(conf, "common.runtime.properties"), Object.entries({
            "druid.extensions.loadList": "[]",
            "druid.host": "127.0.0.1",
            "druid.zk.service.host": `127.0.0.1:${zkPort}`,
            "druid.zk.paths.base": "/druid",
            // Derby runs inside the coordinator; the others reach it over its network port.
            "druid.metadata.storage.type": "derby",
            "druid.metadata.storage.connector.connectURI": `jdbc:derby://127.0.0.1:${derbyPort}/${dir("metadata")}/druid;create=true`,
            "druid.metadata.storage.connector.host": "127.0.0.1",
            "druid.metadata.storage.connector.port": String(derbyPort),
            "druid.storage.type": "local",
            "druid.storage.storageDirectory": dir("deep-storage"),
            "druid.indexer.logs.type": "file",
            "druid.indexer.logs.directory": dir("task-logs"),
            "druid.emitter": "noop",
            "druid.startup.logging.logProperties": "false",
            "druid.lookup.enableLookupSyncOnStartup": "false",
            "druid.processing.tmpDir": dir("processing-tmp"),
            "druid.server.http.numThreads": "16",
        }).map(([k, v]) => `${k}=${v}`).join("\n") + "\n");
        fs.writeFileSync(path.join(conf, "log4j2.xml"), `<?xml version="1.0" encoding="UTF-8" ?>
<Configuration status="WARN">
  <Appenders><Console name="Console" target="SYSTEM_OUT"><PatternLayout pattern="%d{ISO8601} %p [%t] %c - %m%n"/></Console></Appenders>
  <Loggers><Root level="info"><AppenderRef ref="Console"/></Root></Loggers>
</Configuration>
`);

        // The tier's own role settings (laptop profile), the container's paths swapped for work-dir folders.
        const roles: Role[] = druidRoles.map((name) => ({ name, heap: HEAPS[name], properties: localPaths(druidRoleProperties(name, "laptop"), dir) }));
        const classpath = `${conf}${path.delimiter}${path.join(druidLib(ctx), "*")}`;
        // Started together: on two cores the JVM boots overlap well, and discovery is via ZooKeeper anyway.
        const services = await Promise.all(roles.map(async (role) => {
            const port = await freePort();
            const logFile = path.join(ctx.workDir, `${role.name}.log`);
            const pid = spawnDetached(javaBin(), [
                `-Xms${role.heap}`, `-Xmx${role.heap}`, "-XX:MaxDirectMemorySize=256m", "-XX:+ExitOnOutOfMemoryError",
                "-Duser.timezone=UTC", "-Dfile.encoding=UTF-8", `-Djava.io.tmpdir=${tmp}`,
                "-Djava.util.logging.manager=org.apache.logging.log4j.jul.LogManager",
                `-Dlog4j.configurationFile=${path.join(conf, "log4j2.xml")}`,
                ...JAVA17_FLAGS,
                `-Ddruid.plaintextPort=${port}`,
                ...Object.entries(role.properties).map(([k, v]) => `-D${k}=${v}`),
                "-cp", classpath, "org.apache.druid.cli.Main", "server", role.name,
            ], { logFile });
            return { ...role, url: `http://127.0.0.1:${port}`, pid, logFile };
        }));
        for (const service of services) {
            await waitForHttp(`${service.url}/status/health`, { pid: service.pid, logFile: service.logFile, timeoutMs: 240_000, intervalMs: 500 });
        }
        const [coordinator, broker, , , router] = services;
        // Healthy is not ready: the overlord must have won leadership, the broker must have its view of the cluster.
        await waitForHttp(`${coordinator!.url}/druid/indexer/v1/isLeader`, { pid: coordinator!.pid, logFile: coordinator!.logFile, timeoutMs: 120_000 });
        await waitForHttp(`${broker!.url}/druid/broker/v1/readiness`, { pid: broker!.pid, logFile: broker!.logFile, timeoutMs: 120_000 });
        ctx.log(`druid ${ctx.versions.druid}: router ${router!.url}`);

        return {
            name: "druid",
            version: ctx.versions.druid,
            endpoints: {
                router: router!.url,
                coordinator: coordinator!.url, // also the overlord (asOverlord)
                broker: broker!.url,
                zookeeper: `127.0.0.1:${zkPort}`,
            },
            details: { deepStorage: path.join(ctx.workDir, "deep-storage") },
            pids: [...services.map((s) => s.pid), zkPid],
            logFiles: [...services.map((s) => s.logFile), zkLog],
            startSeconds: (Date.now() - started) / 1000,
        };
    },
};
