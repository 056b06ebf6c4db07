// kill -9 in the middle of a multipart upload, then a restart over the same dir: every file
// lands, byte-identical; nothing the first run finished is sent again; nothing is sent twice;
// the multipart upload the kill stranded is aborted. (A TCP proxy with a rate limit in front of
// the shared lab stretches the big upload so the kill lands inside it.)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startCli } from '../helpers/cli.js';
import { incompleteUploads, labFixture, localFiles, mirrorDiff, sidecarEnv } from './helpers/s3-check.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
import { until } from '../helpers/wait.js';

const MiB = 1024 * 1024;

test('kill -9 during a multipart upload, restart: each file lands at most once more, none lost or corrupt, no stranded uploads', { timeout: 300_000 }, async (t) => {
  const { lab, s3, bucket, dir } = await labFixture(t, 'crash');
  mkdirSync(join(dir, 'tiles'));
  for (let i = 0; i < 40; i++) writeFileSync(join(dir, 'tiles', `t${i}.png`), randomBytes(64 * 1024));
  writeFileSync(join(dir, 'ortho.tif'), randomBytes(40 * MiB));
  const all = localFiles(dir);

  const proxy = await startTcpProxy(t, Number(new URL(lab.endpoint).port), 3 * MiB);
  const prefix = 'job/';
  const args = [
    'run', '--output-dir', dir, '--output-prefix', `s3://${bucket}/${prefix}`, '--stable-window', '300ms',
    '--part-size', '5MiB', '--multipart-threshold', '5MiB', '--part-concurrency', '2', '--log-level', 'debug',
    '--done-file', join(dir, 'DONE'),
  ];
  const first = startCli(args, sidecarEnv(lab, {}, proxy.endpoint));
  t.after(() => first.child.kill('SIGKILL'));
  await first.waitFor(/"key":"job\/ortho.tif","part":[12]\b.*"msg":"part uploaded"/, 120_000);
  first.child.kill('SIGKILL');
  const r1 = await first.done;
  assert.equal(r1.signal, 'SIGKILL');
  const before = r1.logs.filter((l) => l.msg === 'uploaded').map((l) => String(l.key));
  assert.ok(!before.includes(`${prefix}ortho.tif`), 'killed before the big file finished');
  assert.deepEqual(await incompleteUploads(s3, bucket, prefix), [`${prefix}ortho.tif`], 'the kill stranded a multipart upload');

  // Restart (full speed) and let it finish via the done file.
  proxy.rate = undefined;
  const second = startCli(args, sidecarEnv(lab, {}, proxy.endpoint));
  t.after(() => second.child.kill('SIGKILL'));
  await second.waitFor(/"msg":"watching /);
  await until('the restart to upload the rest', async () => (await mirrorDiff(s3, bucket, prefix, dir, all)).length === 0 || 'not yet', 120_000, 500);
  writeFileSync(join(dir, 'DONE'), '0');
  const r2 = await second.done;
  assert.equal(r2.code, 0, r2.stdout.slice(-3000) + r2.stderr);

  const after = r2.logs.filter((l) => l.msg === 'uploaded').map((l) => String(l.key));
  assert.equal(new Set(after).size, after.length, `nothing sent twice by the restart: ${after.join(', ')}`);
  assert.deepEqual(after.filter((k) => before.includes(k)), [], 'nothing the first run finished is sent again');
  assert.ok(after.includes(`${prefix}ortho.tif`));
  assert.deepEqual(after.concat(before).map((k) => k.slice(prefix.length)).sort(), all, 'every file landed exactly once overall');
  assert.ok(r2.logs.some((l) => l.msg === 'aborted an incomplete multipart upload' && l.key === `${prefix}ortho.tif`));
  assert.deepEqual(await mirrorDiff(s3, bucket, prefix, dir, all), []);
  assert.deepEqual(await incompleteUploads(s3, bucket, prefix), []);
});
