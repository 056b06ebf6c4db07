// Bundle the CLI: dist/cli.js (tsc's output) becomes one module for the start-up path, with
// each mode's code in dist/chunks/, loaded when that mode runs.
// Why: unbundled, node resolved, read, compiled and linked some sixty of our modules before
// the first request; and calls across ESM modules go through import bindings, which matter
// while V8 runs the code unoptimized. What bundling saved is in docs/download.md ("Why the code
// is as it is").
// Packages stay external (the image ships node_modules); the other files tsc wrote stay as
// they are, for dist/health/probe.js (its own entry point) and the tests that import them.
// Worker threads start from files (md5/offload.ts: `new URL('./simd-worker.js', import.meta.url)`):
// each is copied beside whichever bundle output took in the module that starts it.
import { build } from 'esbuild';
import { copyFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** module that starts workers (tsc's output) → the worker files it names, beside it */
const WORKERS = { 'dist/s3/md5/offload.js': ['simd-worker.js', 'crypto-worker.js'] };

await rm(new URL('../dist/chunks', import.meta.url), { recursive: true, force: true });
const { metafile } = await build({
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
  metafile: true,
});
for (const [starter, files] of Object.entries(WORKERS)) {
  const outputs = Object.entries(metafile.outputs).filter(([out, o]) => out.endsWith('.js') && starter in o.inputs).map(([out]) => out);
  if (outputs.length === 0) throw new Error(`bundle.mjs: no output holds ${starter}: its workers would be missing`);
  for (const out of outputs) for (const f of files) await copyFile(join(dirname(starter), f), join(dirname(out), f));
}
