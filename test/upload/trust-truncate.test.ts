// A file truncated or rewritten during its multipart upload leaves no torn object: the upload is
// aborted before CompleteMultipartUpload (the descriptor's size, mtime and ctime moved on), and
// the file is sent again once it settles. At no moment does S3 hold a short or mixed object.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { FileChangedError, uploadFile, type UploadSettings } from '../../src/upload/file-upload.js';
import { startCli } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';
import { getBytes, incompleteUploads, labFixture, sha256, sidecarEnv } from './helpers/s3-check.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
import { uploadClients } from './helpers/upload-clients.js';

const MiB = 1024 * 1024;
const SETTINGS: UploadSettings = { partSize: 5 * MiB, maxParts: 10_000, multipartThreshold: 5 * MiB + 1, partConcurrency: 1, verify: 'multipart' };

for (const [what, change] of [
  ['rewritten in place (same size)', (fd: number) => writeSync(fd, randomBytes(MiB), 0, MiB, 2 * MiB)],
  ['truncated', (fd: number) => ftruncateSync(fd, 3 * MiB)],
] as const) {
  test(`a file ${what} after its first part went out: FileChangedError, no object, no incomplete upload`, { timeout: 120_000 }, async (t) => {
    const { lab, s3, bucket, dir } = await labFixture(t, 'trust-tear');
    const c = uploadClients(t, lab);
    const path = join(dir, 'ortho.tif');
    writeFileSync(path, randomBytes(17 * MiB));
    const { size, mtimeNs } = await import('node:fs/promises').then((fs) => fs.stat(path, { bigint: true }));
    const sig = { size: Number(size), mtimeNs: mtimeNs.toString() };
    let changed = false;
    const err = await uploadFile(c, { bucket, key: 'ortho.tif', path, size: sig.size, sig }, SETTINGS, {
      onPart: () => {
        if (changed) return;
        changed = true;
        const fd = openSync(path, 'r+');
        change(fd);
        closeSync(fd);
      },
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(changed);
    assert.ok(err instanceof FileChangedError, String(err));
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'ortho.tif' })), 'no object was made');
    assert.deepEqual(await incompleteUploads(s3, bucket), []);
  });
}

test('run: a file truncated during its multipart upload and written anew: S3 only ever holds the final file', { timeout: 180_000 }, async (t) => {
  const { lab, s3, bucket, dir } = await labFixture(t, 'trust-trunc');
  const proxy = await startTcpProxy(t, Number(new URL(lab.endpoint).port), 2 * MiB);
  const path = join(dir, 'dsm.tif');
  writeFileSync(path, randomBytes(20 * MiB));
  const sidecar = startCli([
    'run', '--output-dir', dir, '--output-prefix', `s3://${bucket}/job/`, '--stable-window', '500ms',
    '--part-size', '5MiB', '--multipart-threshold', '5MiB', '--part-concurrency', '1', '--log-level', 'debug',
    '--done-file', join(dir, 'DONE'),
  ], sidecarEnv(lab, {}, proxy.endpoint));
  t.after(() => sidecar.child.kill('SIGKILL'));

  // watch the object the whole time: every size it ever has
  const sizes = new Set<number>();
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'job/dsm.tif' })).catch(() => undefined);
      if (h?.ContentLength !== undefined) sizes.add(h.ContentLength);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  t.after(() => { watching = false; });

  await sidecar.waitFor(/"key":"job\/dsm.tif","part":1\b.*"msg":"part uploaded"/, 120_000);
  // GDAL-style: truncate, then write the final version (shorter)
  const fd = openSync(path, 'r+');
  ftruncateSync(fd, 0);
  closeSync(fd);
  await new Promise((r) => setTimeout(r, 300));
  const final = randomBytes(12 * MiB + 5);
  writeFileSync(path, final);
  proxy.rate = undefined;
  await until('the final version in S3', async () => sizes.has(final.length) || `sizes seen: ${[...sizes].join(', ')}`, 120_000, 200);
  writeFileSync(join(dir, 'DONE'), '0');
  const r = await sidecar.done;
  watching = false;
  await watcher;
  assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);
  assert.deepEqual([...sizes], [final.length], 'no short or torn object at any moment');
  assert.equal(sha256(await getBytes(s3, bucket, 'job/dsm.tif')), sha256(readFileSync(path)));
  assert.deepEqual(await incompleteUploads(s3, bucket), []);
});
