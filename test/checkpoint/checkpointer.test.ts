// Checkpoints against the real S3 server, through the library (the CLI tests are in
// kill-resume.test.ts): the second checkpoint sends only what changed and the older one is
// collected; a file rewritten while its checkpoint is taken, or modified after the boundary,
// leaves that checkpoint uncommitted and restore brings back the previous one; a missing object
// makes restore fail loudly, leave nothing behind and write no ready marker.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { runCli } from '../helpers/cli.js';
import { labFixture, sidecarEnv, tmpDir } from '../upload/helpers/s3-check.js';
import { openCheckpointer, snapshotTree, stored } from './helpers.js';
import { log } from '../../src/log.js';

log.level = 'silent';

const MiB = 1024 * 1024;
const fill = (n: number, seed: number) => Buffer.alloc(n, seed);

function makeTree(dir: string): void {
  for (const d of ['images', 'opensfm/features', 'odm_meshing', 'empty']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'images/DJI_0001.JPG'), fill(4096, 1)); // an input: never checkpointed
  for (let i = 0; i < 30; i++) writeFileSync(join(dir, `opensfm/features/f${i}.npz`), fill(2048 + i, i));
  writeFileSync(join(dir, 'opensfm/reconstruction.json'), '[]');
  writeFileSync(join(dir, 'odm_meshing/odm_mesh.ply'), fill(3 * MiB, 7)); // read twice and sent as a stream
  writeFileSync(join(dir, 'odm_meshing/odm_25dmesh.ply'), fill(11 * MiB + 5, 8)); // a multipart upload (5 MiB parts)
  writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\n');
  chmodSync(join(dir, 'run.sh'), 0o750);
  writeFileSync(join(dir, 'empty.txt'), '');
}

test('the second checkpoint sends only what changed, and the first one is collected after it commits', { timeout: 120_000 }, async (t) => {
  const { s3, bucket, dir } = await labFixture(t, 'cp-incr');
  makeTree(dir);
  const cp = await openCheckpointer(s3, bucket, 'ck/', dir);
  const bytesOf = (rel: string) => statSync(join(dir, rel)).size;
  const total = Object.values(snapshotTree(dir)).reduce((n, e) => n + e.size, 0);

  cp.trigger('opensfm', undefined);
  await cp.idle();
  const first = cp.results[0]!;
  assert.equal(first.committed, true, first.reason);
  assert.equal(first.files, 35);
  // f0..f29 differ in size or fill byte, so everything is distinct content: all of it is sent
  assert.equal(first.bytesSent, total);
  assert.equal(first.bytesReused, 0);

  writeFileSync(join(dir, 'opensfm/reconstruction.json'), '[{"cameras":{}}]');
  writeFileSync(join(dir, 'odm_meshing/odm_mesh_extra.ply'), fill(100_000, 9));
  cp.trigger('odm_meshing', undefined);
  await cp.idle();
  const second = cp.results[1]!;
  assert.equal(second.committed, true, second.reason);
  assert.equal(second.bytesSent, bytesOf('opensfm/reconstruction.json') + bytesOf('odm_meshing/odm_mesh_extra.ply'));
  assert.equal(second.bytesReused, total - 2);

  const s = await stored(s3, bucket, 'ck/');
  assert.deepEqual(s.manifests, ['checkpoints/00000002-odm_meshing.json']);
  // 36 distinct contents referenced; the old reconstruction.json's object is gone
  assert.equal(s.objects.length, 36);
});

