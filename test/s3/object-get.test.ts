// The lean signed GET (src/s3/object-get.ts) against the real server: awkward keys sign
// and fetch correctly, bodies arrive piece by piece, ranges and If-Match work, errors look like
// the SDK's, and a session the server rejects as expired is refreshed once and the request retried.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorCode, httpStatus } from '../../src/s3/errors.js';
import { classify } from '../../src/s3/classify.js';
import { bytes, labBucket, labGetter, seed } from '../download/helpers.js';
import { expiringHolder, staticHolder } from '../helpers/holders.js';


test('lean GET: awkward keys, ranges, If-Match and SDK-shaped errors', async (t) => {
  const { lab, bucket, s3 } = await labBucket(t, 'dl-get');
  const keys = ["a b+c%25d ü (1)!'*.jpg", '日本/語.txt', 'x'.repeat(200), 'q?=&#.bin', 'tilde~dot.../x'];
  const objects = Object.fromEntries(keys.map((k, i) => [k, bytes(1000 + i, k)]));
  await seed(s3, bucket, objects);
  const g = labGetter(t, lab, staticHolder(lab));
  const signal = new AbortController().signal;
  for (const k of keys) {
    const r = await g.get({ bucket, key: k }, () => 'collect', signal);
    assert.deepEqual(r.body!, objects[k], k);
    assert.equal(r.contentLength, objects[k]!.length);
    assert.match(r.etag!, /^"[0-9a-f]{32}"$/);
  }
  // a body of many reads, handed over piece by piece (in a buffer reused after each call)
  const big = bytes(3 * 1024 * 1024 + 5, 'big');
  await seed(s3, bucket, { big });
  const pieces: Buffer[] = [];
  const r = await g.get({ bucket, key: 'big' }, (h) => {
    assert.equal(h.contentLength, big.length);
    return (p) => { pieces.push(Buffer.from(p)); };
  }, signal);
  assert.equal(r.body, undefined, 'nothing collected when a handler takes the body');
  assert.ok(pieces.length > 1, `pieces: ${pieces.length}`);
  assert.deepEqual(Buffer.concat(pieces), big);

  const k = keys[0]!;
  const whole = await g.get({ bucket, key: k }, () => 'collect', signal);
  const part = await g.get({ bucket, key: k, range: 'bytes=10-19', ifMatch: whole.etag }, () => 'collect', signal);
  assert.equal(part.contentRange, `bytes 10-19/${objects[k]!.length}`);
  assert.deepEqual(part.body!, objects[k]!.subarray(10, 20));

  const changed = await g.get({ bucket, key: k, range: 'bytes=0-1', ifMatch: '"00000000000000000000000000000000"' }, () => 'collect', signal).catch((e: unknown) => e);
  assert.equal(httpStatus(changed), 412);
  assert.equal(classify(changed).action, 'retry', 'a changed object is fetched again');
  const missing = await g.get({ bucket, key: 'nope' }, () => 'collect', signal).catch((e: unknown) => e);
  assert.equal(httpStatus(missing), 404);
  assert.equal(errorCode(missing), 'NoSuchKey');
  assert.equal(classify(missing).action, 'fatal');
});

test('lean GET: a session rejected as expired is refreshed once and the request retried', async (t) => {
  const { lab, bucket, s3 } = await labBucket(t, 'dl-get-exp');
  await seed(s3, bucket, { k: 'fresh' });
  // the held credentials are at the end of their life (and the server refuses them: 403)
  const holder = expiringHolder(lab);
  const g = labGetter(t, lab, holder);
  const r = await g.get({ bucket, key: 'k' }, () => 'collect', new AbortController().signal);
  assert.equal(r.body!.toString(), 'fresh');
  assert.equal(holder.refreshes, 1);
});

test('lean GET: a client clock far off the server is corrected from the server\'s answer', async (t) => {
  const { lab, bucket, s3 } = await labBucket(t, 'dl-get-skew');
  await seed(s3, bucket, { k: 'on time' });
  const g = labGetter(t, lab, staticHolder(lab));
  // our clock says two hours ago (only Date is faked; the network and timers are real)
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() - 2 * 3600_000 });
  const r = await g.get({ bucket, key: 'k' }, () => 'collect', new AbortController().signal);
  assert.equal(r.body!.toString(), 'on time');
});
