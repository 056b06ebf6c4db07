// A damaged transfer is detected and fetched again: a flipped byte (MD5 of a plain ETag: a small
// object hashed on the event loop, a streamed one hashed on the MD5 worker), a body cut short
// (length), a 503 SlowDown, a corrupted byte range of a large object (whole-file MD5).
// The damage comes from test/download/fault-proxy.ts in front of the real server.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { startFaultProxy } from './fault-proxy.js';
import { bytes, download, explain, files, labBucket, seed, sha256, summary, tempDir, tree } from './helpers.js';

const get = (key: string, ranged?: boolean) => (req: IncomingMessage) =>
  req.method === 'GET' && (req.url ?? '').split('?')[0]!.endsWith(`/${key}`) && (ranged === undefined || Boolean(req.headers.range) === ranged);

test('corrupt, short and throttled transfers are detected and retried; the result is byte-for-byte right', async (t) => {
  const { lab, bucket, s3 } = await labBucket(t, 'dl-verify');
  const objects = {
    'job/corrupt.bin': bytes(200_000, 'c'),
    'job/short.bin': bytes(200_000, 's'),
    'job/slow.bin': bytes(50_000, 'w'),
    'job/streamed.bin': bytes(2_500_000, 'm'),
    'job/big.bin': bytes(5_000_000, 'big'),
    'job/fine.bin': bytes(10_000, 'f'),
  };
  await seed(s3, bucket, objects);
  const proxy = await startFaultProxy(lab.endpoint, [
    { kind: 'corrupt', match: get('corrupt.bin'), times: 1 },
    { kind: 'corrupt', match: get('streamed.bin'), times: 1 },
    { kind: 'truncate', match: get('short.bin'), times: 1 },
    { kind: 'slowdown', match: get('slow.bin'), times: 2 },
    // one range of the large object: only the whole-file MD5 can see it
    { kind: 'corrupt', match: get('big.bin', true), times: 1 },
  ]);
  t.after(() => proxy.close());

  const dir = join(await tempDir(t), 'in');
  const r = await download(lab, ['--input-prefix', `s3://${bucket}/job/`, '--input-dir', dir, '--endpoint-url', proxy.url,
    '--range-threshold', '4MiB', '--range-size', '1MiB', '--download-concurrency', '4']);
  assert.equal(r.code, 0, explain(r));
  assert.deepEqual(proxy.hits, { corrupt: 3, truncate: 1, slowdown: 2, stall: 0 });
  const want = Object.fromEntries(Object.entries(objects).map(([k, v]) => [k.slice(4), sha256(v)]).sort(([a], [b]) => (a! < b! ? -1 : 1)));
  assert.deepEqual(await files(dir), want);
  assert.equal(summary(r).failed, 0);

  // every retry is logged at warn with the object and the reason
  const retries = r.logs.filter((l) => l.level === 'warn' && typeof l.what === 'string').map((l) => `${l.what}: ${l.reason}`);
  assert.ok(retries.some((x) => /^corrupt\.bin: MD5 mismatch/.test(x.replace('job/', ''))), retries.join('\n'));
  assert.ok(retries.some((x) => /^job\/streamed\.bin: MD5 mismatch: body hashes/.test(x)), retries.join('\n'));
  assert.ok(retries.some((x) => /^job\/short\.bin: (ECONNRESET|aborted|short body|.*premature)/i.test(x)), retries.join('\n'));
  assert.ok(retries.some((x) => /^job\/slow\.bin: 503 SlowDown/.test(x)), retries.join('\n'));
  assert.ok(retries.some((x) => /^job\/big\.bin: MD5 mismatch: file hashes/.test(x)), retries.join('\n'));
});

test('a body that stays corrupt fails that object after the retries, with the reason; nothing partial is left', async (t) => {
  const { lab, bucket, s3 } = await labBucket(t, 'dl-verify2');
  await seed(s3, bucket, { 'job/bad.bin': bytes(100_000, 'bad'), 'job/good.bin': bytes(100_000, 'good') });
  const proxy = await startFaultProxy(lab.endpoint, [{ kind: 'corrupt', match: get('bad.bin'), times: Infinity }]);
  t.after(() => proxy.close());
  const dir = join(await tempDir(t), 'in');
  const r = await download(lab, ['--input-prefix', `s3://${bucket}/job/`, '--input-dir', dir, '--endpoint-url', proxy.url, '--download-retries', '2']);
  assert.equal(r.code, 1, explain(r));
  assert.equal(proxy.hits.corrupt, 3, 'one try and two retries');
  assert.deepEqual([...(await tree(dir, false)).keys()], ['good.bin']);
  const s = summary(r);
  assert.equal(s.failed, 1);
  assert.match(String(s.msg), /download FAILED \(1 failed: 1× MD5 mismatch/);
});
