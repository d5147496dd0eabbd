/**
 * Druid as the Druid tier deploys it, run as plain JVMs on 127.0.0.1 from Maven Central jars (no
 * package bundles a Druid server; 33.0.0 is the newest line published there): a ZooKeeper
 * (`versions.zookeeper`, its own classpath), then coordinator-as-overlord, broker, historical,
 * indexer (tasks run in its JVM, no peon forks) and router, with their metadata on the postgres
 * engine's `druid-db` server.
 *
 * Each role runs the container environment the tier renders (`druidRoleEnvs`, laptop profile),
 * read the way the image's druid.sh reads it (`imageLaunch`): `druid_*` variables become the
 * role's runtime.properties, DRUID_XMX / DRUID_XMS / DRUID_MAXDIRECTMEMORYSIZE its jvm.config,
 * JAVA_OPTS follows, and the process keeps the rest of the environment. Each role has a folder laid
 * out like the image's /opt/druid (lib, extensions/<name>, var), which is also its working
 * directory. Then `localRole` substitutes host names, ports and folders, and nothing else.
 *
 * The exceptions, both because Druid stopped publishing these extensions on Maven Central after
 * 29.0.0 (the image has them):
 * - deep storage and task logs stay local folders (`localDeepStorage`): druid-s3-extensions 33 is
 *   not on Maven Central;
 * - postgresql-metadata-storage 33 is not either, and 29.0.0's jar does not link against Druid 33.
 *   The extension is built from 29.0.0's sources jar with the two edits Druid 33's API needs
 *   (`POSTGRES_EXTENSION_EDITS`), next to the PostgreSQL JDBC driver Druid 33 ships.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DRUID_HOME, druidDatabase, druidEnv, druidProperty, DruidRole, druidRoleEnvs, druidRoles, type DruidRoleEnv } from "../../components/druid";
import type { Engine, EngineContext, EngineHandle } from "./types";
import { freePort, hashKey, javaBin, mavenRepo, mvnCopy, run, spawnDetached, waitForHttp, waitForTcp } from "./lib";
import { writeProperties } from "./kafka-rendered";
import { databasePassword, localDatabaseAddress } from "./postgres";

/**
 * ZooKeeper's pom marks these optional, yet its server loads them: metrics-core and snappy at
 * startup, an SLF4J binding to see its log. Versions as ZooKeeper 3.9 builds with.
 */
const ZOOKEEPER_RUNTIME_EXTRAS = [
    "io.dropwizard.metrics:metrics-core:4.1.12.1",
    "org.xerial.snappy:snappy-java:1.1.10.5",
    "org.slf4j:slf4j-simple:2.0.13",
];

/** What the image's bin/run-java adds on Java 17 (Druid's memory and reflection tricks need them). */
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

/** The image's jvm.config of every role, but for the sizes druid.sh replaces from DRUID_XMX and friends. */
const IMAGE_JVM_CONFIG = [
    "-server",
    "-XX:+ExitOnOutOfMemoryError",
    "-Duser.timezone=UTC",
    "-Dfile.encoding=UTF-8",
    "-Djava.io.tmpdir=var/tmp",
    "-Djava.util.logging.manager=org.apache.logging.log4j.jul.LogManager",
];

/** druid.sh: each of these, when set, replaces its option in the role's jvm.config. */
const JVM_CONFIG_VARIABLES: Record<string, string> = {
    DRUID_XMX: "-Xmx",
    DRUID_XMS: "-Xms",
    DRUID_MAXNEWSIZE: "-XX:MaxNewSize=",
    DRUID_NEWSIZE: "-XX:NewSize=",
    DRUID_MAXDIRECTMEMORYSIZE: "-XX:MaxDirectMemorySize=",
};

/** druid.sh's DRUID_DIRS_TO_CREATE default, made under /opt/druid before the JVM starts (java.io.tmpdir is var/tmp). */
const IMAGE_DIRS = ["var/tmp", "var/druid/segments", "var/druid/indexing-logs", "var/druid/task", "var/druid/hadoop-tmp", "var/druid/segment-cache"];

/**
 * Set in the image's conf/druid/cluster/_common/common.runtime.properties and not by the tier: a
 * role would otherwise ask the coordinator for lookups while it is still starting.
 */
const IMAGE_COMMON_PROPERTIES = { "druid.lookup.enableLookupSyncOnStartup": "false" };

/** The newest postgresql-metadata-storage on Maven Central (Druid published none after it). */
const POSTGRES_EXTENSION_SOURCE_VERSION = "29.0.0";

