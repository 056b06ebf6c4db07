// The S3 server becomes unreachable for 35 s in the middle of a run (a multipart upload in
// flight, new products arriving while it is down): uploads retry with backoff, resume when it
// is back, and the job finishes complete with nothing stranded. The outage is a TCP proxy in
// front of the shared lab that closes its port and resets every connection, which is what a
// stopped server looks like to a client (stopping the shared lab itself would break other tests
// and, with its in-memory store, lose the data).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startCli } from '../helpers/cli.js';
import { incompleteUploads, labFixture, listPrefix, localFiles, mirrorDiff, sidecarEnv } from './helpers/s3-check.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
import { until } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const OUTAGE_MS = 35_000;

test('S3 unreachable for 35 s mid-run: uploads retry, resume and finish; nothing stranded', { timeout: 300_000 }, async (t) => {
  const { lab, s3, bucket, dir } = await labFixture(t, 'outage');
  const proxy = await startTcpProxy(t, Number(new URL(lab.endpoint).port), 4 * MiB);
  const prefix = 'job/';

  const sidecar = startCli([
    'run', '--output-dir', dir, '--output-prefix', `s3://${bucket}/${prefix}`, '--stable-window', '300ms',
    '--part-size', '5MiB', '--multipart-threshold', '5MiB', '--part-concurrency', '2', '--log-level', 'debug',
    '--done-file', join(dir, 'DONE'),
  ], sidecarEnv(lab, {}, proxy.endpoint));
  t.after(() => sidecar.child.kill('SIGKILL'));
  await sidecar.waitFor(/"msg":"watching /);

  writeFileSync(join(dir, 'early.json'), JSON.stringify({ stage: 'dataset' }));
  writeFileSync(join(dir, 'dsm.tif'), randomBytes(30 * MiB));
  await sidecar.waitFor(/"key":"job\/dsm.tif","part":1\b.*"msg":"part uploaded"/, 120_000);

  // The server goes away with the DSM half sent; more products arrive while it is gone.
  await proxy.cut();
  const cutAt = Date.now();
  writeFileSync(join(dir, 'report.pdf'), randomBytes(700 * 1024));
  writeFileSync(join(dir, 'ortho.tif'), randomBytes(12 * MiB));
  await sidecar.waitFor(/"msg":"upload failed; retrying"/, 60_000);
  await new Promise((r) => setTimeout(r, OUTAGE_MS - (Date.now() - cutAt)));
  const keysDuring = await listPrefix(s3, bucket, prefix);
  assert.ok(!keysDuring.has('report.pdf') && !keysDuring.has('ortho.tif'), 'nothing got through while it was down');
  proxy.rate = undefined;
  await proxy.restore();

  const all = localFiles(dir, (rel) => !rel.startsWith('.s3-sidecar/'));
  await until('uploads to resume and finish', async () => {
    const d = await mirrorDiff(s3, bucket, prefix, dir, all);
    return d.length === 0 || d.join('; ');
  }, 180_000, 1000);
  writeFileSync(join(dir, 'DONE'), '');
  const r = await sidecar.done;
  assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);
  assert.deepEqual(await mirrorDiff(s3, bucket, prefix, dir, all), []);
  assert.deepEqual(await incompleteUploads(s3, bucket, prefix), []);
  const retried = r.logs.filter((l) => l.msg === 'upload failed; retrying');
  assert.ok(retried.length >= 2, `retries logged: ${retried.length}`);
  assert.ok(r.logs.every((l) => l.msg !== 'upload failed'), 'no file given up on');
  const uploadedAfter = r.logs.filter((l) => l.msg === 'uploaded' && Number(l.retries) > 0).map((l) => l.key);
  assert.ok(uploadedAfter.includes(`${prefix}dsm.tif`), 'the interrupted multipart upload was redone');
});
