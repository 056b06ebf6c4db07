// Keys are never trusted as paths: traversal, absolute and empty-segment keys, symlinks planted in
// the input dir, and zip-slip / link entries in archives are refused with a logged reason and
// counted as failures, the rest still arrives, and nothing is written outside the input dir
// (the whole parent directory is compared before and after).
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTar, makeZip } from './archives.js';
import { bytes, download, type Entry, explain, files, labBucket, seed, summary, tempDir, tree } from './helpers.js';

/** Everything below `work` except the input dir itself. */
async function outside(work: string, inputDir: string): Promise<[string, Entry][]> {
  const rel = inputDir.slice(work.length + 1);
  return [...(await tree(work))].filter(([p]) => p !== rel && !p.startsWith(`${rel}/`)).map(([p, e]) => [p, { ...e, mtimeMs: 0 }]);
}

test('traversal keys and planted symlinks are refused; nothing lands outside the input dir', async (t) => {
  const { lab, bucket, s3 } = await labBucket(t, 'dl-safety');
  await seed(s3, bucket, {
    'job/../../evil.txt': 'evil', 'job/../escape.txt': 'evil', 'job//abs.txt': 'evil', 'job/a/./b.txt': 'evil',
    'job/ok.txt': 'ok', 'job/linkdir/x.txt': 'through a symlink', 'job/victim.txt': 'through a planted part', 'job/target.txt': 'new',
    'job/big.bin': bytes(300_000, 'big'),
  });
  const work = await tempDir(t, 'safety');
  const dir = join(work, 'deep', 'in');
  await mkdir(join(work, 'outside'), { recursive: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(work, 'outside', 'target'), 'original');
  await symlink('../../outside', join(dir, 'linkdir'));
  await symlink('../../outside/victim', join(dir, 'victim.txt.part'));
  await symlink('../../outside/target', join(dir, 'target.txt'));
  await symlink('../../outside/journal', join(dir, 'big.bin.part.ranges'));
  const before = await outside(work, dir);

  const ready = join(work, 'ready.json');
  const r = await download(lab, ['--input-prefix', `s3://${bucket}/job/`, '--input-dir', dir, '--ready-file', ready, '--range-threshold', '100KiB', '--range-size', '64KiB']);
  assert.equal(r.code, 1, explain(r));
  assert.deepEqual(await outside(work, dir), before, 'nothing outside the input dir changed');
  assert.ok(!existsSync(ready), 'no ready marker after a failure');
  assert.equal(await readFile(join(dir, 'ok.txt'), 'utf8'), 'ok');
  // the final name was a symlink: it is replaced by the file, its target is untouched
  assert.equal((await tree(dir, false)).get('target.txt')?.type, 'file');
  assert.equal(await readFile(join(dir, 'target.txt'), 'utf8'), 'new');
  // part files and range journals live in the state dir: symlinks at `<name>.part` or
  // `<name>.part.ranges` are names like any other, never written through
  assert.equal(await readFile(join(dir, 'victim.txt'), 'utf8'), 'through a planted part');
  assert.deepEqual(await readFile(join(dir, 'big.bin')), bytes(300_000, 'big'));

  const s = summary(r);
  assert.equal(s.failed, 5, explain(r));
  const errors = r.logs.filter((l) => l.level === 'error' && typeof l.uri === 'string').map((l) => `${l.uri} ${l.reason}`);
  for (const [key, why] of [
    ['job/../../evil.txt', /traversal/], ['job/../escape.txt', /traversal/], ['job//abs.txt', /absolute/],
    ['job/a/./b.txt', /"\." segment/], ['job/linkdir/x.txt', /symlink/],
  ] as const) {
    assert.ok(errors.some((e) => e.startsWith(`s3://${bucket}/${key} `) && why.test(e)), `${key}: ${errors.join('\n')}`);
  }
  assert.match(String(s.msg), /download FAILED \(5 failed: /);
});

test('zip-slip, absolute and link entries in archives are refused; safe entries are extracted', async (t) => {
  const { lab, bucket, s3 } = await labBucket(t, 'dl-zipslip');
  await seed(s3, bucket, {
    'job/evil.zip': makeZip([
      { name: '../../zip-evil.jpg', data: 'evil' },
      { name: '/abs/zip-abs.jpg', data: 'evil' },
      { name: 'ok/IMG_ok1.jpg', data: 'ok1' },
      { name: 'link.jpg', type: 'symlink', target: '/etc/passwd' },
    ]),
    'job/evil.tar': makeTar([
      { name: '../tar-evil.jpg', data: 'evil' },
      { name: 's.jpg', type: 'symlink', target: '/etc/passwd' },
      { name: 'h.jpg', type: 'hardlink', target: 'good/IMG_ok2.jpg' },
      { name: 'good/IMG_ok2.jpg', data: 'ok2' },
    ]),
  });
  const work = await tempDir(t, 'zipslip');
  const dir = join(work, 'a', 'b', 'job');
  await mkdir(dir, { recursive: true });
  const before = await outside(work, dir);
  const r = await download(lab, ['--layout', 'odm', '--input-prefix', `s3://${bucket}/job/`, '--input-dir', dir]);
  assert.equal(r.code, 1, explain(r));
  assert.deepEqual(await outside(work, dir), before, 'nothing outside the input dir changed');
  const got = Object.keys(await files(dir)).filter((p) => !p.startsWith('.s3-sidecar/'));
  assert.deepEqual(got, ['images/IMG_ok1.jpg', 'images/IMG_ok2.jpg']);
  const s = summary(r);
  assert.equal(s.failed, 6, explain(r));
  const reasons = r.logs.filter((l) => l.level === 'error' && typeof l.uri === 'string').map((l) => `${l.uri} ${l.reason}`);
  for (const [entry, why] of [
    ['evil.zip!../../zip-evil.jpg', /traversal/], ['evil.zip!/abs/zip-abs.jpg', /absolute/], ['evil.zip!link.jpg', /link entry/],
    ['evil.tar!../tar-evil.jpg', /traversal/], ['evil.tar!s.jpg', /link entry/], ['evil.tar!h.jpg', /link entry/],
  ] as const) {
    assert.ok(reasons.some((e) => e.includes(`/job/${entry} `) && why.test(e)), `${entry}: ${reasons.join('\n')}`);
  }
});
