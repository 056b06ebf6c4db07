// The job container is untrusted: it may swap a folder for a symlink to a secret outside the
// output dir, or a file for a FIFO, at any moment — after the sidecar stat'ed a file and while it
// waits out its stable window, or between that stat and the open. The secret never reaches S3,
// and a FIFO never blocks the sidecar.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { OutputFilter } from '../../src/upload/filter.js';
import { OutputTree } from '../../src/upload/output-tree.js';
import { LocalFileError, uploadFile, type UploadSettings } from '../../src/upload/file-upload.js';
import { startCli } from '../helpers/cli.js';
import { getBytes, incompleteUploads, labFixture, listPrefix, sidecarEnv, tmpDir } from './helpers/s3-check.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
import { uploadClients } from './helpers/upload-clients.js';

const MiB = 1024 * 1024;
const SETTINGS: UploadSettings = { partSize: 5 * MiB, maxParts: 10_000, multipartThreshold: 5 * MiB + 1, partConcurrency: 2, verify: 'multipart' };

/** A folder outside the output dir holding files named like the job's, full of a secret. */
function secretDir(t: TestContext, names: string[], secret: string): string {
  const dir = tmpDir(t, 'secret');
  for (const n of names) writeFileSync(join(dir, n), secret.repeat(1000));
  return dir;
}

/** Every object below the prefix, none containing the secret. */
async function assertNoSecret(s3: Parameters<typeof getBytes>[0], bucket: string, prefix: string, secret: string): Promise<string[]> {
  const keys = [...(await listPrefix(s3, bucket, prefix)).keys()];
  for (const k of keys) assert.ok(!(await getBytes(s3, bucket, prefix + k)).includes(secret), `the secret reached S3 as ${k}`);
  return keys.sort();
}

test('run: a folder swapped for a symlink to a secret while a file in it waits for its stable window; a file swapped for a FIFO', { timeout: 180_000 }, async (t) => {
  const { lab, s3, bucket, dir } = await labFixture(t, 'trust-swap');
  const secret = `SECRET-${randomBytes(12).toString('hex')}`;
  const outside = secretDir(t, ['report.txt', 'big.bin'], secret);
  mkdirSync(join(dir, 'd'));
  writeFileSync(join(dir, 'd', 'report.txt'), 'the real report\n');
  writeFileSync(join(dir, 'd', 'big.bin'), randomBytes(7 * MiB));
  writeFileSync(join(dir, 'pipe.bin'), 'soon a FIFO');
  writeFileSync(join(dir, 'ok.txt'), 'fine');

  const sidecar = startCli([
    'run', '--output-dir', dir, '--output-prefix', `s3://${bucket}/job/`, '--stable-window', '2s',
    '--part-size', '5MiB', '--multipart-threshold', '5MiB', '--done-file', join(dir, 'DONE'),
  ], sidecarEnv(lab));
  t.after(() => sidecar.child.kill('SIGKILL'));
  await sidecar.waitFor(/"msg":"watching /);
  // within the window: the folder becomes a symlink out of the dir, the file a FIFO
  renameSync(join(dir, 'd'), join(dir, 'd.old'));
  symlinkSync(outside, join(dir, 'd'));
  unlinkSync(join(dir, 'pipe.bin'));
  execFileSync('mkfifo', [join(dir, 'pipe.bin')]);
  // two more windows: whatever the sidecar would do with them, it has done
  await new Promise((r) => setTimeout(r, 5000));
  writeFileSync(join(dir, 'DONE'), '0');
  const r = await sidecar.done;
  assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);
  const keys = await assertNoSecret(s3, bucket, 'job/', secret);
  assert.deepEqual(keys, ['_manifest.json', 'd.old/big.bin', 'd.old/report.txt', 'ok.txt']);
  assert.equal((await getBytes(s3, bucket, 'job/d.old/report.txt')).toString(), 'the real report\n');
  assert.ok(!r.stdout.includes(secret));
});

