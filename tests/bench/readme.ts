/**
 * npm run bench:readme: rewrites the table in README.md's Benchmarks section from
 * .bench/results.json (written by `npm run bench`), so the README shows measured figures only.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "../engines/state";
import { readResults, resultsFile, withBenchTable } from "./results";

const readme = path.join(repoRoot, "README.md");
if (!fs.existsSync(resultsFile)) {
    console.error(`${resultsFile} does not exist: run npm run bench first`);
    process.exit(1);
}
fs.writeFileSync(readme, withBenchTable(fs.readFileSync(readme, "utf8"), readResults()));
console.log(`README.md: Benchmarks table rewritten from ${resultsFile}`);
