// SIGTERM with an upload in flight (Argo's end-of-job signal): within the grace period the
// upload finishes, the manifest is complete and the exit code is 0; when the grace period is too
// short the upload is aborted cleanly (no incomplete multipart upload), the manifest says what
// is pending, and the exit code is 4. A rate-limited proxy keeps the upload in flight long enough.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startCli } from '../helpers/cli.js';
import { getBytes, incompleteUploads, labFixture, listPrefix, sha256, sidecarEnv } from './helpers/s3-check.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';

const MiB = 1024 * 1024;

async function setup(t: TestContext, rate: number, grace: string) {
  const { lab, s3, bucket, dir } = await labFixture(t, 'sigterm');
  const proxy = await startTcpProxy(t, Number(new URL(lab.endpoint).port), rate);
  writeFileSync(join(dir, 'small.json'), '{"a":1}');
  writeFileSync(join(dir, 'ortho.tif'), randomBytes(24 * MiB));
  const sidecar = startCli([
    'run', '--output-dir', dir, '--output-prefix', `s3://${bucket}/job/`, '--stable-window', '300ms', '--grace-period', grace,
    '--part-size', '5MiB', '--multipart-threshold', '5MiB', '--part-concurrency', '2', '--log-level', 'debug',
  ], sidecarEnv(lab, {}, proxy.endpoint));
  t.after(() => sidecar.child.kill('SIGKILL'));
  await sidecar.waitFor(/"key":"job\/ortho.tif","part":1\b.*"msg":"part uploaded"/, 120_000);
  return { s3, bucket, dir, sidecar };
}

interface ManifestView { complete: boolean; endedBy: string; pending: string[]; files: { path: string }[] }

test('SIGTERM with an upload in flight and time to spare: it finishes, manifest complete, exit 0', { timeout: 180_000 }, async (t) => {
  const { s3, bucket, dir, sidecar } = await setup(t, 6 * MiB, '90s');
  const sent = Date.now();
  sidecar.child.kill('SIGTERM');
  const r = await sidecar.done;
  assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);
  assert.ok(Date.now() - sent < 90_000);
  assert.equal(sha256(await getBytes(s3, bucket, 'job/ortho.tif')), sha256(readFileSync(join(dir, 'ortho.tif'))));
  const m = JSON.parse((await getBytes(s3, bucket, 'job/_manifest.json')).toString()) as ManifestView;
  assert.equal(m.complete, true);
  assert.equal(m.endedBy, 'signal');
  assert.deepEqual(m.files.map((f) => f.path), ['ortho.tif', 'small.json']);
  assert.deepEqual(await incompleteUploads(s3, bucket), []);
});

test('SIGTERM with too short a grace period: the upload is aborted cleanly, the manifest lists it as pending, exit 4', { timeout: 180_000 }, async (t) => {
  const { s3, bucket, sidecar } = await setup(t, 1 * MiB, '4s');
  const sent = Date.now();
  sidecar.child.kill('SIGTERM');
  const r = await sidecar.done;
  const took = Date.now() - sent;
  assert.equal(r.code, 4, r.stdout.slice(-3000) + r.stderr);
  assert.ok(took < 4000 + 10_000, `exited ${took} ms after SIGTERM (grace 4 s)`);
  assert.ok(r.logs.some((l) => l.msg === 'deadline reached: aborting the uploads still in flight'));
  assert.deepEqual(await incompleteUploads(s3, bucket), [], 'no multipart upload left behind');
  const keys = [...(await listPrefix(s3, bucket, 'job/')).keys()].sort();
  assert.ok(!keys.includes('ortho.tif'));
  const m = JSON.parse((await getBytes(s3, bucket, 'job/_manifest.json')).toString()) as ManifestView;
  assert.equal(m.complete, false);
  assert.deepEqual(m.pending, ['ortho.tif']);
  assert.deepEqual(m.files.map((f) => f.path), ['small.json']);
});
