#!/usr/bin/env node
// `npm test`: make sure a real S3 + STS server is up, then run every test file with node:test.
// Server: the one named by S3LAB_ENDPOINT (+ S3LAB_* credentials) if set, else test/lab/start
// (Ceph RGW from Debian packages, installed on first use). Under CI=true a server that cannot
// start fails the run; locally the server-backed tests are skipped with a loud message.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const env = { ...process.env };

if (!env.S3LAB_ENDPOINT) {
  try {
    const out = execFileSync(join(root, 'test/lab/start'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    for (const m of out.matchAll(/^export (\w+)=(.*)$/gm)) env[m[1]] = m[2].replace(/^'(.*)'$/, '$1');
  } catch (err) {
    if (env.CI === 'true') {
      console.error(`test/run.mjs: the S3 + STS server could not start under CI=true: ${err.message}`);
      process.exit(1);
    }
    console.error('test/run.mjs: WARNING: no S3 server; tests that need it will be SKIPPED (set CI=true to make that fatal)');
  }
}

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'lab' || name === 'fixtures' ? [] : find(p);
    return name.endsWith('.test.ts') ? [p] : [];
  });
}
const filter = process.argv.slice(2);
const files = find(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('test/run.mjs: no test files matched');
  process.exit(1);
}
const res = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=600000', ...files], {
  cwd: root,
  env,
  stdio: 'inherit',
});
process.exit(res.status ?? 1);