test('between the stat and the open: a folder on the way, the root itself or the file swapped; nothing is read from outside, a FIFO never blocks', { timeout: 120_000 }, async (t) => {
  const { lab, s3, bucket } = await labFixture(t, 'trust-open');
  const c = uploadClients(t, lab);
  const secret = `SECRET-${randomBytes(12).toString('hex')}`;
  const outside = secretDir(t, ['small.txt', 'big.bin', 'top.txt'], secret);
  const base = tmpDir(t, 'trust-open');
  const root = join(base, 'out');
  mkdirSync(join(root, 'd'), { recursive: true });
  writeFileSync(join(root, 'd', 'small.txt'), 'x'.repeat(secret.length * 1000));
  writeFileSync(join(root, 'd', 'big.bin'), Buffer.alloc(6 * MiB)); // multipart
  writeFileSync(join(root, 'top.txt'), 'y'.repeat(secret.length * 1000));
  writeFileSync(join(root, 'fifo.bin'), 'z');
  const tree = new OutputTree(root, new OutputFilter({ preset: 'none', include: [], exclude: [], ownFiles: [] }));
  await tree.rootReal();
  t.after(() => tree.close());
  const seen = new Map<string, Awaited<ReturnType<OutputTree['stat']>>>();
  for (const rel of ['d/small.txt', 'd/big.bin', 'top.txt', 'fifo.bin']) seen.set(rel, await tree.stat(rel));

  const send = async (rel: string, settings = SETTINGS) => {
    const f = seen.get(rel)!;
    return uploadFile(c, { bucket, key: rel, path: f.path, size: f.sig.size, sig: f.sig, open: () => tree.open(f) }, settings)
      .then(() => undefined, (e: unknown) => e);
  };
  renameSync(join(root, 'd'), join(root, 'd.old'));
  symlinkSync(outside, join(root, 'd'));
  for (const rel of ['d/small.txt', 'd/big.bin']) {
    const err = await send(rel, { ...SETTINGS, multipartThreshold: rel.endsWith('.bin') ? 1 : SETTINGS.multipartThreshold });
    assert.ok(err instanceof LocalFileError && err.swapped, `${rel}: ${String(err)}`);
  }
  assert.equal(await tree.stat('d/small.txt'), undefined, 'a folder on the way became a symlink: no candidate');

  unlinkSync(join(root, 'fifo.bin'));
  execFileSync('mkfifo', [join(root, 'fifo.bin')]);
  const started = Date.now();
  const fifoErr = await send('fifo.bin');
  assert.ok(fifoErr instanceof LocalFileError && fifoErr.code === 'ENOTREG', String(fifoErr));
  assert.ok(Date.now() - started < 5000, 'the FIFO did not block');

  // the output dir itself replaced by a symlink to the secret folder
  renameSync(root, join(base, 'out.old'));
  symlinkSync(outside, root);
  const rootErr = await send('top.txt');
  assert.ok(rootErr instanceof LocalFileError && rootErr.code === 'ESTALE', String(rootErr));
  rmSync(root);

  assert.deepEqual(await assertNoSecret(s3, bucket, '', secret), []);
  assert.deepEqual(await incompleteUploads(s3, bucket), []);
});

test('upload: a folder swapped for a symlink while its files wait in the queue; the multipart reads never follow it', { timeout: 180_000 }, async (t) => {
  const { lab, s3, bucket, dir } = await labFixture(t, 'trust-queue');
  const secret = `SECRET-${randomBytes(12).toString('hex')}`;
  const names = ['f0.bin', 'f1.bin', 'f2.bin', 'f3.bin'];
  const outside = tmpDir(t, 'secret');
  // larger than the real files: a read of the stat'ed size through the symlink would fill up
  for (const n of names) writeFileSync(join(outside, n), Buffer.alloc(8 * MiB, secret));
  mkdirSync(join(dir, 'd'));
  for (const n of names) writeFileSync(join(dir, 'd', n), randomBytes(6 * MiB));
  const proxy = await startTcpProxy(t, Number(new URL(lab.endpoint).port), 4 * MiB);
  const sidecar = startCli([
    'upload', '--output-dir', dir, '--output-prefix', `s3://${bucket}/job/`, '--upload-concurrency', '1',
    '--part-size', '5MiB', '--multipart-threshold', '5MiB', '--part-concurrency', '1',
  ], sidecarEnv(lab, {}, proxy.endpoint));
  t.after(() => sidecar.child.kill('SIGKILL'));
  // the first file landed, the others wait their turn: now the folder leads out of the dir
  await sidecar.waitFor(/"key":"job\/d\/f\d\.bin".*"msg":"uploaded"/, 120_000);
  renameSync(join(dir, 'd'), join(dir, 'd.old'));
  symlinkSync(outside, join(dir, 'd'));
  proxy.rate = undefined;
  const r = await sidecar.done;
  assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);
  const keys = await assertNoSecret(s3, bucket, 'job/', secret);
  assert.equal(keys.filter((k) => k.startsWith('d/')).length, 1, `only the file sent before the swap: ${keys.join(', ')}`);
  // not even for a while (an object deleted again at the end would still have leaked)
  const sent = r.logs.filter((l) => l.msg === 'uploaded' && String(l.key).startsWith('job/d/'));
  assert.deepEqual(sent.map((l) => l.bytes), [6 * MiB], 'only the file sent before the swap, with its own bytes');
  // refused at the stat (a folder on the way is a symlink) or at the open (BeneathOpener)
  assert.ok(r.logs.some((l) => /^(not uploading: a symlink|a folder on the way to this file is a symlink)/.test(String(l.msg))), r.stdout.slice(-3000));
  assert.deepEqual(await incompleteUploads(s3, bucket), []);
});
