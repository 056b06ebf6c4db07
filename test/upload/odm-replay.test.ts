// `s3-sidecar run --preset odm` beside a replayed ODM job (test/upload/odm-replay.ts), against
// the real S3 server: products are streamed while the job runs (each stage's products readable
// in S3 right after its benchmark line), ODM's in-place rewrites and rename swaps end up
// byte-identical in S3, intermediates and temporaries never leave the disk (and their folders
// are never even watched), and the manifest comes last and is right.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { startCli } from '../helpers/cli.js';
import { getBytes, labFixture, listPrefix, mirrorDiff, sha256, sidecarEnv } from './helpers/s3-check.js';
import { replayOdm } from './odm-replay.js';
import { until } from '../helpers/wait.js';

function inotifyWatches(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = '';
    try { target = readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
    if (!target.includes('inotify')) continue;
    n += readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length;
  }
  return n;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  s.close();
  return port;
}

test('run --preset odm streams a replayed ODM job: each stage readable in S3 at once, final prefix byte-identical, manifest last', { timeout: 300_000 }, async (t) => {
  const { lab, s3, bucket, dir } = await labFixture(t, 'odm');
  const prefix = 'job-7/';
  const udpPort = await freeUdpPort();

  const sidecar = startCli([
    'run', '--preset', 'odm', '--output-dir', dir, '--output-prefix', `s3://${bucket}/${prefix}`,
    '--stable-window', '1s', '--part-size', '5MiB', '--multipart-threshold', '5MiB', '--part-concurrency', '2',
    '--progress-udp', `127.0.0.1:${udpPort}`,
  ], sidecarEnv(lab));
  t.after(() => sidecar.child.kill('SIGKILL'));
  await sidecar.waitFor(/"msg":"watching /);

  const stagesChecked: string[] = [];
  let watchesAtEnd = 0;
  const replay = await replayOdm({
    dir,
    pauseMs: 1500,
    orthoMiB: 12,
    afterStage: async (stage, products) => {
      // streamed: everything the job has produced so far is in S3, byte for byte, while it still runs
      await until(`stage ${stage}: products in S3`, async () => {
        const objects = await listPrefix(s3, bucket, prefix);
        for (const rel of products) {
          const local = readFileSync(join(dir, rel));
          if (objects.get(rel)?.size !== local.length) return `${rel} not there yet`;
          if (sha256(await getBytes(s3, bucket, prefix + rel)) !== sha256(local)) return `${rel} differs`;
        }
        return true;
      }, 90_000, 300);
      stagesChecked.push(stage);
    },
    beforeExit: async () => {
      // ODM's progress datagrams show up in the sidecar's log
      const sock = createSocket('udp4');
      sock.send('PGUP/4242/job-7/98.0', udpPort, '127.0.0.1');
      await sidecar.waitFor(/"msg":"ODM progress 98%"/, 30_000);
      sock.close();
      watchesAtEnd = inotifyWatches(sidecar.child.pid!);
    },
  });

  const result = await sidecar.done;
  assert.equal(result.code, 0, result.stdout.slice(-3000) + result.stderr);
  assert.deepEqual(stagesChecked, ['dataset', 'opensfm', 'openmvs', 'odm_filterpoints', 'odm_meshing', 'mvs_texturing', 'odm_georeferencing', 'odm_dem', 'odm_orthophoto', 'odm_report', 'odm_postprocess']);

  // The prefix mirrors the final products exactly: no intermediates, no temporaries, nothing stale.
  assert.deepEqual(await mirrorDiff(s3, bucket, prefix, dir, replay.products), []);
  assert.ok(replay.intermediates.length > 150, 'the replay wrote a big intermediate tree');
  // pruned: no inotify watch for images/, opensfm/, odm_meshing/, odm_filterpoints/ files
  assert.ok(watchesAtEnd > 0 && watchesAtEnd < replay.products.length + 15, `inotify watches at the end: ${watchesAtEnd}`);

  // Intermediate versions were uploaded and then replaced (the orthophoto went up more than once).
  const uploads = result.logs.filter((l) => l.msg === 'uploaded');
  const orthoUploads = uploads.filter((l) => l.key === `${prefix}odm_orthophoto/odm_orthophoto.tif`).length;
  assert.ok(orthoUploads >= 2, `orthophoto uploads: ${orthoUploads}`);
  assert.ok(result.logs.some((l) => l.msg === 'ODM stage odm_orthophoto finished in 0 s' || (typeof l.msg === 'string' && l.msg.startsWith('ODM stage odm_orthophoto finished'))));

  // The manifest is the last thing written, and it is right.
  const manifestLine = result.logs.findIndex((l) => l.msg === 'manifest uploaded');
  assert.ok(manifestLine > 0);
  assert.ok(result.logs.slice(manifestLine).every((l) => l.msg !== 'uploaded'), 'nothing uploaded after the manifest');
  const objects = await listPrefix(s3, bucket, prefix);
  const newest = Math.max(...[...objects].filter(([k]) => k !== '_manifest.json').map(([, o]) => o.lastModified.getTime()));
  assert.ok(objects.get('_manifest.json')!.lastModified.getTime() >= newest);
  const manifest = JSON.parse((await getBytes(s3, bucket, `${prefix}_manifest.json`)).toString()) as {
    complete: boolean; jobSuccess: boolean; endedBy: string; pending: string[]; failed: unknown[]; startedAt: string; endedAt: string;
    files: { key: string; path: string; size: number; crc32: string; etag: string; mtime: string }[];
  };
  assert.equal(manifest.complete, true);
  assert.equal(manifest.jobSuccess, true);
  assert.equal(manifest.endedBy, 'log.json');
  assert.deepEqual(manifest.pending, []);
  assert.deepEqual(manifest.failed, []);
  assert.ok(Date.parse(manifest.startedAt) < Date.parse(manifest.endedAt));
  assert.deepEqual(manifest.files.map((f) => f.path), replay.products);
  for (const f of manifest.files) {
    const local = readFileSync(join(dir, f.path));
    assert.equal(f.key, prefix + f.path);
    assert.equal(f.size, local.length, f.path);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc32(local));
    assert.equal(f.crc32, c.toString('base64'), f.path);
    assert.ok(f.etag.length > 2, f.path);
  }
});
