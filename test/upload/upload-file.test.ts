// One file to one key against the real server: single PutObject and multipart (multipart.ts):
// a file that fits in one part, the memory one upload holds, a file that shrinks, a real
// server-side part failure, and a cancel mid-upload; then the sweep of stranded uploads.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { crc32 } from 'node:zlib';
import { CreateMultipartUploadCommand, HeadObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config.js';
import { createS3Client } from '../../src/s3/sdk-client.js';
import { abortStrandedUploads, SELF } from '../../src/upload/stranded.js';
import { sendBodiesUnsigned } from '../../src/s3/unsigned-payload.js';
import { ObjectPutter } from '../../src/s3/object-put.js';
import { FileChangedError, uploadFile, type UploadClients, type UploadSettings } from '../../src/upload/file-upload.js';
import { multipartMemory } from '../../src/upload/multipart.js';
import { BufferPool } from '../../src/util/buffer-pool.js';
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

test('a file within one part goes as one PutObject; a multipart one holds at most concurrency + 1 part buffers, all from the pool and given back', async (t) => {
  const { lab, s3: admin, bucket } = await labFixture(t, 'mpmem');
  const c = sidecarClients(t, lab);
  const one = file(t, 7 * MiB);
  const o = await uploadFile(c, { bucket, key: 'one.bin', path: one.path, size: one.data.length }, { ...SETTINGS, partSize: 8 * MiB });
  assert.equal(o.parts, 0, 'one PutObject, no multipart upload');
  assert.equal(sha256(await getBytes(admin, bucket, 'one.bin')), sha256(one.data));

  // count what is in flight and what the pool lends while 9 parts go out 2 at a time
  let inFlight = 0;
  let maxInFlight = 0;
  let maxLent = 0;
  const pool = new BufferPool(64 * MiB);
  const take = pool.take.bind(pool);
  const give = pool.give.bind(pool);
  let lent = 0;
  pool.take = (n) => { maxLent = Math.max(maxLent, ++lent); return take(n); };
  pool.give = (b) => { lent--; give(b); };
  c.client.middlewareStack.add((next, ctx) => async (args) => {
    if (ctx.commandName !== UploadPartCommand.name) return next(args);
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    try {
      return await next(args);
    } finally {
      inFlight--;
    }
  }, { step: 'initialize', name: 'countParts' });
  const big = file(t, 42 * MiB + 5);
  const b = await uploadFile(c, { bucket, key: 'nine.bin', path: big.path, size: big.data.length }, SETTINGS, { buffers: pool });
  assert.equal(b.parts, 9);
  assert.equal(sha256(await getBytes(admin, bucket, 'nine.bin')), sha256(big.data));
  assert.equal(maxInFlight, 2, 'partConcurrency parts in flight');
  assert.equal(maxLent, 3, 'one buffer more than the parts in flight: the next part is read meanwhile');
  assert.equal(lent, 0, 'every buffer went back');
  assert.equal(multipartMemory(big.data.length, 5 * MiB, 2), 3 * 8 * MiB, 'what the uploader reserves: three buffers of the pool\'s 8 MiB class');
});

test('a file that shrinks mid-upload fails with FileChangedError and leaves no incomplete multipart upload', async (t) => {
  const { lab, s3: admin, bucket } = await labFixture(t, 'shrink');
  const c = sidecarClients(t, lab);
  const f = file(t, 12 * MiB);
  // we stat'ed 23 MiB; by the time it is read only 12 MiB are left (ODM truncated and rewrote it)
  const ended: string[] = [];
  let started = '';
  await assert.rejects(uploadFile(c, { bucket, key: 'shrunk.tif', path: f.path, size: 23 * MiB }, SETTINGS, {
    onStarted: async (id) => { started = id; },
    onEnded: (id) => ended.push(id),
  }), FileChangedError);
  assert.deepEqual(await incompleteUploads(admin, bucket), []);
  assert.deepEqual(ended, [started], 'the journal hears that the upload it was told of is no longer anyone\'s');
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