/**
 * The edits 29.0.0's PostgreSQL extension needs to compile against Druid 33, which gave
 * SQLMetadataConnector a third constructor argument and removed firehoses (the extension's
 * firehose connector goes; SQL ingestion from PostgreSQL is not used here). Each must match
 * exactly once: other sources fail the install instead of building something else.
 */
const POSTGRES_EXTENSION_EDITS: { file: string; from: RegExp; to: string }[] = [
    {
        file: "org/apache/druid/metadata/storage/postgresql/PostgreSQLConnector.java",
        from: /PostgreSQLTablesConfig tablesConfig\s*\)\s*\{\s*super\(config, dbTables\);/,
        to: "PostgreSQLTablesConfig tablesConfig, org.apache.druid.segment.metadata.CentralizedDatasourceSchemaConfig schemaConfig)\n  {\n    super(config, dbTables, schemaConfig);",
    },
    {
        file: "org/apache/druid/metadata/storage/postgresql/PostgreSQLMetadataStorageModule.java",
        from: /import org\.apache\.druid\.firehose\.PostgresqlFirehoseDatabaseConnector;/,
        to: "",
    },
    {
        file: "org/apache/druid/metadata/storage/postgresql/PostgreSQLMetadataStorageModule.java",
        from: /\s*\.registerSubtypes\(\s*new NamedType\(PostgresqlFirehoseDatabaseConnector\.class, "postgresql"\)\s*\)/,
        to: "",
    },
];
const POSTGRES_EXTENSION_DROPPED = "org/apache/druid/firehose/PostgresqlFirehoseDatabaseConnector.java";

function zookeeperLib(ctx: EngineContext): string {
    return path.join(ctx.cacheDir, `zookeeper-${ctx.versions.zookeeper}`, "lib");
}

/**
 * A pom that resolves `dependencies` the way Druid's distribution does: Druid's parent pom imported
 * as a BOM (without it Maven's nearest-wins picks e.g. a Guice beta), and sigar excluded: it lives
 * only in a third-party repository and serves optional host metrics.
 */
