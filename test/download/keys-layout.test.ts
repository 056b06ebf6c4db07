// Pure logic of the download area (no server needed): key safety checks, filters, the odm
// layout's placement and renames. NUL keys are tested here because S3/RGW refuse to store them
// (RGW answers 400), so no real listing can carry one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkRelativePath, depthOf, resolveInside } from '../../src/util/keys.js';
import { makeKeyFilter } from '../../src/download/filter.js';
import { ODM_DEFAULT_EXCLUDES, OdmLayout } from '../../src/odm/input-layout.js';
import { MirrorLayout } from '../../src/download/layout/mirror.js';
import { plainMd5 } from '../../src/s3/verify.js';

test('unsafe relative keys are refused with a reason; odd but safe names pass', () => {
  const refused: [string, RegExp][] = [
    ['../evil.txt', /\.\./], ['a/../../etc/passwd', /traversal/], ['/abs.txt', /absolute/], ['a//b.jpg', /empty segment/],
    ['a/./b.jpg', /"\."/], ['nul\0.jpg', /NUL/], ['', /empty/], [`${'x'.repeat(256)}.jpg`, /longer than 255/],
    [`${'d/'.repeat(2100)}x`, /longer than 4095/],
  ];
  for (const [key, why] of refused) {
    const r = checkRelativePath(key);
    assert.equal(r.ok, false, key.slice(0, 40));
    assert.match((r as { reason: string }).reason, why, key.slice(0, 40));
  }
  for (const key of ['sp ace+plus%25 ü.jpg', 'a/b/..c.jpg', '...', 'back\\..\\slash.txt', `${'é'.repeat(126)}.jp`]) {
    assert.equal(checkRelativePath(key).ok, true, key);
  }
  assert.throws(() => resolveInside('/tmp/x', ['..', 'y']), /outside/);
  assert.equal(resolveInside('/tmp/x', ['a', 'b.jpg']), '/tmp/x/a/b.jpg');
  assert.equal(depthOf('a/b.jpg'), 2);
  assert.equal(depthOf('a/'), 1);
});

test('filters: basename patterns match at any depth, slash patterns are anchored, max-depth counts segments', () => {
  const f = makeKeyFilter({ include: ['*.jpg', 'docs/*.txt'], exclude: ['**/tmp/**', 'skip.jpg'], maxDepth: 3 });
  assert.equal(f('a.jpg'), undefined);
  assert.equal(f('x/y/a.jpg'), undefined);
  assert.match(f('x/y/z/a.jpg')!, /max-depth/);
  assert.match(f('x/tmp/a.jpg')!, /exclude/);
  assert.match(f('x/skip.jpg')!, /exclude/);
  assert.equal(f('docs/a.txt'), undefined);
  assert.match(f('x/docs/a.txt')!, /no include/);
  const odm = makeKeyFilter({ include: [], exclude: ODM_DEFAULT_EXCLUDES });
  for (const k of ['output/a.jpg', 'x/output/a.jpg', 'odm/a.jpg', 'odm_orthophoto/o.tif', 'p/odm_dem/dsm.tif', 'job-output/a.jpg', 'all.zip', 'x/all.zip', 'thumbs/t.jpg']) {
    assert.ok(odm(k), k);
  }
  for (const k of ['a.jpg', 'flight/a.jpg', 'outputs.jpg', 'odm_x/a.jpg', 'images.zip']) assert.equal(odm(k), undefined, k);
});

test('odm layout: images flattened, clashes renamed in listing order, masks follow their image, root files canonical', () => {
  const l = new OdmLayout();
  const place = (key: string, scope = '0') => l.place(scope, key.split('/'), false);
  const path = (key: string, scope = '0') => {
    const p = place(key, scope);
    return p.kind === 'file' ? p.segments.join('/') : p.kind;
  };
  // in S3 listing order
  assert.equal(path('a/IMG_1.JPG'), 'images/IMG_1.JPG');
  assert.equal(path('a/IMG_1_mask.png'), 'images/IMG_1_mask.png');
  assert.equal(path('b/IMG_1.JPG'), 'images/IMG_1_1.JPG');
  assert.equal(path('b/IMG_1_mask.png'), 'images/IMG_1_1_mask.png');
  assert.equal(path('c/IMG_1.JPG'), 'images/IMG_1_2.JPG');
  assert.equal(path('c/IMG_1_1.JPG'), 'images/IMG_1_1_1.JPG'); // the real name was taken by a rename
  assert.equal(path('c/clip.MOV'), 'images/clip.MOV');
  assert.equal(path('x/GCP_LIST.TXT'), 'gcp_list.txt');
  assert.equal(path('y/gcp_list.txt'), 'gcp_list_1.txt');
  assert.equal(path('geo.txt'), 'geo.txt');
  assert.equal(path('align.laz'), 'align.laz');
  assert.equal(path('image_groups.txt'), 'image_groups.txt');
  assert.equal(path('flight.zip'), 'archive');
  assert.equal(path('flight.tar.gz'), 'archive');
  assert.equal(path('notes.pdf'), 'ignore');
  assert.equal(path('__MACOSX/a/._IMG_9.JPG'), 'ignore');
  assert.equal(l.place('0', ['dir'], true).kind, 'ignore');
  for (const ext of ['jpg', 'jpeg', 'png', 'tif', 'tiff', 'bmp', 'raw', 'dng', 'nef', 'jxl', 'mp4', 'mov', 'lrv', 'ts']) {
    assert.match(path(`e/f.${ext.toUpperCase()}`), /^images\//, ext);
  }
  // a name claimed by an earlier run's archive is not given out again
  l.claim(['images', 'z.jpg']);
  assert.equal(path('z.jpg'), 'images/z_1.jpg');
});

test('mirror layout: keys become paths; with several prefixes a second copy of a path is refused', () => {
  const one = new MirrorLayout(1);
  assert.deepEqual(one.place('0', ['a', 'b.txt'], false), { kind: 'file', segments: ['a', 'b.txt'], role: 'file' });
  assert.equal(one.place('0', ['a'], true).kind, 'dir');
  const two = new MirrorLayout(2);
  assert.equal(two.place('0', ['x.txt'], false).kind, 'file');
  assert.equal(two.place('1', ['x.txt'], false).kind, 'refuse');
});

test('only a plain-MD5 ETag is used as an MD5', () => {
  assert.equal(plainMd5('"9DD4E461268C8034F5C8564E155C67A6"'), '9dd4e461268c8034f5c8564e155c67a6');
  assert.equal(plainMd5('"9dd4e461268c8034f5c8564e155c67a6-3"'), undefined);
  assert.equal(plainMd5(undefined), undefined);
  assert.equal(plainMd5('""'), undefined);
});
