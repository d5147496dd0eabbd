import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileName, imageJars, JarImage } from "./manifest";

/** jars/<image>/: the image's build context, holding exactly its manifest's jars. */
export function jarsDir(image: JarImage, root = __dirname): string {
    return path.join(root, image);
}

const digests = new Map<string, { stamp: string; sha256: string }>();

/** SHA-256 of a file, remembered per path, size and mtime: previews check the jars on every run. */
export function sha256File(file: string): string {
    const st = fs.statSync(file);
    const stamp = `${st.size}:${st.mtimeMs}`;
    const known = digests.get(file);
    if (known?.stamp === stamp) return known.sha256;
    const sha256 = createHash("sha256").update(fs.readFileSync(file)).digest("hex");
    digests.set(file, { stamp, sha256 });
    return sha256;
}

/** What is wrong with an image's jars folder: missing jars, wrong checksums, strays. Empty when fine. */
export function jarProblems(image: JarImage, root = __dirname): string[] {
    const dir = jarsDir(image, root);
    const expected = new Set(imageJars[image].map(fileName));
    const problems: string[] = [];
    for (const jar of imageJars[image]) {
        const file = path.join(dir, fileName(jar));
        if (!fs.existsSync(file)) problems.push(`${path.relative(process.cwd(), file)} is missing`);
        else {
            const actual = sha256File(file);
            if (actual !== jar.sha256) problems.push(`${path.relative(process.cwd(), file)} has SHA-256 ${actual}, the manifest says ${jar.sha256}`);
        }
    }
    // A leftover jar would be baked into the image too.
    for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
        if (f.endsWith(".jar") && !expected.has(f)) problems.push(`${path.relative(process.cwd(), path.join(dir, f))} is not in jars/manifest.ts`);
    }
    return problems;
}

/** A short digest of the manifest entries: image tags change exactly when the jars do. */
export function jarsDigest(image: JarImage): string {
    return createHash("sha256")
        .update(imageJars[image].map((j) => `${fileName(j)}=${j.sha256}`).join("\n"))
        .digest("hex")
        .slice(0, 12);
}