function druidPom(version: string, dependencies: string[]): string {
    const noSigar = "<exclusions><exclusion><groupId>org.hyperic</groupId><artifactId>sigar</artifactId></exclusion></exclusions>";
    const dependency = (coordinate: string) => {
        const [group, artifact, v] = coordinate.split(":");
        return `<dependency><groupId>${group}</groupId><artifactId>${artifact}</artifactId>${v ? `<version>${v}</version>` : ""}${noSigar}</dependency>`;
    };
    return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.engines</groupId><artifactId>druid</artifactId><version>0</version><packaging>pom</packaging>
  <dependencyManagement><dependencies>
    <dependency><groupId>org.apache.druid</groupId><artifactId>druid</artifactId><version>${version}</version><type>pom</type><scope>import</scope></dependency>
  </dependencies></dependencyManagement>
  <dependencies>${dependencies.map(dependency).join("")}</dependencies>
</project>
`;
}

async function copyDependencies(pom: string, dest: string): Promise<void> {
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
}

/** The distribution's layout: lib/ (the server) and extensions/<name>/ (each extension with what it needs beyond lib). */
interface DruidDist {
    lib: { pom: string };
    extensions: Record<string, { pom: string }>;
}

function druidDist(version: string): DruidDist {
    return {
        lib: { pom: druidPom(version, [`org.apache.druid:druid-services:${version}`]) },
        extensions: {
            "druid-kafka-indexing-service": { pom: druidPom(version, [`org.apache.druid.extensions:druid-kafka-indexing-service:${version}`]) },
            // The JDBC driver at the version Druid's BOM pins; the extension's own jar is built beside it.
            "postgresql-metadata-storage": { pom: druidPom(version, ["org.postgresql:postgresql"]) },
        },
    };
}

function distDir(ctx: EngineContext): string {
    const dist = druidDist(ctx.versions.druid);
    const key = hashKey([dist.lib.pom, ...Object.values(dist.extensions).map((e) => e.pom), POSTGRES_EXTENSION_SOURCE_VERSION,
        ...POSTGRES_EXTENSION_EDITS.map((e) => `${e.file} ${e.from.source} ${e.to}`)]);
    return path.join(ctx.cacheDir, `druid-${ctx.versions.druid}-${key}`);
}

/** 29.0.0's PostgreSQL extension, edited for Druid 33 (`POSTGRES_EXTENSION_EDITS`), compiled against `lib` into `dest`. */
async function buildPostgresExtension(ctx: EngineContext, lib: string, dest: string): Promise<void> {
    const coordinate = `org.apache.druid.extensions:postgresql-metadata-storage:${POSTGRES_EXTENSION_SOURCE_VERSION}`;
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "druid-postgres-extension-"));
    try {
        await mvnCopy([`${coordinate}:jar:sources`], path.join(work, "download"), { transitive: false });
        const sourcesJar = fs.readdirSync(path.join(work, "download")).find((f) => f.endsWith("-sources.jar"));
        if (!sourcesJar) throw new Error(`${coordinate}: no sources jar`);
        const src = path.join(work, "src");
        await run("unzip", ["-q", path.join(work, "download", sourcesJar), "-d", src]);
        for (const edit of POSTGRES_EXTENSION_EDITS) {
            const file = path.join(src, edit.file);
            const text = fs.readFileSync(file, "utf8");
            const matches = text.match(new RegExp(edit.from.source, "g"))?.length ?? 0;
            if (matches !== 1) throw new Error(`${coordinate}: ${edit.file} matches ${edit.from} ${matches} times, not once`);
            fs.writeFileSync(file, text.replace(edit.from, edit.to));
        }
        fs.rmSync(path.join(src, POSTGRES_EXTENSION_DROPPED));
        const sources = (fs.readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith(".java")).map((f) => path.join(src, f));
        const classes = path.join(work, "classes");
        const javaDir = path.dirname(javaBin());
        const tool = (name: string) => (process.env.JAVA_HOME ? path.join(javaDir, name) : name);
        await run(tool("javac"), ["-nowarn", "-proc:none", "--release", ctx.versions.java, "-d", classes,
            "-cp", [path.join(lib, "*"), path.join(dest, "*")].join(path.delimiter), ...sources]);
        fs.cpSync(path.join(src, "META-INF", "services"), path.join(classes, "META-INF", "services"), { recursive: true });
        await run(tool("jar"), ["--create", "--file", path.join(dest, `postgresql-metadata-storage-${POSTGRES_EXTENSION_SOURCE_VERSION}-for-${ctx.versions.druid}.jar`), "-C", classes, "."]);
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

async function installDruid(ctx: EngineContext): Promise<void> {
    const dir = distDir(ctx);
    if (fs.existsSync(path.join(dir, ".installed"))) return;
    const partial = `${dir}.partial`;
    fs.rmSync(partial, { recursive: true, force: true });
    const dist = druidDist(ctx.versions.druid);
    await copyDependencies(dist.lib.pom, path.join(partial, "lib"));
    for (const [name, extension] of Object.entries(dist.extensions)) await copyDependencies(extension.pom, path.join(partial, "extensions", name));
    await buildPostgresExtension(ctx, path.join(partial, "lib"), path.join(partial, "extensions", "postgresql-metadata-storage"));
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(partial, dir);
    fs.writeFileSync(path.join(dir, ".installed"), "");
}

/**
 * The tier's rendered roles (laptop profile), with `dbPassword` for the druid user. The object
 * store is left empty: the deep storage exception drops all of it.
 */
export function renderedDruid(dbPassword: string): Record<DruidRole, DruidRoleEnv<string>> {
    return druidRoleEnvs<string>({ profile: "laptop", store: { bucket: "", pathStyle: true, region: "" }, dbPassword, s3: { accessKeyId: "", secretAccessKey: "" } });
}

/** A role's launch as the image's druid.sh makes it from the container environment. */
export interface ImageLaunch {
    /** The role's runtime.properties: every `druid_*` variable, named by druid.sh's rule. */
    properties: Record<string, string>;
    /** The role's jvm.config: the image's, its sizes replaced. */
    jvmConfig: string[];
    /** What java runs with: jvm.config, then JAVA_OPTS split into words as the shell does. */
    jvmOptions: string[];
    /** The environment the JVM inherits (druid.sh execs java with its own). */
    env: Record<string, string>;
}

export function imageLaunch(rendered: DruidRoleEnv<string>): ImageLaunch {
    const env = { ...rendered.env, ...rendered.secretEnv };
    const properties: Record<string, string> = {};
    for (const [name, value] of Object.entries(env)) if (name.startsWith("druid_")) properties[druidProperty(name)] = value;
    const sizes = Object.entries(JVM_CONFIG_VARIABLES).filter(([name]) => env[name]).map(([name, option]) => `${option}${env[name]}`);
    const jvmConfig = [...IMAGE_JVM_CONFIG, ...sizes];
    return { properties, jvmConfig, jvmOptions: [...jvmConfig, ...(env.JAVA_OPTS ?? "").split(/\s+/).filter(Boolean)], env };
}

/** Where this run's servers are. */
interface LocalCluster {
    zookeeper: string;
    postgres: EngineHandle;
    /** The folder that stands for the role's /opt/druid. */
    home: string;
    port: number;
}

/**
 * THE substitution: the ZooKeeper address becomes the local ZooKeeper's, `druid-db:5432` in the
 * metadata connect URI the postgres engine's druid-db server, druid.host 127.0.0.1 (the container's
 * service name elsewhere), druid.plaintextPort a free port, and folders under the image's
 * /opt/druid the same folders under the role's own home. Every other property runs as rendered.
 */
export function localRole(properties: Record<string, string>, local: LocalCluster): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(properties)) out[key] = value.split(`${DRUID_HOME}/`).join(`${local.home}/`);
    out["druid.zk.service.host"] = local.zookeeper;
    const uri = "druid.metadata.storage.connector.connectURI";
    out[uri] = localDatabaseAddress(local.postgres, druidDatabase, properties[uri]!);
    out["druid.host"] = "127.0.0.1";
    out["druid.plaintextPort"] = String(local.port);
    return out;
}

export const S3_EXTENSION = "druid-s3-extensions";
/** Deep storage, task logs and the S3 client: the settings the exception replaces or drops. */
const DEEP_STORAGE_SETTINGS = /^druid\.(storage|indexer\.logs|s3)\./;

/**
 * THE exception, on the rendered environment: druid-s3-extensions 33 is not on Maven Central, so
 * segments and task logs go to local folders every role shares (as a mounted volume would be), the
 * extension leaves the load list, and the S3 settings, keys and region the tier renders are
 * dropped: nothing would read them.
 */
export function localDeepStorage(rendered: DruidRoleEnv<string>, dir: { segments: string; taskLogs: string }): DruidRoleEnv<string> {
    const dropped = (name: string) => name === "AWS_REGION" || (name.startsWith("druid_") && DEEP_STORAGE_SETTINGS.test(druidProperty(name)));
    const keep = (vars: Record<string, string>) => Object.fromEntries(Object.entries(vars).filter(([name]) => !dropped(name)));
    const [loadList] = Object.keys(druidEnv({ "druid.extensions.loadList": "" }));
    const extensions = (JSON.parse(rendered.env[loadList!]!) as string[]).filter((e) => e !== S3_EXTENSION);
    return {
        env: {
            ...keep(rendered.env),
            [loadList!]: JSON.stringify(extensions),
            ...druidEnv({
                "druid.storage.type": "local",
                "druid.storage.storageDirectory": dir.segments,
                "druid.indexer.logs.type": "file",
                "druid.indexer.logs.directory": dir.taskLogs,
            }),
        },
        secretEnv: keep(rendered.secretEnv),
    };
}

const LOG4J2 = `<?xml version="1.0" encoding="UTF-8" ?>
<Configuration status="WARN">
  <Appenders><Console name="Console" target="SYSTEM_OUT"><PatternLayout pattern="%d{ISO8601} %p [%t] %c - %m%n"/></Console></Appenders>
  <Loggers><Root level="info"><AppenderRef ref="Console"/></Root></Loggers>
</Configuration>
`;

/**
 * The role's /opt/druid: lib and extensions from the cache, conf/_common and conf/<role> (the
 * classpath druid.sh gives the JVM), var as druid.sh creates it. Returns the classpath.
 */
function roleHome(home: string, dist: string, role: DruidRole, properties: Record<string, string>, jvmConfig: string[]): string {
    fs.mkdirSync(home, { recursive: true });
    for (const name of ["lib", "extensions"]) fs.symlinkSync(path.join(dist, name), path.join(home, name));
    for (const d of IMAGE_DIRS) fs.mkdirSync(path.join(home, d), { recursive: true });
    const common = path.join(home, "conf", "_common");
    const service = path.join(home, "conf", role);
    fs.mkdirSync(common, { recursive: true });
    fs.mkdirSync(service, { recursive: true });
    writeProperties(path.join(common, "common.runtime.properties"), IMAGE_COMMON_PROPERTIES);
    fs.writeFileSync(path.join(common, "log4j2.xml"), LOG4J2);
    writeProperties(path.join(service, "runtime.properties"), properties);
    fs.writeFileSync(path.join(service, "jvm.config"), jvmConfig.join("\n") + "\n");
    return [common, service, path.join(home, "lib", "*")].join(path.delimiter);
}

export const druid: Engine = {
    name: "druid",
    dependsOn: ["postgres"],

    async install(ctx) {
        await Promise.all([
            mvnCopy([`org.apache.zookeeper:zookeeper:${ctx.versions.zookeeper}`, ...ZOOKEEPER_RUNTIME_EXTRAS], zookeeperLib(ctx)),
            installDruid(ctx),
        ]);
    },

    async start(ctx) {
        const started = Date.now();
        const dir = (name: string) => {
            const d = path.join(ctx.workDir, name);
            fs.mkdirSync(d, { recursive: true });
            return d;
        };
        const postgres = ctx.running.postgres;
        if (!postgres) throw new Error("druid needs the postgres engine running");

        // ZooKeeper first: every Druid service announces itself there.
        const zkPort = await freePort();
        const zkConfig = path.join(dir("zookeeper"), "zoo.cfg");
        fs.writeFileSync(zkConfig, [
            `dataDir=${dir("zookeeper/data")}`, `clientPort=${zkPort}`, "clientPortAddress=127.0.0.1",
            "admin.enableServer=false", // its admin HTTP server would take port 8080
            "tickTime=2000", "",
        ].join("\n"));
        const zkLog = path.join(ctx.workDir, "zookeeper.log");
        const zkPid = spawnDetached(javaBin(), [
            "-Xmx128m", `-Djava.io.tmpdir=${dir("zookeeper/tmp")}`, "-cp", path.join(zookeeperLib(ctx), "*"),
            "org.apache.zookeeper.server.ZooKeeperServerMain", zkConfig,
        ], { logFile: zkLog });
        await waitForTcp("127.0.0.1", zkPort, { pid: zkPid, logFile: zkLog, timeoutMs: 60_000 });

        const rendered = renderedDruid(databasePassword(postgres, druidDatabase));
        const shared = { segments: dir("deep-storage"), taskLogs: dir("task-logs") };
        // Started together: on two cores the JVM boots overlap well, and discovery is via ZooKeeper anyway.
        const services = await Promise.all(druidRoles.map(async (role) => {
            const launch = imageLaunch(localDeepStorage(rendered[role], shared));
            const port = await freePort();
            const home = path.join(ctx.workDir, role);
            const properties = localRole(launch.properties, { zookeeper: `127.0.0.1:${zkPort}`, postgres, home, port });
            const classpath = roleHome(home, distDir(ctx), role, properties, launch.jvmConfig);
            const logFile = path.join(ctx.workDir, `${role}.log`);
            const pid = spawnDetached(javaBin(), [...JAVA17_FLAGS, ...launch.jvmOptions, "-cp", classpath, "org.apache.druid.cli.Main", "server", role], {
                logFile, cwd: home, env: { ...process.env, ...launch.env },
            });
            return { name: role, url: `http://127.0.0.1:${port}`, pid, logFile };
        }));
        for (const service of services) {
            await waitForHttp(`${service.url}/status/health`, { pid: service.pid, logFile: service.logFile, timeoutMs: 240_000, intervalMs: 500 });
        }
        const url = Object.fromEntries(services.map((s) => [s.name, s])) as Record<DruidRole, (typeof services)[number]>;
        // Healthy is not ready: the overlord must have won leadership, the broker must have its view of the cluster.
        await waitForHttp(`${url.coordinator.url}/druid/indexer/v1/isLeader`, { pid: url.coordinator.pid, logFile: url.coordinator.logFile, timeoutMs: 120_000 });
        await waitForHttp(`${url.broker.url}/druid/broker/v1/readiness`, { pid: url.broker.pid, logFile: url.broker.logFile, timeoutMs: 120_000 });
        ctx.log(`druid ${ctx.versions.druid}: router ${url.router.url}`);

        return {
            name: "druid",
            version: ctx.versions.druid,
            endpoints: {
                ...Object.fromEntries(services.map((s) => [s.name, s.url])), // the coordinator is also the overlord (asOverlord)
                zookeeper: `127.0.0.1:${zkPort}`,
            },
            details: { deepStorage: shared.segments },
            pids: [...services.map((s) => s.pid), zkPid],
            logFiles: [...services.map((s) => s.logFile), zkLog],
            startSeconds: (Date.now() - started) / 1000,
        };
    },
};
