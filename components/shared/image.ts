import * as dockerbuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { JarImage } from "../../jars/manifest";
import { jarsDigest, jarsDir } from "../../jars/verify";

export interface JarImageArgs {
    /** Which jars/<image>/ folder is the build context (checked by the stack's preflight). */
    jars: JarImage;
    /** The Dockerfile, beside the tier that uses the image. */
    dockerfile: string;
    /** Build arg that receives the base image, and the base (from the version table or config). */
    baseArg: string;
    base: string;
    repository: string;
}

/**
 * An image built by the program from a pinned upstream image plus the manifest's jars. The tag
 * carries a digest of the base, the jars and the Dockerfile, so containers are replaced exactly
 * when one of them changes, and the builder rebuilds only then.
 */
export function jarImage(name: string, args: JarImageArgs, parent: pulumi.Resource): pulumi.Output<string> {
    const tag = createHash("sha256")
        .update(`${args.base}\n${jarsDigest(args.jars)}\n${fs.readFileSync(args.dockerfile, "utf8")}`)
        .digest("hex")
        .slice(0, 12);
    const image = new dockerbuild.Image(
        name,
        {
            context: { location: jarsDir(args.jars) },
            dockerfile: { location: args.dockerfile },
            buildArgs: { [args.baseArg]: args.base },
            tags: [`${args.repository}:${tag}`],
            load: true,
            push: false,
            // Previews stay fast; the tag already shows whether a build will happen.
            buildOnPreview: false,
        },
        { parent },
    );
    return image.ref;
}
