// Bundle the CLI: dist/cli.js (tsc's output) becomes one module for the start-up path, with
// each mode's code in dist/chunks/, loaded when that mode runs.
// Why: unbundled, node resolved, read, compiled and linked some sixty of our modules before
// the first request; and calls across ESM modules go through import bindings, which matter
// while V8 runs the code unoptimized. What bundling saved is in docs/download.md ("Why the code
// is as it is").
// Packages stay external (the image ships node_modules); the other files tsc wrote stay as
// they are, for dist/health/probe.js (its own entry point) and the tests that import them.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';

await rm(new URL('../dist/chunks', import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: ['dist/cli.js'],
  outdir: 'dist',
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node22',
  packages: 'external',
  // chained to tsc's maps: a stack trace still names src/*.ts
  sourcemap: true,
  logLevel: 'warning',
});
