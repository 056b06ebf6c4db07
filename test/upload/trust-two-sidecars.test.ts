// Two sidecars on one prefix (a replacement pod during the old pod's grace period, on the same
// volume): the second one's sweeps leave the first one's multipart upload in flight alone, and
// the first one's upload completes. And at its start a sidecar marks the manifest in progress,
// so an earlier run's "complete" manifest never vouches for a prefix being rewritten.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { startCli } from '../helpers/cli.js';
import { getBytes, incompleteUploads, labFixture, sha256, sidecarEnv } from './helpers/s3-check.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';

const MiB = 1024 * 1024;

test('two run sidecars on one prefix: the second starts during the first one\'s multipart upload, which completes', { timeout: 240_000 }, async (t) => {
  const { lab, s3, bucket, dir } = await labFixture(t, 'trust-two');
  // an earlier run's manifest, saying complete
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'job/_manifest.json', Body: JSON.stringify({ version: 1, complete: true, files: [] }) }));
  const proxy = await startTcpProxy(t, Number(new URL(lab.endpoint).port), 2 * MiB);
  writeFileSync(join(dir, 'ortho.tif'), randomBytes(24 * MiB));
  const args = (done: string) => [
    'run', '--output-dir', dir, '--output-prefix', `s3://${bucket}/job/`, '--stable-window', '300ms',
    '--part-size', '5MiB', '--multipart-threshold', '5MiB', '--part-concurrency', '1', '--log-level', 'debug',
    '--done-file', join(dir, done),
  ];
  const first = startCli(args('DONE-1'), sidecarEnv(lab, {}, proxy.endpoint));
  t.after(() => first.child.kill('SIGKILL'));
  await first.waitFor(/"msg":"watching /);
  const marker = JSON.parse((await getBytes(s3, bucket, 'job/_manifest.json')).toString()) as { status: string; complete: boolean };
  assert.deepEqual([marker.status, marker.complete], ['in-progress', false], 'the old manifest no longer vouches for the prefix');
  await first.waitFor(/"key":"job\/ortho.tif","part":1\b.*"msg":"part uploaded"/, 120_000);

  // the second sidecar, same dir (and journal), full speed; it runs its start and end sweeps
  const second = startCli(args('DONE-2'), sidecarEnv(lab));
  t.after(() => second.child.kill('SIGKILL'));
  await second.waitFor(/"msg":"watching /);
  await second.waitFor(/"key":"job\/ortho.tif".*"msg":"uploaded"/, 120_000);
  writeFileSync(join(dir, 'DONE-2'), '0');
  const r2 = await second.done;
  assert.equal(r2.code, 0, r2.stdout.slice(-3000) + r2.stderr);
  assert.ok(!r2.logs.some((l) => l.msg === 'aborted an incomplete multipart upload'), 'the second sidecar aborted nothing');
  assert.ok(r2.logs.some((l) => String(l.msg).startsWith('left incomplete multipart uploads alone')), r2.stdout.slice(-3000));
  assert.equal(first.child.exitCode, null, 'the first one is still sending');

  proxy.rate = undefined;
  await first.waitFor(/"key":"job\/ortho.tif".*"msg":"uploaded"/, 120_000);
  writeFileSync(join(dir, 'DONE-1'), '0');
  const r1 = await first.done;
  assert.equal(r1.code, 0, r1.stdout.slice(-3000) + r1.stderr);
  assert.ok(!r1.logs.some((l) => l.msg === 'upload failed' || l.msg === 'upload failed; retrying'), 'the first upload was never cut');
  assert.equal(sha256(await getBytes(s3, bucket, 'job/ortho.tif')), sha256(readFileSync(join(dir, 'ortho.tif'))));
  const m = JSON.parse((await getBytes(s3, bucket, 'job/_manifest.json')).toString()) as { status: string; complete: boolean };
  assert.deepEqual([m.status, m.complete], ['complete', true]);
  assert.deepEqual(await incompleteUploads(s3, bucket), []);
});