test('a file rewritten while its checkpoint is taken: not committed, counted, and restore gives the previous checkpoint', { timeout: 120_000 }, async (t) => {
  const { lab, s3, bucket, dir } = await labFixture(t, 'cp-race');
  makeTree(dir);
  let spoil = false;
  const cp = await openCheckpointer(s3, bucket, 'ck/', dir, {
    concurrency: 1,
    onCaptured: (rel) => {
      // ODM's next stage rewrites a file in place after the checkpoint has read it
      if (spoil && rel === 'opensfm/features/f0.npz') writeFileSync(join(dir, 'opensfm/reconstruction.json'), '["next stage"]');
    },
  });
  cp.trigger('opensfm', undefined);
  await cp.idle();
  assert.equal(cp.results[0]!.committed, true);
  const atFirst = snapshotTree(dir);

  writeFileSync(join(dir, 'opensfm/features/f0.npz'), fill(5000, 42));
  spoil = true;
  cp.trigger('openmvs', undefined);
  await cp.idle();
  const r = cp.results[1]!;
  assert.equal(r.committed, false);
  assert.equal(r.reason, 'changed');
  const failures = await (await import('../../src/metrics.js')).metrics.checkpointFailures.get();
  assert.ok(failures.values.some((v) => v.labels.reason === 'changed' && v.value >= 1), 's3_sidecar_checkpoint_failures_total counted it');
  assert.deepEqual((await stored(s3, bucket, 'ck/')).manifests, ['checkpoints/00000001-opensfm.json']);

  // a file modified after the boundary mark (the next stage had already begun) also spoils it
  spoil = false;
  const boundary = BigInt(Date.now() - 60_000) * 1_000_000n;
  cp.trigger('late', boundary);
  await cp.idle();
  assert.equal(cp.results[2]!.committed, false);

  const fresh = join(tmpDir(t, 'cp-race-restore'), 'not-yet-made'); // the init container may come first
  // the 11 MiB mesh comes back as parallel byte ranges, as download fetches large objects
  const res = await runCli(['restore', '--output-dir', fresh, '--checkpoint-prefix', `s3://${bucket}/ck/`, '--range-threshold', '8MiB', '--range-size', '5MiB'], sidecarEnv(lab));
  assert.equal(res.code, 0, res.stdout.slice(-2000) + res.stderr);
  assert.deepEqual(snapshotTree(fresh), atFirst, 'restore gives the first checkpoint, byte for byte, with modes');
  assert.ok(statSync(join(fresh, 'empty')).isDirectory(), 'empty folders come back too');

  // a retry that finds the volume of the interrupted run: what the next stage had begun goes,
  // the inputs and the sidecar's own state stay
  mkdirSync(join(fresh, 'odm_dem'));
  writeFileSync(join(fresh, 'odm_dem/dsm.tif'), 'partial');
  writeFileSync(join(fresh, 'opensfm/features/extra.npz'), 'partial');
  writeFileSync(join(fresh, 'opensfm/reconstruction.json'), '["next stage"]');
  mkdirSync(join(fresh, 'images'));
  writeFileSync(join(fresh, 'images/DJI_0002.JPG'), 'input');
  mkdirSync(join(fresh, '.s3-sidecar'), { recursive: true }); // the first restore staged its parts there
  writeFileSync(join(fresh, '.s3-sidecar/journal.json'), '{}');
  const again = await runCli(['restore', '--output-dir', fresh, '--checkpoint-prefix', `s3://${bucket}/ck/`], sidecarEnv(lab));
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(snapshotTree(fresh), atFirst);
  assert.ok(!existsSync(join(fresh, 'odm_dem')), 'a folder the checkpoint does not have would make ODM skip a stage');
  assert.ok(existsSync(join(fresh, 'images/DJI_0002.JPG')) && existsSync(join(fresh, '.s3-sidecar/journal.json')));
});

test('restore: no checkpoint says so and exits 0; a missing object fails loudly, leaves nothing and writes no ready marker', { timeout: 120_000 }, async (t) => {
  const { lab, s3, bucket, dir } = await labFixture(t, 'cp-missing');
  const env = sidecarEnv(lab);
  const marker = join(tmpDir(t, 'cp-marker'), 'ready.json');
  const none = await runCli(['restore', '--output-dir', tmpDir(t, 'cp-none'), '--checkpoint-prefix', `s3://${bucket}/ck/`, '--ready-file', marker], env);
  assert.equal(none.code, 0, none.stderr);
  assert.ok(none.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('no checkpoint under')));
  assert.ok(existsSync(marker));

  makeTree(dir);
  const cp = await openCheckpointer(s3, bucket, 'ck/', dir);
  cp.trigger('opensfm', undefined);
  await cp.idle();
  assert.equal(cp.results[0]!.committed, true);
  const lost = (await stored(s3, bucket, 'ck/')).objects.find((k) => k !== undefined)!;
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `ck/${lost}` }));

  utimesSync(marker, new Date(), new Date()); // a marker from an earlier run must go
  const fresh = tmpDir(t, 'cp-missing-restore');
  const res = await runCli(['restore', '--output-dir', fresh, '--checkpoint-prefix', `s3://${bucket}/ck/`, '--ready-file', marker], env);
  assert.equal(res.code, 1, res.stdout.slice(-2000));
  assert.match(res.stderr, /restore failed: checkpoint 1 \(after stage opensfm\) could not be restored: .*the object is missing/);
  assert.equal(existsSync(marker), false, 'no ready marker');
  const left: string[] = [];
  const walk = (rel: string) => {
    for (const n of readdirSync(join(fresh, rel))) {
      const r = rel ? `${rel}/${n}` : n;
      if (statSync(join(fresh, r)).isDirectory()) walk(r);
      else left.push(r);
    }
  };
  walk('');
  assert.deepEqual(left, [], 'no restored file stays behind');

  // the object back, but with other bytes (its MD5 ETag matches them): the SHA-256 name catches it
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `ck/${lost}`, Body: Buffer.from('not the content') }));
  const corrupt = await runCli(['restore', '--output-dir', fresh, '--checkpoint-prefix', `s3://${bucket}/ck/`, '--ready-file', marker], env);
  assert.equal(corrupt.code, 1);
  assert.match(corrupt.stderr, /content does not match its checksum/);
  assert.equal(existsSync(marker), false);
});
