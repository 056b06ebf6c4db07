// MD5 on the worker thread (src/s3/md5/, node:crypto's by default), against node:crypto inline
// on the same bytes. No server needed: the download tests run it against the real one for every
// object between 1 MiB and the range threshold (verify.test.ts corrupts one). Here: what a
// download rarely produces on demand — pieces of any length (so bytes are carried between pieces
// and every padding case comes up), pieces read into the shared blocks and pieces copied in mixed
// in one stream, many streams interleaved, more streams than blocks (the event loop waits for the
// worker, and must not deadlock), a stream dropped half-way, an empty stream, a dead worker.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Md5Engine } from '../../src/s3/md5/offload.js';

const expected = (chunks: Buffer[]) => chunks.reduce((h, c) => h.update(c), createHash('md5')).digest('hex');

test('the worker-side MD5 equals node:crypto for pieces read into shared blocks and pieces copied in', async () => {
  const engine = new Md5Engine();
  const source = engine.readBuffers();
  assert.ok(source, 'this machine has a second CPU, so MD5 runs on the worker');
  // a socket as http1.ts drives it: read into the lent buffer, hand the piece over, ask for the next buffer
  let lent = source.next(undefined);
  const read = (data: Buffer): Buffer => {
    data.copy(lent);
    return lent.subarray(0, data.length);
  };
  const streams = Array.from({ length: 40 }, () => ({ hash: engine.md5(), chunks: [] as Buffer[] }));
  for (let round = 0; round < 30; round++) {
    for (const [i, s] of streams.entries()) {
      const data = randomBytes(1 + ((round * 7919 + i * 104729) % (256 * 1024)));
      s.chunks.push(data);
      if ((round + i) % 3 === 0) {
        s.hash.update(data); // from elsewhere (TLS): copied into a block
      } else {
        s.hash.update(read(data));
        // the worker may still be hashing that block: the next read must go to another one (if it
        // did not, the next piece would overwrite these bytes and the digest would differ)
        lent = source.next(lent);
      }
    }
  }
  const got = await Promise.all(streams.map((s) => s.hash.digest()));
  assert.deepEqual(got, streams.map((s) => expected(s.chunks)));
  source.release(lent);
});

test('more streams than blocks, a dropped stream and an empty one: digests still right, nothing hangs', async () => {
  const engine = new Md5Engine();
  // 300 streams × a part-filled 100 KiB copy block each: far more than the shared blocks, so
  // taking a block must send others' part-filled blocks to the worker instead of waiting forever
  const streams = Array.from({ length: 300 }, (_, i) => ({ hash: engine.md5(), data: randomBytes(100 * 1024 + i) }));
  for (const s of streams) s.hash.update(s.data);
  const dropped = engine.md5();
  dropped.update(randomBytes(300 * 1024));
  dropped.drop();
  const empty = engine.md5();
  const got = await Promise.all([...streams.map((s) => s.hash.digest()), empty.digest()]);
  assert.deepEqual(got, [...streams.map((s) => expected([s.data])), expected([])]);
});

test('a worker that dies fails the digests in flight, and MD5 goes back inline for that engine only', async () => {
  const engine = new Md5Engine();
  const inFlight = engine.md5();
  inFlight.update(randomBytes(100 * 1024));
  await engine.terminate();
  // the worker's exit reaches the event loop as an event
  await new Promise((resolve) => setImmediate(resolve));
  await assert.rejects(async () => inFlight.digest(), /MD5 worker exited/);
  assert.equal(engine.readBuffers(), undefined, 'new connections read into their own buffers');
  const data = randomBytes(300 * 1024);
  const after = engine.md5();
  after.update(data);
  assert.equal(await after.digest(), expected([data]));
  const next = new Md5Engine();
  assert.ok(next.readBuffers(), 'the next run (a new engine) has its worker again');
  const hash = next.md5();
  hash.update(data);
  assert.equal(await hash.digest(), expected([data]));
});
