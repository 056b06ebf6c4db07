// The bench's result check is what stops a fast-but-wrong run from winning: prove it catches a
// changed byte, a missing file, an extra file and a short file, locally and in S3 (the real lab).
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, open, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { bytesOf, dataset, describeDataset, GiB, KiB, MiB, sampleFiles, sampleRanges, writeTree } from '../../bench/data.js';
import { seedPrefix } from '../../bench/s3.js';
import { verifyPrefix, verifyTree } from '../../bench/verify.js';
import { adminS3, requireLab, tempBucket } from '../helpers/lab.js';

const small = () => dataset('t', Array.from({ length: 12 }, (_, i) => ({ rel: `d${i % 3}/f${i}.bin`, size: 64 * KiB + i })));

test('bench data: deterministic, distinct per file, any range regenerates', () => {
  const ds = small();
  const [a, b] = [ds.files[0]!, ds.files[1]!];
  assert.deepEqual(bytesOf(a, 0, 1000), bytesOf(a, 0, 1000));
  assert.notDeepEqual(bytesOf(a, 0, 1000), bytesOf({ ...b, size: a.size }, 0, 1000));
  assert.deepEqual(bytesOf(a, 100, 50), bytesOf(a, 0, 150).subarray(100));
  assert.equal(describeDataset(dataset('x', [{ rel: 'a', size: 2 * GiB }, { rel: 'b', size: 4 * MiB }, { rel: 'c', size: 4 * MiB }])), '1 × 2 GiB + 2 × 4 MiB');
  // a big file is sampled at head, middle and tail; sampling always includes the first and last file
  assert.equal(sampleRanges({ rel: 'x', size: GiB, id: 0 }).length, 4);
  const picked = sampleFiles(ds, 4).map((f) => f.id);
  assert.ok(picked.includes(0) && picked.includes(11));
});

test('verifyTree: exact tree passes; a flipped byte, a missing, an extra or a short file fail', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-verify-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ds = small();
  await writeTree(dir, ds);
  assert.deepEqual(await verifyTree(dir, ds), []);

  const first = join(dir, ds.files[0]!.rel); // sampled: the first file always is
  const fh = await open(first, 'r+');
  await fh.write(Buffer.from([bytesOf(ds.files[0]!, 5000, 1)[0]! ^ 0xff]), 0, 1, 5000);
  await fh.close();
  assert.match((await verifyTree(dir, ds)).join(), /content differs: d0\/f0\.bin/);

  await writeTree(dir, ds);
  await unlink(join(dir, ds.files[4]!.rel));
  assert.match((await verifyTree(dir, ds)).join(), /found 11 files/);

  await writeTree(dir, ds);
  await writeFile(join(dir, 'd1', 'stray.part'), 'x');
  assert.match((await verifyTree(dir, ds)).join(), /found 13 files/);

  // one byte moved from one file to another: same count and total bytes, wrong sizes
  await rm(join(dir, 'd1', 'stray.part'));
  await appendFile(join(dir, ds.files[5]!.rel), 'x');
  await truncate(join(dir, ds.files[6]!.rel), ds.files[6]!.size - 1);
  assert.match((await verifyTree(dir, ds)).join(), /2 files missing or of the wrong size/);
});

test('verifyPrefix: against the real server, an exact prefix passes; a changed object fails; allowed extra keys are ignored', async (t) => {
  const lab = requireLab(t);
  const s3 = adminS3(lab);
  const bucket = await tempBucket(t, lab, 'bench-verify');
  const ds = small();
  await seedPrefix(s3, bucket, 'p/', ds);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'p/_manifest.json', Body: '{}' }));
  assert.match((await verifyPrefix(s3, bucket, 'p/', ds)).join(), /found 13 files/);
  assert.deepEqual(await verifyPrefix(s3, bucket, 'p/', ds, ['_manifest.json']), []);

  const f = ds.files[ds.files.length - 1]!; // the last file is always sampled
  const body = bytesOf(f, 0, f.size);
  body[100] = body[100]! ^ 1;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `p/${f.rel}`, Body: body }));
  assert.match((await verifyPrefix(s3, bucket, 'p/', ds, ['_manifest.json'])).join(), /content differs/);
});
