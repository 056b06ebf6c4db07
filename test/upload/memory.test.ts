// The two pieces that bound upload memory: the byte budget (uploads wait, in order, for room)
// and the buffer pool (small-file bodies are reused, in-use + idle stay within the limit).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool } from '../../src/util/buffer-pool.js';
import { ByteBudget } from '../../src/upload/byte-budget.js';

const MiB = 1024 * 1024;

test('byte budget: holders wait in order for room; a request above the whole budget runs alone', async () => {
  const b = new ByteBudget(10 * MiB);
  const order: string[] = [];
  const r1 = await b.acquire(6 * MiB);
  const p2 = b.acquire(6 * MiB).then((r) => { order.push('second'); return r; });
  const p3 = b.acquire(1 * MiB).then((r) => { order.push('third'); return r; });
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(order, [], 'FIFO: the small one does not overtake the waiting big one');
  r1();
  const [r2, r3] = await Promise.all([p2, p3]);
  assert.deepEqual(order, ['second', 'third']);
  r2();
  r3();
  r3(); // a double release is harmless
  const huge = await b.acquire(50 * MiB);
  const next = b.acquire(1);
  let got = false;
  void next.then(() => (got = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(got, false);
  huge();
  (await next)();
});

test('buffer pool: power-of-two classes from 64 KiB, reused, idle + in use within the limit', () => {
  assert.equal(BufferPool.capacityFor(0), 64 * 1024);
  assert.equal(BufferPool.capacityFor(4 * MiB), 4 * MiB);
  assert.equal(BufferPool.capacityFor(4 * MiB + 1), 8 * MiB);
  const pool = new BufferPool(16 * MiB);
  const a = pool.take(3 * MiB);
  assert.equal(a.length, 4 * MiB);
  pool.give(a);
  assert.equal(pool.take(4 * MiB), a, 'the same buffer comes back');
  pool.give(a);
  const bs = [pool.take(4 * MiB), pool.take(4 * MiB), pool.take(4 * MiB), pool.take(4 * MiB)];
  for (const b of bs) pool.give(b);
  assert.equal(pool.idleTotal, 16 * MiB);
  // the sizes change: idle buffers of the old size make room
  const small = pool.take(100);
  assert.ok(pool.idleTotal + small.length <= 16 * MiB);
  pool.give(small);
  assert.ok(pool.idleTotal <= 16 * MiB);
});
