// The lean signed PUT (src/s3/object-put.ts) against the real server: awkward keys sign and
// land byte-identical with their content type, the CRC32 checksum header is accepted (so is a
// signed payload, which RGW does verify), errors look like the SDK's and are not retried, and a
// session the server rejects as expired is refreshed once and the request retried.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config.js';
import type { CredentialHolder } from '../../src/credentials/types.js';
import { ObjectPutter } from '../../src/s3/object-put.js';
import { errorCode, httpStatus } from '../../src/s3/errors.js';
import { crc32Base64 } from '../../src/upload/file-upload.js';
import type { Lab } from '../helpers/lab.js';
import { expiringHolder, staticHolder } from '../helpers/holders.js';
import { getBytes, labFixture, sha256 } from '../upload/helpers/s3-check.js';

function putter(lab: Lab, holder: CredentialHolder, signPayload = false): ObjectPutter {
  const config = loadConfig('upload', ['--endpoint-url', lab.endpoint, '--region', lab.region], {});
  return new ObjectPutter(config, holder, { maxSockets: 4, socketTimeoutMs: 30_000, signPayload });
}

const body = (n: number, seed: string) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed.length * 7) & 0xff));

test('lean PUT: awkward keys land byte-identical, with the content type and an accepted CRC32 header', async (t) => {
  const { lab, s3: admin, bucket } = await labFixture(t, 'put-keys');
  const keys = ["a b+c%25d ü (1)!'*.jpg", '日本/語.txt', 'plus+plus/100%.tif', 'q?=&#;.bin', 'tilde~dot.../x', 'x'.repeat(200)];
  for (const signPayload of [false, true]) {
    const p = putter(lab, staticHolder(lab), signPayload);
    t.after(() => p.destroy());
    for (const [i, k] of keys.entries()) {
      const key = `${signPayload ? 'signed' : 'unsigned'}/${k}`;
      const data = body(1000 + i, k);
      const crc = crc32Base64(crc32(data));
      const r = await p.put({ bucket, key, body: data, contentType: 'image/tiff', crc32: crc });
      assert.match(r.etag!, /^"[0-9a-f]{32}"$/, key);
      if (r.crc32) assert.equal(r.crc32, crc, 'a store that reports the checksum reports ours');
      assert.equal(sha256(await getBytes(admin, bucket, key)), sha256(data), key);
      const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      assert.equal(head.ContentType, 'image/tiff');
      assert.equal(head.ETag, r.etag);
    }
  }
  // an empty file is a valid object too
  const p = putter(lab, staticHolder(lab));
  t.after(() => p.destroy());
  const empty = await p.put({ bucket, key: 'empty', body: Buffer.alloc(0), contentType: 'application/octet-stream', crc32: crc32Base64(0) });
  assert.equal(empty.etag, '"d41d8cd98f00b204e9800998ecf8427e"');
});

test('lean PUT: errors are shaped like the SDK\'s; a fatal one is not retried', async (t) => {
  const { lab } = await labFixture(t, 'put-err');
  const p = putter(lab, staticHolder(lab));
  t.after(() => p.destroy());
  const started = Date.now();
  const err = await p.put({ bucket: 'no-such-bucket-s3-sidecar', key: 'k', body: Buffer.from('x'), contentType: 'text/plain', crc32: crc32Base64(crc32(Buffer.from('x'))) })
    .then(() => undefined, (e: unknown) => e);
  assert.equal(httpStatus(err), 404);
  assert.equal(errorCode(err), 'NoSuchBucket');
  assert.ok(Date.now() - started < 10_000, 'no backoff spent on a fatal answer');
});

test('lean PUT: a session rejected as expired is refreshed once and the request retried', async (t) => {
  const { lab, s3: admin, bucket } = await labFixture(t, 'put-exp');
  const holder = expiringHolder(lab);
  const p = putter(lab, holder);
  t.after(() => p.destroy());
  const data = Buffer.from('fresh');
  await p.put({ bucket, key: 'k', body: data, contentType: 'text/plain', crc32: crc32Base64(crc32(data)) });
  assert.equal(holder.refreshes, 1);
  assert.equal((await getBytes(admin, bucket, 'k')).toString(), 'fresh');
});
