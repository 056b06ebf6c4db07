// More of `run`: a file that changes while it uploads (the upload is cut short and redone, and
// S3 ends with the final bytes, nothing stranded); and --prefetch, which runs the download
// engine first and then streams the outputs.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { startCli } from '../helpers/cli.js';
import { getBytes, incompleteUploads, labFixture, listPrefix, sha256, sidecarEnv } from './helpers/s3-check.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
import { until } from '../helpers/wait.js';

const MiB = 1024 * 1024;

test('a file that changes while it uploads: the upload is cancelled and redone; S3 ends with the final bytes', { timeout: 180_000 }, async (t) => {
  const { lab, s3, bucket, dir } = await labFixture(t, 'change');
  const proxy = await startTcpProxy(t, Number(new URL(lab.endpoint).port), 2 * MiB);
  const file = join(dir, 'dtm.tif');
  writeFileSync(file, randomBytes(20 * MiB));

  const sidecar = startCli([
    'run', '--output-dir', dir, '--output-prefix', `s3://${bucket}/job/`, '--stable-window', '300ms',
    '--part-size', '5MiB', '--multipart-threshold', '5MiB', '--part-concurrency', '1', '--log-level', 'debug',
    '--done-file', join(dir, 'DONE'),
  ], sidecarEnv(lab, {}, proxy.endpoint));
  t.after(() => sidecar.child.kill('SIGKILL'));
  await sidecar.waitFor(/"key":"job\/dtm.tif","part":1\b.*"msg":"part uploaded"/, 120_000);
  appendFileSync(file, randomBytes(MiB)); // GDAL appends overviews
  await sidecar.waitFor(/"msg":"file changed during its upload: upload cancelled, it goes again once stable"/, 30_000);
  proxy.rate = undefined;
  await until('the new version in S3', async () => (await listPrefix(s3, bucket, 'job/')).get('dtm.tif')?.size === 21 * MiB || 'not yet', 120_000, 500);
  writeFileSync(join(dir, 'DONE'), '0');
  const r = await sidecar.done;
  assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);
  assert.equal(sha256(await getBytes(s3, bucket, 'job/dtm.tif')), sha256(readFileSync(file)));
  assert.equal(r.logs.filter((l) => l.msg === 'uploaded' && l.key === 'job/dtm.tif').length, 1, 'the cut-short version never counted as uploaded');
  assert.deepEqual(await incompleteUploads(s3, bucket), []);
});

test('run --prefetch: the input is downloaded first (the download engine), then outputs stream', { timeout: 180_000 }, async (t) => {
  const { lab, s3, bucket, dir } = await labFixture(t, 'prefetch');
  const images = ['DJI_0001.JPG', 'DJI_0002.JPG', 'DJI_0003.JPG'];
  const bodies = new Map(images.map((k) => [k, randomBytes(50_000)]));
  for (const [k, b] of bodies) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `in/${k}`, Body: b }));
  const project = join(dir, 'project');
  mkdirSync(project);

  const sidecar = startCli([
    'run', '--prefetch', '--input-prefix', `s3://${bucket}/in/`, '--input-dir', join(project, 'images'),
    '--output-dir', project, '--output-prefix', `s3://${bucket}/out/`, '--preset', 'odm', '--progress-udp', 'off',
    '--stable-window', '300ms',
  ], sidecarEnv(lab));
  t.after(() => sidecar.child.kill('SIGKILL'));
  await sidecar.waitFor(/"msg":"watching /, 120_000);
  for (const [k, b] of bodies) assert.deepEqual(readFileSync(join(project, 'images', k)), b);
  mkdirSync(join(project, 'odm_orthophoto'));
  writeFileSync(join(project, 'odm_orthophoto', 'odm_orthophoto.tif'), randomBytes(100_000));
  writeFileSync(join(project, 'log.json'), JSON.stringify({ success: false }));
  const r = await sidecar.done;
  assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);
  assert.deepEqual([...(await listPrefix(s3, bucket, 'out/')).keys()].sort(), ['_manifest.json', 'log.json', 'odm_orthophoto/odm_orthophoto.tif']);
  const m = JSON.parse((await getBytes(s3, bucket, 'out/_manifest.json')).toString()) as { jobSuccess: boolean; complete: boolean };
  assert.equal(m.jobSuccess, false, "ODM's verdict is carried into the manifest");
  assert.equal(m.complete, true);
});
