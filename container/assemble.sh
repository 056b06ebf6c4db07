#!/bin/sh
# Assemble the production tree the image ships, from a repository whose dist/ is built:
#   <out>/package.json, package-lock.json   (cli.js reads its version from package.json)
#   <out>/node_modules                      production dependencies only, no install scripts
#   <out>/dist                              compiled JavaScript, no source maps
# The Dockerfile's build stage runs exactly this, and so does test/ship/container.test.ts,
# so what the test runs as uid 1000 is what the image contains.
#   usage: container/assemble.sh <repo-with-dist> <out-dir>
set -eu
src=$1
out=$2
[ -f "$src/dist/cli.js" ] || { echo "assemble.sh: $src/dist/cli.js missing: run npm run build first" >&2; exit 1; }
mkdir -p "$out"
cp "$src/package.json" "$src/package-lock.json" "$out/"
# --prefer-offline: a warm npm cache (CI ran npm ci a minute earlier) makes this take seconds
(cd "$out" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error)
cp -R "$src/dist" "$out/dist"
find "$out/dist" -name '*.map' -delete
# the bin entry is started directly (#!/usr/bin/env node) through the s3-sidecar symlink
chmod 0755 "$out/dist/cli.js"
