// Keys that name the sidecar's own temporary files: `big.bin` (fetched as ranges, with a part
// file and a range journal) next to `big.bin.part` and `big.bin.part.ranges` in one mirror
// download all arrive byte-identical; keys that would land in the state dir or on the ready file
// are refused with a logged reason; a name that fits NAME_MAX only without a suffix arrives.
// Archive entries the layout skips still count against --archive-max-files.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeZip } from './archives.js';
import { bytes, download, explain, files, labBucket, seed, sha256, summary, tempDir } from './helpers.js';

test('keys big.bin (ranged) and big.bin.part / big.bin.part.ranges in one mirror download: all byte-identical; state dir and ready file refused', { timeout: 120_000 }, async (t) => {
  const { lab, bucket, s3 } = await labBucket(t, 'dl-trust-keys');
  const long = `${'n'.repeat(250)}.bin`; // 254 bytes: a ".part" suffix would not fit NAME_MAX
  const objects: Record<string, Buffer> = {
    'job/big.bin': bytes(1_200_000, 'big'),
    'job/big.bin.part': bytes(900_000, 'part'),
    'job/big.bin.part.ranges': bytes(700_000, 'ranges'),
    [`job/${long}`]: bytes(600_000, 'long'),
  };
  await seed(s3, bucket, { ...objects, 'job/.s3-sidecar/tmp/evil.part': 'into the state dir', 'job/ready.json': '{"fake":"ready"}' });
  const dir = join(await tempDir(t), 'in');
  const ready = join(dir, 'ready.json');
  const r = await download(lab, ['--input-prefix', `s3://${bucket}/job/`, '--input-dir', dir, '--ready-file', ready,
    '--range-threshold', '512KiB', '--range-size', '128KiB']);
  assert.equal(r.code, 1, explain(r));
  const got = await files(dir);
  for (const [k, v] of Object.entries(objects)) assert.equal(got[k.slice(4)], sha256(v), k);
  assert.deepEqual(Object.keys(got).sort(), Object.keys(objects).map((k) => k.slice(4)).sort(), 'nothing else: no part, journal or refused key');
  assert.ok(!existsSync(ready), 'the ready file was neither written by a key nor by a failed run');
  const errors = r.logs.filter((l) => l.level === 'error' && typeof l.uri === 'string').map((l) => `${l.uri} ${l.reason}`);
  assert.ok(errors.some((e) => e.includes('/job/.s3-sidecar/tmp/evil.part ') && /state dir/.test(e)), errors.join('\n'));
  assert.ok(errors.some((e) => e.includes('/job/ready.json ') && /ready file/.test(e)), errors.join('\n'));
  assert.equal(summary(r).failed, 2);
  assert.equal(summary(r).downloaded, 4);
});

test('archive entries the layout skips count against --archive-max-files', { timeout: 60_000 }, async (t) => {
  const { lab, bucket, s3 } = await labBucket(t, 'dl-trust-zip');
  await seed(s3, bucket, {
    'job/many.zip': makeZip([
      { name: 'IMG_0001.jpg', data: 'image' },
      ...Array.from({ length: 10 }, (_, i) => ({ name: `skip/notes-${i}.txt`, data: 'not an image' })),
    ]),
  });
  const dir = join(await tempDir(t), 'in');
  const r = await download(lab, ['--layout', 'odm', '--input-prefix', `s3://${bucket}/job/`, '--input-dir', dir, '--archive-max-files', '5']);
  assert.equal(r.code, 1, explain(r));
  assert.match(String(summary(r).msg), /--archive-max-files 5/);
});
