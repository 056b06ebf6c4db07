// The output filter (ODM preset, globs, own files), ODM's signals parsed, and the small pure
// helpers of the upload path: part sizing, content types, keys, the done file.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { ownFiles } from '../../src/upload/session.js';
import { keyFor } from '../../src/upload/output-tree.js';
import { contentTypeFor, partSizeFor } from '../../src/upload/file-upload.js';
import { OutputFilter } from '../../src/upload/filter.js';
import { parseDoneFile } from '../../src/upload/job-end.js';
import { parseBenchmark, parseLogJson, stageProducts } from '../../src/odm/project.js';
import { parsePgup, parseUdpAddr } from '../../src/odm/progress-udp.js';

const MiB = 1024 * 1024;

test('ODM preset: products in, intermediates never walked, temporaries and own files out', () => {
  const f = new OutputFilter({ preset: 'odm', include: [], exclude: [], ownFiles: ['_manifest.json', 'creds/credentials'] });
  for (const rel of [
    'odm_orthophoto/odm_orthophoto.tif', 'odm_orthophoto/odm_orthophoto.original.tif', 'odm_dem/dsm.tif', 'odm_dem/dtm.tif',
    'odm_georeferencing/odm_georeferenced_model.laz', 'odm_report/report.pdf', 'odm_texturing/odm_textured_model_geo.obj',
    'odm_texturing_25d/odm_textured_model_geo.obj', 'entwine_pointcloud/ept.json', 'orthophoto_tiles/12/1/2.png', 'dsm_tiles/1/1/1.png',
    '3d_tiles/tileset.json', 'images.json', 'cameras.json', 'log.json', 'benchmark.txt',
  ]) assert.equal(f.wantFile(rel), true, rel);
  for (const rel of [
    'images/DJI_0001.JPG', 'opensfm/reconstruction.json', 'submodels/submodel_0000/odm_orthophoto/odm_orthophoto.tif',
    'odm_meshing/odm_mesh.ply', 'odm_filterpoints/point_cloud.ply', 'img_list.txt', 'options.json',
    'odm_orthophoto/odm_orthophoto_cogeo.tif', 'odm_orthophoto/odm_orthophoto_cogeo_swap.tif', 'odm_orthophoto/odm_orthophoto_render.tif',
    'odm_dem/tiles.tmp.tif', 'odm_dem/tiles.tif', 'odm_dem/tiles.vrt', 'odm_dem/merged.vrt', 'odm_dem/dsm_r0.56_x0_y0.tif', 'odm_report/x.part',
    '_manifest.json', '.s3-sidecar/journal.json', 'creds/credentials', 'creds/.credentials.3f9a1c.tmp',
  ]) assert.equal(f.wantFile(rel), false, rel);
  for (const dir of ['images', 'opensfm', 'submodels', 'odm_meshing', 'odm_filterpoints', '.s3-sidecar', 'anything_else']) assert.equal(f.pruneDir(dir), true, dir);
  for (const dir of ['odm_orthophoto', 'odm_dem', 'odm_texturing_25d', 'orthophoto_tiles', 'orthophoto_tiles/12']) assert.equal(f.pruneDir(dir), false, dir);
  // chokidar asks without stats too: ignore only what is ignored both as a folder and as a file
  assert.equal(f.ignores('images', undefined), true);
  assert.equal(f.ignores('images.json', undefined), false);
  assert.equal(f.ignores('odm_dem', true), false);
});

test('ODM preset: user globs add and remove, but never open up the intermediate folders', () => {
  const f = new OutputFilter({ preset: 'odm', include: ['extras/*.txt', 'opensfm/stats/**'], exclude: ['*.original.tif', 'orthophoto_tiles/**'], ownFiles: [] });
  assert.equal(f.wantFile('extras/notes.txt'), true);
  assert.equal(f.wantFile('odm_orthophoto/odm_orthophoto.original.tif'), false);
  assert.equal(f.pruneDir('orthophoto_tiles'), true);
  assert.equal(f.wantFile('opensfm/stats/stats.json'), false);
  assert.equal(f.pruneDir('opensfm'), true);
});

test('generic mode: include/exclude globs (a glob without a slash matches the name anywhere)', () => {
  const f = new OutputFilter({ preset: 'none', include: ['*.tif', 'reports/**'], exclude: ['scratch/**', '*.tmp'], ownFiles: [] });
  assert.equal(f.wantFile('a/b/c.tif'), true);
  assert.equal(f.wantFile('reports/x/y.pdf'), true);
  assert.equal(f.wantFile('a/b.pdf'), false);
  assert.equal(f.wantFile('scratch/x.tif'), false);
  assert.equal(f.pruneDir('scratch'), true);
  assert.equal(f.wantFile('a/x.tmp'), false);
  const all = new OutputFilter({ preset: 'none', include: [], exclude: [], ownFiles: [] });
  assert.equal(all.wantFile('.hidden/x'), true);
  assert.equal(all.wantFile('.s3-sidecar/journal.json'), false);
});

