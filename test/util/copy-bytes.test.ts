// copyBytes: the memcpy that replaces Buffer#copy where shared memory is involved (util/copy-bytes.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { copyBytes } from '../../src/util/copy-bytes.js';

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 255;
  return b;
}

test('copyBytes: out of and into shared memory at odd offsets, as much as fits, nothing around it touched', () => {
  const shared = Buffer.from(new SharedArrayBuffer(1 << 20));
  const src = pattern(70_000, 7);
  shared.fill(0xee);
  assert.equal(copyBytes(src.subarray(3, 3 + 65_536), shared, 333), 65_536, 'into shared memory');
  assert.ok(shared.subarray(333, 333 + 65_536).equals(src.subarray(3, 3 + 65_536)));
  assert.equal(shared[332], 0xee);
  assert.equal(shared[333 + 65_536], 0xee);

  const out = Buffer.alloc(65_540, 0xaa);
  assert.equal(copyBytes(shared.subarray(333, 333 + 65_536), out, 1), 65_536, 'out of shared memory');
  assert.ok(out.subarray(1, 65_537).equals(src.subarray(3, 3 + 65_536)));
  assert.deepEqual([out[0], out[65_537]], [0xaa, 0xaa]);

  const small = Buffer.alloc(10, 0);
  assert.equal(copyBytes(Buffer.from('abcdefghijklmnop'), small, 6), 4, 'only what fits');
  assert.equal(small.toString('latin1', 6), 'abcd');
  assert.equal(copyBytes(Buffer.alloc(0), small, 0), 0, 'an empty source copies nothing');
  assert.equal(copyBytes(Buffer.from('x'), small, 10), 0, 'no room at the end');
  assert.equal(small.toString('latin1', 6), 'abcd');
});
