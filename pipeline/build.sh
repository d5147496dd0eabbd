#!/bin/sh
# Bundles the pipeline apps into OUT (default /out), as the image runs them: main.js (the three
# apps) and generator-thread.js (the producer's worker thread needs a file of its own), plus the
# processor's SQL. kafkajs stays outside the bundle, a plain module the runtime resolves from
# node_modules: the producer replaces one of its files at load (pipeline/shared/kafkajs-grouping.ts),
# which a bundle would have inlined. The pipeline integration suite runs this same bundle.
set -eu
OUT="${1:-/out}"
cd "$(dirname "$0")/.."
rm -rf "$OUT/sql"
npx esbuild pipeline/main.ts pipeline/producer/generator-thread.ts --bundle --platform=node --target=node22 \
    --minify-syntax --legal-comments=none --external:kafkajs --entry-names='[name]' --outdir="$OUT" --log-level=warning
cp -r pipeline/processor/sql "$OUT/sql"
