// The writer at the end of a lean download on its own (no server needed: every download test
// runs it against the real one, but which piece sizes a socket delivers is up to the kernel).
// Here: small pieces gathered, large ones written where they lie after what was gathered (one
// writev), in every mix, at an offset inside a preallocated file as a byte range is written.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { OffsetWriter } from '../../src/download/offset-writer.js';
import { tempDir } from './helpers.js';

const KiB = 1024;

test('small and large pieces in any mix land in order at their offset, counted and hashed', async (t) => {
  const dir = await tempDir(t, 'offset-writer');
  // sizes a loopback socket or a TLS connection hands over: records, a few KiB, whole 256 KiB reads
  const mixes = [
    [16 * KiB, 16 * KiB, 256 * KiB, 3 * KiB, 64 * KiB, 63 * KiB, 200 * KiB, 1],
    [256 * KiB, 256 * KiB, 10 * KiB],
    Array.from({ length: 40 }, () => 16 * KiB),
    [1, 2, 3, 300 * KiB, 5],
  ];
  for (const [i, sizes] of mixes.entries()) {
    const pieces = sizes.map((n) => randomBytes(n));
    const body = Buffer.concat(pieces);
    const path = join(dir, `f${i}`);
    const fd = openSync(path, 'w+');
    const start = 1000;
    ftruncateSync(fd, start + body.length + 500);
    const hash = createHash('md5');
    let counted = 0;
    const w = new OffsetWriter(fd, start, { hash, onBytes: (n) => (counted += n) });
    for (const p of pieces) w.write(p);
    w.flush();
    closeSync(fd);
    const file = readFileSync(path);
    assert.ok(file.subarray(start, start + body.length).equals(body), `mix ${i}: bytes in order at the offset`);
    assert.ok(file.subarray(0, start).equals(Buffer.alloc(start)), `mix ${i}: nothing before the offset`);
    assert.ok(file.subarray(start + body.length).equals(Buffer.alloc(500)), `mix ${i}: nothing after the body`);
    assert.equal(w.bytes, body.length);
    assert.equal(counted, body.length);
    assert.equal(hash.digest('hex'), createHash('md5').update(body).digest('hex'));
  }
});
