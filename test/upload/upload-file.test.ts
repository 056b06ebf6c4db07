// One file to one key against the real server: single PutObject and lib-storage multipart, the
// pinned lib-storage's fixes (fs streams larger than partSize: aws-sdk-js-v3#7382; no stranded
// parts after a failed upload: #8299), a real server-side part failure, and a cancel mid-upload.
import assert from 'node:assert/strict';
import { createReadStream, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { crc32 } from 'node:zlib';
import { CreateMultipartUploadCommand, HeadObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { loadConfig } from '../../src/config.js';
import { createS3Client } from '../../src/s3/sdk-client.js';
import { abortStrandedUploads, SELF } from '../../src/upload/stranded.js';
import { sendBodiesUnsigned } from '../../src/s3/unsigned-payload.js';
import { ObjectPutter } from '../../src/s3/object-put.js';
import { FileChangedError, uploadFile, type UploadClients, type UploadSettings } from '../../src/upload/file-upload.js';
import type { Lab } from '../helpers/lab.js';
import { staticHolder } from '../helpers/holders.js';
import { getBytes, incompleteUploads, labFixture, sha256, tmpDir } from './helpers/s3-check.js';

const MiB = 1024 * 1024;
const SETTINGS: UploadSettings = { partSize: 5 * MiB, maxParts: 10_000, multipartThreshold: 5 * MiB + 1, partConcurrency: 2, verify: 'multipart' };

/** The SDK client (multipart, HeadObject) and the lean putter (small files), as the output session builds them. */
function sidecarClients(t: TestContext, lab: Lab): UploadClients {
  const config = loadConfig('upload', ['--endpoint-url', lab.endpoint, '--region', lab.region], {});
  const client = createS3Client(config, staticHolder(lab), { maxSockets: 8 });
  sendBodiesUnsigned(client);
  const putter = new ObjectPutter(config, staticHolder(lab), { maxSockets: 8, socketTimeoutMs: 30_000, signPayload: false });
  t.after(() => { client.destroy(); putter.destroy(); });
  return { client, putter };
}

function file(t: TestContext, bytes: number): { path: string; data: Buffer } {
  const dir = tmpDir(t, 'upload-file');
  const data = randomBytes(bytes);
  const path = join(dir, 'f.bin');
  writeFileSync(path, data);
  return { path, data };
}

const crcB64 = (b: Buffer) => { const o = Buffer.alloc(4); o.writeUInt32BE(crc32(b)); return o.toString('base64'); };

test('small file: one PutObject with our CRC32; large file: multipart, verified by HeadObject, bytes identical', async (t) => {
  const { lab, s3: admin, bucket } = await labFixture(t, 'upfile');
  const c = sidecarClients(t, lab);

  const small = file(t, 300 * 1024);
  const s = await uploadFile(c, { bucket, key: 'small.bin', path: small.path, size: small.data.length }, SETTINGS);
  assert.equal(s.parts, 0);
  assert.equal(s.crc32, crcB64(small.data));
  assert.equal(sha256(await getBytes(admin, bucket, 'small.bin')), sha256(small.data));

  const big = file(t, 23 * MiB + 123);
  const b = await uploadFile(c, { bucket, key: 'dir/big.tif', path: big.path, size: big.data.length }, SETTINGS);
  assert.equal(b.parts, 5);
  assert.match(b.etag, /-5"$/, 'the ETag from HeadObject, not the empty one RGW returns from Complete');
  assert.equal(b.crc32, crcB64(big.data));
  assert.equal(sha256(await getBytes(admin, bucket, 'dir/big.tif')), sha256(big.data));
  const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: 'dir/big.tif' }));
  assert.equal(head.ContentType, 'image/tiff');
  assert.deepEqual(await incompleteUploads(admin, bucket), []);
});

test('lib-storage #7382: an fs.createReadStream body larger than partSize uploads whole', async (t) => {
  const { s3: admin, bucket } = await labFixture(t, 'ls7382');
  const f = file(t, 17 * MiB + 7);
  // the raw stream, no ContentLength: lib-storage must size it from the file (statSync of .path)
  await new Upload({ client: admin, params: { Bucket: bucket, Key: 'raw.bin', Body: createReadStream(f.path) }, partSize: 5 * MiB, queueSize: 2 }).done();
  assert.equal(sha256(await getBytes(admin, bucket, 'raw.bin')), sha256(f.data));
});

