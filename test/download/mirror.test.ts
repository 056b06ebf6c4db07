// `s3-sidecar download --layout mirror` against the real server: the tree, awkward names,
// byte-for-byte content (whole, ranged, multipart), the ready marker, and an idempotent re-run.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, HeadObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { bytes, download, explain, files, labBucket, seed, sha256, summary, tempDir, tree } from './helpers.js';

const long = (c: string) => c.repeat(240);

test('mirror: keys become the tree, byte for byte, awkward names included; a re-run transfers nothing', async (t) => {
  const { lab, bucket, s3 } = await labBucket(t, 'dl-mirror');
  const objects: Record<string, string | Uint8Array> = {
    'job/': '',
    'job/a.txt': 'hello\n',
    'job/sub/dir/b.bin': bytes(200_000, 'b'),
    'job/sp ace+plus%25pct ü.jpg': bytes(3000, 'sp'),
    'job/ünïcödé/日本語 ファイル.txt': 'unicode\n',
    [`job/${long('l')}/${long('o')}/${long('n')}/g.bin`]: bytes(5000, 'long'),
    'job/empty.dat': '',
    'job/emptydir/': '',
    'job/big.bin': bytes(3 * 1024 * 1024 + 12345, 'big'),
    'other/not-this.txt': 'outside the prefix',
  };
  await seed(s3, bucket, objects);
  // a multipart object: its ETag is not an MD5, so only its size can be checked
  const part1 = bytes(5 * 1024 * 1024, 'p1');
  const part2 = bytes(1024 * 1024 + 7, 'p2');
  const mp = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'job/multi.bin' }));
  const e1 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'job/multi.bin', UploadId: mp.UploadId, PartNumber: 1, Body: part1 }));
  const e2 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'job/multi.bin', UploadId: mp.UploadId, PartNumber: 2, Body: part2 }));
  await s3.send(new CompleteMultipartUploadCommand({
    Bucket: bucket, Key: 'job/multi.bin', UploadId: mp.UploadId,
    MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1.ETag }, { PartNumber: 2, ETag: e2.ETag }] },
  }));
  assert.match((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'job/multi.bin' }))).ETag!, /-2"$/);

  const work = await tempDir(t);
  const dir = join(work, 'in');
  const ready = join(work, 'ready.json');
  const args = ['--input-prefix', `s3://${bucket}/job/`, '--input-dir', dir, '--ready-file', ready,
    '--range-threshold', '1MiB', '--range-size', '256KiB', '--download-concurrency', '8'];
  const r = await download(lab, args);
  assert.equal(r.code, 0, explain(r));

  const want: Record<string, string> = {};
  for (const [k, v] of Object.entries(objects)) if (k.startsWith('job/') && !k.endsWith('/')) want[k.slice(4)] = sha256(v);
  want['multi.bin'] = sha256(Buffer.concat([part1, part2]));
  assert.deepEqual(await files(dir), Object.fromEntries(Object.entries(want).sort(([a], [b]) => (a < b ? -1 : 1))));
  const t1 = await tree(dir, false);
  assert.equal(t1.get('emptydir')?.type, 'dir', 'a directory marker becomes a directory');
  assert.equal(t1.get('empty.dat')?.size, 0);
  assert.ok(![...t1.keys()].some((p) => p.endsWith('.part') || p.endsWith('.ranges')), 'no part files left');
  // each file carries its object's LastModified (how a re-run recognises it)
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'job/a.txt' }));
  assert.equal(Math.floor((await stat(join(dir, 'a.txt'))).mtimeMs / 1000), Math.floor(head.LastModified!.getTime() / 1000));

  const s = summary(r);
  assert.equal(s.downloaded, Object.keys(want).length);
  assert.equal(s.failed, 0);
  assert.match(String(s.msg), /^download complete: \d+ files in place/);
  const manifest = JSON.parse(await readFile(ready, 'utf8'));
  assert.equal(manifest.status, 'complete');
  assert.equal(manifest.layout, 'mirror');
  assert.equal(manifest.files.total, Object.keys(want).length);
  assert.deepEqual(manifest.sources.map((x: { uri: string }) => x.uri), [`s3://${bucket}/job/`]);
  assert.equal((await stat(ready)).mode & 0o777, 0o644);

  // again: nothing moves, no file is rewritten
  const r2 = await download(lab, args);
  assert.equal(r2.code, 0, explain(r2));
  const s2 = summary(r2);
  assert.equal(s2.downloaded, 0);
  assert.equal(s2.bytes, 0);
  assert.equal(s2.skipped, Object.keys(want).length);
  const t2 = await tree(dir, false);
  for (const p of Object.keys(want)) assert.equal(t2.get(p)!.ino, t1.get(p)!.ino, `${p} was not rewritten`);
});

test('mirror: include/exclude globs and --max-depth choose what is fetched', async (t) => {
  const { lab, bucket, s3 } = await labBucket(t, 'dl-filter');
  await seed(s3, bucket, {
    'p/top.jpg': 'a', 'p/top.txt': 'b', 'p/d1/mid.jpg': 'c', 'p/d1/tmp/skip.jpg': 'd', 'p/d1/d2/deep.jpg': 'e', 'p/keep/x.txt': 'f',
  });
  const dir = join(await tempDir(t), 'in');
  const r = await download(lab, ['--input-prefix', `s3://${bucket}/p`, '--input-dir', dir,
    '--input-include', '*.jpg,keep/*.txt', '--input-exclude', '**/tmp/**', '--max-depth', '2']);
  assert.equal(r.code, 0, explain(r));
  assert.deepEqual(Object.keys(await files(dir)), ['d1/mid.jpg', 'keep/x.txt', 'top.jpg']);
  assert.equal(summary(r).excluded, 3);

  // --max-depth 1 lists with a delimiter: only keys directly below the prefix
  const dir1 = join(await tempDir(t), 'in');
  const r1 = await download(lab, ['--input-prefix', `s3://${bucket}/p/`, '--input-dir', dir1, '--max-depth', '1']);
  assert.equal(r1.code, 0, explain(r1));
  assert.deepEqual(Object.keys(await files(dir1)), ['top.jpg', 'top.txt']);
});
