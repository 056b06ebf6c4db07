// Kill -9 half way, run again: the run finishes, no duplicate or partial file is left, files that
// were complete are not fetched again (same inode and mtime, counted as skipped), and the large
// object resumes from its range journal with Range requests for the missing ranges only.
// "Half way" is made deterministic by the fault proxy: it lets the first half through and holds
// the rest unanswered, so the kill always lands at the same point.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { startCli } from '../helpers/cli.js';
import { startFaultProxy } from './fault-proxy.js';
import { bytes, dlEnv, download, explain, files, labBucket, seed, sha256, summary, tempDir, tree } from './helpers.js';
import { until } from '../helpers/wait.js';
import { partPath } from '../../src/download/part-file.js';

const SMALL = 16 * 1024;
const BIG = 2 * 1024 * 1024;
const RANGE = 128 * 1024;

const path = (req: IncomingMessage) => decodeURIComponent((req.url ?? '').split('?')[0]!);
/** second half of the small files (f100..f199) */
const lateSmall = (req: IncomingMessage) => req.method === 'GET' && /\/job\/f1\d\d\.bin$/.test(path(req));
/** ranges of the large object from 1 MiB on */
const lateRange = (req: IncomingMessage) => req.method === 'GET' && path(req).endsWith('/job/a-big.bin') &&
  Number(/^bytes=(\d+)-/.exec(String(req.headers.range ?? ''))?.[1] ?? -1) >= BIG / 2;

test('kill -9 half way, then re-run: finishes, complete files untouched, the large object resumes', async (t) => {
  const { lab, bucket, s3 } = await labBucket(t, 'dl-resume');
  const objects: Record<string, Buffer> = { 'job/a-big.bin': bytes(BIG, 'big') };
  for (let i = 0; i < 200; i++) objects[`job/f${String(i).padStart(3, '0')}.bin`] = bytes(SMALL, `f${i}`);
  await seed(s3, bucket, objects);
  const proxy = await startFaultProxy(lab.endpoint, [
    { kind: 'stall', match: lateSmall, times: Infinity },
    { kind: 'stall', match: lateRange, times: Infinity },
  ]);
  t.after(() => proxy.close());

  const dir = join(await tempDir(t), 'in');
  const args = ['download', '--input-prefix', `s3://${bucket}/job/`, '--input-dir', dir, '--download-concurrency', '4',
    '--range-threshold', '1MiB', '--range-size', '128KiB', '--range-concurrency', '2'];
  const first = startCli([...args, '--endpoint-url', proxy.url], dlEnv(lab));
  t.after(() => { first.child.kill('SIGKILL'); });
  // part files and their journals live in the state dir, named by a hash of the target
  const part = partPath(join(resolve(dir), '.s3-sidecar', 'tmp'), join(resolve(dir), 'a-big.bin'));
  const journal = `${part}.ranges`;
  await until('the first half on disk', async () => {
    const t1 = await tree(dir, false).catch(() => new Map());
    const done = [...t1.keys()].filter((p) => /^f0\d\d\.bin$/.test(p)).length;
    const ranges = existsSync(journal) ? (await readFile(journal, 'utf8')).trim().split('\n').length - 1 : 0;
    return done === 100 && ranges === BIG / 2 / RANGE;
  });
  first.child.kill('SIGKILL');
  const killed = await first.done;
  assert.equal(killed.signal, 'SIGKILL');

  const before = await tree(dir, false);
  assert.ok(existsSync(part), 'the large object was cut off mid-way');
  assert.ok(!before.has('a-big.bin'));

  const r = await download(lab, args.slice(1));
  assert.equal(r.code, 0, explain(r));
  const want = Object.fromEntries(Object.entries(objects).map(([k, v]): [string, string] => [k.slice(4), sha256(v)]).sort(([a], [b]) => (a < b ? -1 : 1)));
  assert.deepEqual(await files(dir), want, 'every file complete, no .part or journal left');

  const after = await tree(dir, false);
  for (let i = 0; i < 100; i++) {
    const p = `f${String(i).padStart(3, '0')}.bin`;
    assert.equal(after.get(p)!.ino, before.get(p)!.ino, `${p} was not fetched again`);
    assert.equal(after.get(p)!.mtimeMs, before.get(p)!.mtimeMs, p);
  }
  const s = summary(r);
  assert.equal(s.skipped, 100);
  assert.equal(s.downloaded, 101);
  assert.equal(s.bytesResumed, BIG / 2);
  assert.equal(s.bytes, 100 * SMALL + BIG / 2, 'only what was missing crossed the network');
  assert.ok(r.logs.some((l) => /^resuming job\/a-big\.bin: 8 of 16 ranges already on disk/.test(String(l.msg))), explain(r));
});
