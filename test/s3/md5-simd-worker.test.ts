// SIDECAR_MD5=simd: WebAssembly SIMD MD5 on the worker thread, four bodies per pass
// (src/s3/md5/simd-worker.ts), the benchmark's alternative to node:crypto's, on the same shared
// blocks and queue. Its own file:
// the choice is read from the environment when an engine starts its worker.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';

process.env.SIDECAR_MD5 = 'simd';
const { Md5Engine } = await import('../../src/s3/md5/offload.js');
const engine = new Md5Engine();
const md5 = () => engine.md5();
const md5ReadBuffers = () => engine.readBuffers();

const expected = (chunks: Buffer[]) => chunks.reduce((h, c) => h.update(c), createHash('md5')).digest('hex');

test('the SIMD worker equals node:crypto inline, for pieces read into shared blocks, pieces copied in, many streams', async () => {
  const source = md5ReadBuffers();
  assert.ok(source, 'this machine has a second CPU, so MD5 runs on the worker');
  let lent = source.next(undefined);
  const streams = Array.from({ length: 20 }, () => ({ hash: md5(), chunks: [] as Buffer[] }));
  for (let round = 0; round < 20; round++) {
    for (const [i, s] of streams.entries()) {
      const data = randomBytes(1 + ((round * 7919 + i * 104729) % (256 * 1024)));
      s.chunks.push(data);
      if ((round + i) % 3 === 0) s.hash.update(data);
      else {
        data.copy(lent);
        s.hash.update(lent.subarray(0, data.length));
        lent = source.next(lent);
      }
    }
  }
  const dropped = md5();
  dropped.update(randomBytes(300 * 1024));
  dropped.drop();
  const empty = md5();
  const got = await Promise.all([...streams.map((s) => s.hash.digest()), empty.digest()]);
  assert.deepEqual(got, [...streams.map((s) => expected(s.chunks)), expected([])]);
  source.release(lent);
});

test('more streams than blocks: the event loop waits for the SIMD worker and nothing hangs', async () => {
  const streams = Array.from({ length: 300 }, (_, i) => ({ hash: md5(), data: randomBytes(100 * 1024 + i) }));
  for (const s of streams) s.hash.update(s.data);
  assert.deepEqual(await Promise.all(streams.map((s) => s.hash.digest())), streams.map((s) => expected([s.data])));
});
