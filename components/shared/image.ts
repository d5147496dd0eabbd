import * as dockerbuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { JarImage } from "../../jars/manifest";
import { jarsDigest, jarsDir } from "../../jars/verify";
import { ImageRegistry } from "../platform/types";

export interface BuiltImageArgs {
    /** The build context folder (kept small: only what the Dockerfile copies). */
    context: string;
    /** The Dockerfile, beside the tier that uses the image. */
    dockerfile: string;
    /** Build arg that receives the base image, and the base (from the version table or config). */
    baseArg: string;
    base: string;
    repository: string;
    /** A digest of the context's contents; the tag changes with it. */
    contextDigest: string;
}

/**
 * An image built by the program from a pinned upstream image. The tag carries a digest of the
 * base, the context and the Dockerfile, so containers are replaced exactly when one of them
 * changes, and the builder rebuilds only then.
 *
 * Without a registry the image is loaded into the local daemon and referred to by its tag. With
 * one it is pushed there and referred to by tag and digest: a pod spec then changes exactly when
 * the pushed content does, and a node never runs a stale image cached under the same tag.
 */
export function builtImage(name: string, args: BuiltImageArgs, parent: pulumi.Resource, registry?: ImageRegistry): pulumi.Output<string> {
    const tag = createHash("sha256")
        .update(`${args.base}\n${args.contextDigest}\n${fs.readFileSync(args.dockerfile, "utf8")}`)
        .digest("hex")
        .slice(0, 12);
    const repository = !registry ? pulumi.output(args.repository) : registry.repository ? registry.repository(args.repository, parent) : pulumi.interpolate`${registry.address}/${args.repository}`;
    const image = new dockerbuild.Image(
        name,
        {
            context: { location: args.context },
            dockerfile: { location: args.dockerfile },
            buildArgs: { [args.baseArg]: args.base },
            tags: [pulumi.interpolate`${repository}:${tag}`],
            load: !registry,
            push: !!registry,
            registries: registry?.auth
                ? [{ address: pulumi.output(registry.address).apply(registryHost), username: registry.auth.username, password: pulumi.secret(registry.auth.password) }]
                : undefined,
            // Previews stay fast; the tag already shows whether a build will happen.
            buildOnPreview: false,
        },
        { parent, provider: registry?.pushProvider },
    );
    // `digest` is the pushed manifest's one sha256; `ref` is not guaranteed stable across tags.
    return registry ? pulumi.interpolate`${repository}:${tag}@${image.digest}` : image.ref;
}

/** The host[:port] of a registry address: what a login names. */
export const registryHost = (address: string) => address.split("/")[0]!;

/** SHA-256 over a small context folder's file names and contents (not recursive: contexts here are flat). */
export function folderDigest(dir: string): string {
    const hash = createHash("sha256");
    for (const f of fs.readdirSync(dir).sort()) {
        const file = path.join(dir, f);
        if (fs.statSync(file).isFile()) hash.update(`${f}\n`).update(fs.readFileSync(file)).update("\n");
    }
    return hash.digest("hex");
}

/** SHA-256 over files and folders (recursively) under `root`, for contexts that are part of the repo. */
export function pathsDigest(root: string, paths: string[]): string {
    const hash = createHash("sha256");
    const add = (rel: string) => {
        const file = path.join(root, rel);
        if (fs.statSync(file).isDirectory()) fs.readdirSync(file).sort().forEach((f) => add(path.join(rel, f)));
        else hash.update(`${rel}\n`).update(fs.readFileSync(file)).update("\n");
    };
    paths.forEach(add);
    return hash.digest("hex");
}

export interface JarImageArgs extends Omit<BuiltImageArgs, "context" | "contextDigest"> {
    /** Which jars/<image>/ folder is the build context (checked by the stack's preflight). */
    jars: JarImage;
}

/** An image from a pinned upstream image plus the manifest's jars (the jars folder is the context). */
export function jarImage(name: string, args: JarImageArgs, parent: pulumi.Resource, registry?: ImageRegistry): pulumi.Output<string> {
    const { jars, ...rest } = args;
    return builtImage(name, { ...rest, context: jarsDir(jars), contextDigest: jarsDigest(jars) }, parent, registry);
}