test('lib-storage #8299: a file that shrinks mid-upload (part-count check fails) leaves no incomplete multipart upload', async (t) => {
  const { lab, s3: admin, bucket } = await labFixture(t, 'ls8299');
  const c = sidecarClients(t, lab);
  const f = file(t, 12 * MiB);
  // we stat'ed 23 MiB; by the time it is read only 12 MiB are left (ODM truncated and rewrote it)
  await assert.rejects(uploadFile(c, { bucket, key: 'shrunk.tif', path: f.path, size: 23 * MiB }, SETTINGS), FileChangedError);
  assert.deepEqual(await incompleteUploads(admin, bucket), []);
});

test('a part the server rejects fails the upload, and the multipart upload is aborted', async (t) => {
  const { lab, s3: admin, bucket } = await labFixture(t, 'badpart');
  const c = sidecarClients(t, lab);
  // Not a mock: part 3 goes out with a wrong Content-MD5, and the real server refuses it (BadDigest).
  c.client.middlewareStack.add((next, ctx) => async (args) => {
    const input = args.input as { PartNumber?: number };
    if (ctx.commandName === UploadPartCommand.name && input.PartNumber === 3) {
      (args.request as { headers: Record<string, string> }).headers['content-md5'] = 'AAAAAAAAAAAAAAAAAAAAAA==';
    }
    return next(args);
  }, { step: 'build', name: 'corruptPart3' });
  const f = file(t, 16 * MiB);
  const err = await uploadFile(c, { bucket, key: 'bad.bin', path: f.path, size: f.data.length }, SETTINGS).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof Error, 'the upload failed');
  assert.equal((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, 400);
  assert.deepEqual(await incompleteUploads(admin, bucket), []);
});

test('cancel mid-upload: parts in flight are cut, the multipart upload is aborted, nothing is left', async (t) => {
  const { lab, s3: admin, bucket } = await labFixture(t, 'cancel');
  const c = sidecarClients(t, lab);
  const f = file(t, 40 * MiB);
  const ac = new AbortController();
  let parts = 0;
  const err = await uploadFile(c, { bucket, key: 'cancelled.bin', path: f.path, size: f.data.length }, { ...SETTINGS, partConcurrency: 1 }, {
    signal: ac.signal,
    onPart: () => { if (++parts === 1) ac.abort(new Error('file changed')); },
  }).then(() => undefined, (e: unknown) => e);
  assert.match(String(err), /file changed/);
  assert.deepEqual(await incompleteUploads(admin, bucket), []);
  await assert.rejects(admin.send(new HeadObjectCommand({ Bucket: bucket, Key: 'cancelled.bin' })));
});

test('the sweep aborts uploads its journal shows stranded, or old ones; never a fresh one a live peer may be sending', async (t) => {
  const { lab, s3: admin, bucket } = await labFixture(t, 'sweep');
  const start = (Key: string) => admin.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key })).then((r) => r.UploadId!);
  const ours = await start('job/left-behind.tif');
  const deadPeer = await start('job/dead-peer.tif');
  await start('job/live-peer.tif');
  await start('other-job/not-ours.tif');
  const journaled = new Map([
    [ours, { key: 'job/left-behind.tif', owner: SELF }],
    // a process of this host that no longer exists (pid far above any pid_max)
    [deadPeer, { key: 'job/dead-peer.tif', owner: `${SELF.split('/')[0]}/4999999/0000` }],
  ]);
  const gone: string[] = [];
  const c = sidecarClients(t, lab);
  const policy = { journaled, maxAgeMs: 3_600_000, onGone: (id: string) => gone.push(id) };
  assert.equal(await abortStrandedUploads(c.client, bucket, 'job/', policy), 2);
  assert.deepEqual((await incompleteUploads(admin, bucket)).sort(), ['job/live-peer.tif', 'other-job/not-ours.tif']);
  assert.deepEqual(gone.sort(), [ours, deadPeer].sort());
  // an hour later, nobody's journal vouches for the rest: stranded by age
  assert.equal(await abortStrandedUploads(c.client, bucket, 'job/', { ...policy, now: Date.now() + 3_600_001 }), 1);
  assert.deepEqual(await incompleteUploads(admin, bucket), ['other-job/not-ours.tif']);
  await abortStrandedUploads(c.client, bucket, 'other-job/', { journaled: new Map(), maxAgeMs: -1 });
});