test("own files: every *-file option inside the output dir, the journal and the manifest's name", () => {
  const config = loadConfig('run', [
    '--output-dir', '/w/job', '--output-prefix', 's3://b/p/', '--credentials-file', '/w/job/aws/credentials',
    '--process-file', '/elsewhere/process.json', '--done-file', '/w/job/DONE', '--journal-file', '/w/job/state/j.json',
  ], {});
  assert.deepEqual(ownFiles(config, '/w/job', {}).sort(), ['DONE', '_manifest.json', 'aws/credentials', 'state/j.json']);
  const dflt = loadConfig('upload', ['--output-dir', '/w/job'], {});
  assert.deepEqual(ownFiles(dflt, '/w/job', {}).sort(), ['.s3-sidecar/journal.json', '_manifest.json']);
  // upload mode takes no hand-off flags, but a credentials container sharing its env may write one here
  assert.deepEqual(ownFiles(dflt, '/w/job', { SIDECAR_CREDENTIALS_FILE: '/w/job/.aws/credentials', AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/token' }).sort(),
    ['.aws/credentials', '.s3-sidecar/journal.json', '_manifest.json']);
});

test('benchmark.txt stage lines, log.json, PGUP datagrams and the done file parse', () => {
  assert.deepEqual(parseBenchmark('dataset runtime: 1.5 seconds\nnoise\nodm_orthophoto runtime: 812.25 seconds\npartial runtime: 3'), [
    { stage: 'dataset', seconds: 1.5 }, { stage: 'odm_orthophoto', seconds: 812.25 },
  ]);
  assert.deepEqual(stageProducts('odm_dem'), ['odm_dem/**', 'dsm_tiles/**', 'dtm_tiles/**']);
  assert.deepEqual(stageProducts('openmvs'), []);
  assert.deepEqual(parseLogJson('{"success": true, "endTime": "x"}'), { success: true });
  assert.deepEqual(parseLogJson('{"success": false}'), { success: false });
  assert.equal(parseLogJson('{"success": tr'), undefined);
  assert.deepEqual(parsePgup('PGUP/123/my project/52.5'), { pid: 123, project: 'my project', percent: 52.5 });
  assert.equal(parsePgup('hello'), undefined);
  assert.deepEqual(parseUdpAddr('127.0.0.1:6367', 'x'), { host: '127.0.0.1', port: 6367 });
  assert.throws(() => parseUdpAddr('6367', '--progress-udp'), /--progress-udp: must be host:port/);
  assert.equal(parseDoneFile('0\n'), true);
  assert.equal(parseDoneFile('137'), false);
  assert.equal(parseDoneFile('{"success":false}'), false);
  assert.equal(parseDoneFile('failed'), false);
  assert.equal(parseDoneFile(''), null);
});

test('part size: at least --part-size and 5 MiB, whole MiB, within --max-parts; over 5 GiB parts is an error', () => {
  assert.equal(partSizeFor(100 * MiB, 16 * MiB, 10_000), 16 * MiB);
  assert.equal(partSizeFor(100 * MiB, MiB, 10_000), 5 * MiB);
  // 60 GiB at 10,000 parts needs > 6 MiB parts (the default 5 MiB of lib-storage caps at 48.8 GiB)
  const big = 60 * 1024 ** 3;
  assert.equal(partSizeFor(big, 5 * MiB, 10_000), 7 * MiB);
  assert.ok(Math.ceil(big / partSizeFor(big, 5 * MiB, 10_000)) <= 10_000);
  // a provider that allows 1,000 parts
  const p = partSizeFor(big, 16 * MiB, 1000);
  assert.ok(Math.ceil(big / p) <= 1000 && p % MiB === 0);
  assert.throws(() => partSizeFor(6 * 1024 ** 4, 5 * MiB, 1000), /over 5 GiB/);
});

test('content types from the extension, with the geospatial ones mime-types lacks', () => {
  assert.equal(contentTypeFor('odm_orthophoto/odm_orthophoto.tif'), 'image/tiff');
  assert.equal(contentTypeFor('odm_georeferencing/odm_georeferenced_model.laz'), 'application/vnd.laszip');
  assert.equal(contentTypeFor('log.json'), 'application/json');
  assert.equal(contentTypeFor('odm_report/report.pdf'), 'application/pdf');
  assert.equal(contentTypeFor('weird.zzz-unknown'), 'application/octet-stream');
});

test('keys: the relative path below the prefix; paths that cannot be keys are refused', () => {
  assert.deepEqual(keyFor('job/', 'odm_orthophoto/odm_orthophoto.tif'), { key: 'job/odm_orthophoto/odm_orthophoto.tif' });
  assert.deepEqual(keyFor('', 'a b/c#d.tif'), { key: 'a b/c#d.tif' });
  for (const bad of ['', '../x', 'a/../b', '/abs', 'a//b', './a']) assert.ok(keyFor('job/', bad).problem, bad);
  assert.match(keyFor('job/', Array.from({ length: 5 }, () => 'x'.repeat(250)).join('/')).problem!, /longer than 1024/);
});
