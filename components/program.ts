import { loadStackConfig } from "./config";
import { buildStack, Stack } from "./stack";

/** The program `pulumi up` runs: validate the whole config first, then build. */
export function program(): Stack {
    return buildStack(loadStackConfig());
}
