/**
 * `npm run jars`: fetches every jar of jars/manifest.ts with Maven into jars/<image>/, checks its
 * SHA-256 against the manifest, and removes jars the manifest no longer lists. Idempotent: jars
 * already in place with the right checksum are left alone.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { coordinate, fileName, imageJars, JarImage, MavenJar } from "./manifest";
import { jarsDir, sha256File } from "./verify";

export function fetchJar(jar: MavenJar, dir: string): "kept" | "fetched" {
    const file = path.join(dir, fileName(jar));
    if (fs.existsSync(file) && sha256File(file) === jar.sha256) return "kept";
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "jars-"));
    try {
        execFileSync("mvn", ["-q", "-B", "-Dstyle.color=never", "dependency:copy", `-Dartifact=${coordinate(jar)}`, `-DoutputDirectory=${tmp}`, "-Dmdep.overWriteReleases=true"], {
            stdio: ["ignore", "inherit", "inherit"],
        });
        const fetched = path.join(tmp, fileName(jar));
        const actual = sha256File(fetched);
        if (actual !== jar.sha256) {
            throw new Error(`checksum mismatch for ${coordinate(jar)}: Maven gave SHA-256 ${actual}, jars/manifest.ts expects ${jar.sha256}`);
        }
        fs.copyFileSync(fetched, `${file}.part`);
        fs.renameSync(`${file}.part`, file); // never leave a half-copied jar in the build context
        return "fetched";
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

export function fetchAll(root = __dirname): void {
    for (const image of Object.keys(imageJars) as JarImage[]) {
        const dir = jarsDir(image, root);
        fs.mkdirSync(dir, { recursive: true });
        const wanted = new Set(imageJars[image].map(fileName));
        for (const stray of fs.readdirSync(dir).filter((f) => f.endsWith(".jar") && !wanted.has(f))) {
            fs.rmSync(path.join(dir, stray));
            console.log(`jars/${image}: removed ${stray} (not in the manifest)`);
        }
        for (const jar of imageJars[image]) console.log(`jars/${image}: ${fetchJar(jar, dir)} ${fileName(jar)}`);
    }
}

if (require.main === module) {
    try {
        fetchAll();
    } catch (e) {
        console.error(`npm run jars: ${(e as Error).message}`);
        process.exit(1);
    }
}
