// The journal (append-only, survives a cut-off last line, compacted on open, bound to one
// destination) and the stability tracker (size AND mtime, window restarts on change) on real files.
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Journal } from '../../src/upload/journal.js';
import { OutputTree } from '../../src/upload/output-tree.js';
import { OutputFilter } from '../../src/upload/filter.js';
import { StabilityTracker } from '../../src/upload/stability.js';
import { tmpDir } from './helpers/s3-check.js';


const entry = (size: number, mtimeNs: string) => ({ size, mtimeNs, crc32: 'AAAAAA==', etag: '"e"', at: new Date().toISOString() });

test('journal: records survive a reopen, a cut-off last line is ignored, removals stick, the file is compacted', async (t) => {
  const dir = tmpDir(t, 'upload-unit');
  const path = join(dir, 'state', 'journal.json');
  const j = await Journal.open(path, 'bucket', 'job/');
  await j.record('a.tif', entry(10, '1'));
  await j.record('b.tif', entry(20, '2'));
  await j.record('a.tif', entry(11, '3'));
  await j.remove('b.tif');
  await j.record('c.tif', entry(30, '4'));
  await j.close();
  assert.equal(statSync(path).mode & 0o777, 0o600);
  appendFileSync(path, '{"p":"d.tif","size":4'); // a crash in the middle of a write

  const again = await Journal.open(path, 'bucket', 'job/');
  assert.deepEqual(again.all().map(([p, e]) => [p, e.size, e.mtimeNs]), [['a.tif', 11, '3'], ['c.tif', 30, '4']]);
  assert.equal(again.header.startedAt, j.header.startedAt, 'the first start time survives restarts');
  await again.close();
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  assert.equal(lines.length, 3, 'compacted: header + one line per file');

  // another destination: the old records say nothing about it
  const other = await Journal.open(path, 'bucket', 'other-job/');
  assert.equal(other.size, 0);
  await other.close();
});

test('stability: ready only after size and mtime held still for the window; a same-size rewrite restarts it', async (t) => {
  const dir = tmpDir(t, 'upload-unit');
  const tree = new OutputTree(dir, new OutputFilter({ preset: 'none', include: [], exclude: [], ownFiles: [] }));
  const ready: { rel: string; at: number }[] = [];
  const tracker = new StabilityTracker({ windowMs: 600, stat: (rel) => tree.stat(rel), onStable: (rel) => ready.push({ rel, at: Date.now() }) });
  t.after(() => tracker.stop());

  const file = join(dir, 'ortho.tif');
  writeFileSync(file, Buffer.alloc(1000, 1));
  const t0 = Date.now();
  await tracker.touch('ortho.tif');
  await new Promise((r) => setTimeout(r, 300));
  // r+ edit: same size, new bytes, new mtime (set explicitly: coarse clocks must not hide it)
  writeFileSync(file, Buffer.alloc(1000, 2));
  utimesSync(file, new Date(), new Date(Date.now() + 5000));
  const tEdit = Date.now();
  // no event delivered on purpose: the check at the end of the window must notice by itself
  const until = Date.now() + 10_000;
  while (ready.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  assert.equal(ready.length, 1);
  assert.ok(ready[0]!.at - tEdit >= 550, `ready ${ready[0]!.at - tEdit} ms after the same-size rewrite (window 600 ms)`);
  assert.ok(ready[0]!.at - t0 >= 850);

  // settleNow (ODM stage line) hands a file over at once; a vanished file is forgotten
  writeFileSync(join(dir, 'dsm.tif'), 'x');
  await tracker.touch('dsm.tif');
  tracker.settleNow(['dsm.tif']);
  assert.equal(ready.at(-1)!.rel, 'dsm.tif');
  await tracker.touch('gone.tif');
  assert.equal(tracker.size, 0);
});
