// `s3-sidecar download --layout odm` against the real server: the ODM project tree (images
// flattened with deterministic renames, masks kept with their image, GCP/geo/align at the root,
// ScaleODM's excludes), archives extracted by the same rules, and the extraction limits.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { makeTar, makeZip } from './archives.js';
import { bytes, download, explain, files, labBucket, seed, sha256, summary, tempDir, tree } from './helpers.js';

const img = (name: string) => bytes(2000 + name.length * 37, name);

async function odmFixture(t: TestContext) {
  const { lab, bucket, s3 } = await labBucket(t, 'dl-odm');
  await seed(s3, bucket, {
    'job/flight1/IMG_0001.JPG': img('f1-1'),
    'job/flight1/IMG_0001_mask.png': img('f1-1m'),
    'job/flight1/IMG_0002.jpg': img('f1-2'),
    'job/flight2/IMG_0001.JPG': img('f2-1'),
    'job/flight2/IMG_0001_mask.png': img('f2-1m'),
    'job/flight2/clip.MP4': img('clip'),
    'job/gcp/gcp_list.txt': 'EPSG:4326\n1 2 3 4 5 IMG_0001.JPG\n',
    'job/GEO.TXT': 'EPSG:4326\nIMG_0002.jpg 1 2 3\n',
    'job/image_groups.txt': 'IMG_0001.JPG A\n',
    'job/align.laz': 'laz',
    'job/notes.pdf': 'not for ODM',
    'job/output/IMG_9.jpg': 'a previous run',
    'job/odm_orthophoto/odm_orthophoto.tif': 'a previous product',
    'job/old/all.zip': 'a previous all.zip',
    'job/extra/skip_me.jpg': 'user exclude',
    'job/batch.zip': makeZip([
      { name: 'photos/', type: 'dir' },
      { name: 'photos/IMG_0002.jpg', data: img('zip-2') },
      { name: 'photos/IMG_0100.jpg', data: img('zip-100') },
      { name: 'readme.txt', data: 'ignored' },
      { name: '__MACOSX/photos/._IMG_0100.jpg', data: 'resource fork' },
    ]),
    'job/more.tar.gz': makeTar([
      { name: 'x/', type: 'dir' },
      { name: 'x/IMG_0200.tif', data: img('tar-200') },
      { name: 'x/IMG_0001.JPG', data: img('tar-1') },
    ], true),
  });
  return { lab, bucket };
}

test('odm: the ODM project tree, renames in listing order, archives flattened; a re-run fetches nothing', async (t) => {
  const { lab, bucket } = await odmFixture(t);
  const work = await tempDir(t);
  const dir = join(work, 'job');
  const ready = join(work, 'ready.json');
  const args = ['--layout', 'odm', '--input-prefix', `s3://${bucket}/job/`, '--input-dir', dir, '--ready-file', ready, '--input-exclude', 'extra/**'];
  const r = await download(lab, args);
  assert.equal(r.code, 0, explain(r));

  const got = await files(dir);
  const project = Object.fromEntries(Object.entries(got).filter(([p]) => !p.startsWith('.s3-sidecar/')));
  assert.deepEqual(project, {
    'align.laz': sha256('laz'),
    'gcp_list.txt': sha256('EPSG:4326\n1 2 3 4 5 IMG_0001.JPG\n'),
    'geo.txt': sha256('EPSG:4326\nIMG_0002.jpg 1 2 3\n'),
    'image_groups.txt': sha256('IMG_0001.JPG A\n'),
    'images/IMG_0001.JPG': sha256(img('f1-1')),
    'images/IMG_0001_1.JPG': sha256(img('f2-1')),
    'images/IMG_0001_1_mask.png': sha256(img('f2-1m')),
    'images/IMG_0001_2.JPG': sha256(img('tar-1')),
    'images/IMG_0001_mask.png': sha256(img('f1-1m')),
    'images/IMG_0002.jpg': sha256(img('f1-2')),
    'images/IMG_0002_1.jpg': sha256(img('zip-2')),
    'images/IMG_0100.jpg': sha256(img('zip-100')),
    'images/IMG_0200.tif': sha256(img('tar-200')),
    'images/clip.MP4': sha256(img('clip')),
  });
  assert.ok(!Object.keys(got).some((p) => /\.(zip|tar\.gz|part)$/.test(p)), 'archives are removed once extracted');

  const s = summary(r);
  assert.equal(s.failed, 0);
  assert.equal(s.extracted, 4);
  assert.equal(s.renamed, 2, 'the two flight2 files were renamed at listing time');
  assert.equal(s.excluded, 4, 'output/**, odm_orthophoto/**, all.zip and the user exclude');
  const m = JSON.parse(await readFile(ready, 'utf8'));
  assert.deepEqual(m.odm.rootFiles, ['align.laz', 'gcp_list.txt', 'geo.txt', 'image_groups.txt']);
  assert.equal(m.odm.images, 7);
  assert.equal(m.odm.masks, 2);
  assert.equal(m.odm.videos, 1);
  assert.deepEqual(m.odm.archives.map((a: { status: string; files: number }) => [a.status, a.files]), [['extracted', 2], ['extracted', 2]]);
  assert.ok(r.logs.some((l) => /ignored .*notes\.pdf: not an image/.test(String(l.msg))), 'ignored files are named in the log');

  const before = await tree(dir, false);
  const r2 = await download(lab, args);
  assert.equal(r2.code, 0, explain(r2));
  const s2 = summary(r2);
  assert.equal(s2.bytes, 0);
  assert.equal(s2.downloaded, 0);
  assert.equal(s2.skipped, 14, '10 objects + 4 files from archives already there');
  const after = await tree(dir, false);
  for (const p of Object.keys(project)) assert.equal(after.get(p)!.ino, before.get(p)!.ino, p);
  assert.deepEqual(JSON.parse(await readFile(ready, 'utf8')).odm.archives.map((a: { status: string }) => a.status), ['already extracted', 'already extracted']);
});

test('odm: archive limits are enforced with a clear failure; what fits stays', async (t) => {
  const { lab, bucket } = await odmFixture(t);
  const dir = join(await tempDir(t), 'job');
  // batch.zip holds 4 entries (2 images, 2 the layout skips): all count, so 4 fit and the tar's do not
  const r = await download(lab, ['--layout', 'odm', '--input-prefix', `s3://${bucket}/job/`, '--input-dir', dir, '--archive-max-files', '4']);
  assert.equal(r.code, 1, explain(r));
  const s = summary(r);
  assert.equal(s.failed, 1);
  assert.match(String(s.msg), /download FAILED .*--archive-max-files 4/);
  const got = Object.keys(await files(dir));
  assert.ok(got.includes('images/IMG_0100.jpg'), 'the first archive was within the limit');
  assert.ok(!got.includes('images/IMG_0001_2.JPG'), 'the second archive went over it');

  const dir2 = join(await tempDir(t), 'job');
  const r2 = await download(lab, ['--layout', 'odm', '--input-prefix', `s3://${bucket}/job/`, '--input-dir', dir2, '--archive-max-bytes', '5000']);
  assert.equal(r2.code, 1, explain(r2));
  assert.match(String(summary(r2).msg), /--archive-max-bytes 5000/);
});
