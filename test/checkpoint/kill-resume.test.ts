// The whole story against the real S3 server, with the CLI as shipped: a replayed ODM job with
// `run --checkpoint-prefix` is SIGKILLed (job and sidecar) in the middle of a stage; `download
// --restore` into a fresh directory brings back the inputs and a tree byte-identical (paths,
// sizes, content, modes) to the one at the last completed stage boundary; the replay started
// again on it skips the completed stages (as ODM does); the output prefix at the end equals an
// uninterrupted run's, and the checkpoints are deleted once the job has succeeded.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { runCli, startCli } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';
import { getBytes, labFixture, listPrefix, sha256, sidecarEnv, tmpDir } from '../upload/helpers/s3-check.js';
import { inputImages, replayOdm } from '../upload/odm-replay.js';
import { snapshotTree, type TreeEntry } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PAUSE_MS = 300;
const COMPLETED = ['dataset', 'opensfm', 'openmvs', 'odm_filterpoints', 'odm_meshing', 'mvs_texturing', 'odm_georeferencing'];
/** ODM's own logs carry times (stage runtimes, start and end): the same job writes them differently */
const TIMED = ['_manifest.json', 'benchmark.txt', 'log.json'];

async function contents(s3: S3Client, bucket: string, prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of [...(await listPrefix(s3, bucket, prefix)).keys()].sort()) {
    if (!TIMED.includes(key)) out[key] = sha256(await getBytes(s3, bucket, prefix + key));
  }
  return out;
}

test('killed mid-stage, restored, resumed: the completed stages are skipped and the output equals an uninterrupted run\'s', { timeout: 600_000 }, async (t) => {
  const { lab, s3, bucket } = await labFixture(t, 'cp-kill');
  const env = sidecarEnv(lab);
  const runArgs = (dir: string, out: string, extra: string[] = []) => [
    'run', '--preset', 'odm', '--output-dir', dir, '--output-prefix', `s3://${bucket}/${out}`,
    '--stable-window', '1s', '--progress-udp', 'off', ...extra,
  ];
  for (const img of inputImages()) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `in/${img.rel.slice('images/'.length)}`, Body: img.data }));
  const download = (dir: string, extra: string[] = []) => runCli(['download', '--layout', 'odm', '--input-prefix', `s3://${bucket}/in/`, '--input-dir', dir, ...extra], env);

  // 1. the uninterrupted run, for comparison
  const dir0 = tmpDir(t, 'cp-kill-base');
  assert.equal((await download(dir0)).code, 0);
  const base = startCli(runArgs(dir0, 'base/'), env);
  t.after(() => base.child.kill('SIGKILL'));
  await base.waitFor(/"msg":"watching /);
  await replayOdm({ dir: dir0, pauseMs: PAUSE_MS });
  assert.equal((await base.done).code, 0);

  // 2. the same job with checkpoints, killed in the middle of odm_dem
  const dir1 = tmpDir(t, 'cp-kill-job');
  const ctl = tmpDir(t, 'cp-kill-ctl');
  assert.equal((await download(dir1)).code, 0);
  const sidecar = startCli(runArgs(dir1, 'out/', ['--checkpoint-prefix', `s3://${bucket}/ck/`]), env);
  t.after(() => sidecar.child.kill('SIGKILL'));
  await sidecar.waitFor(/"msg":"watching /);
  const job = spawn(process.execPath, ['--import', 'tsx', 'test/upload/odm-replay.ts', dir1, String(PAUSE_MS), '--wait-dir', ctl, '--stall-in', 'odm_dem'], { cwd: ROOT, stdio: 'ignore' });
  t.after(() => job.kill('SIGKILL'));
  let atBoundary: Record<string, TreeEntry> = {};
  for (const stage of COMPLETED) {
    // ODM goes on with the next stage once this one's checkpoint is committed (the race with a
    // next stage that starts at once is checkpointer.test.ts's)
    await sidecar.waitFor(new RegExp(`"msg":"checkpoint committed after stage ${stage}"`), 120_000);
    atBoundary = snapshotTree(dir1);
    writeFileSync(join(ctl, `${stage}.go`), '');
  }
  await until('odm_dem under way', () => existsSync(join(dir1, 'odm_dem/dsm_r0.56_x0_y0.tif')), 60_000, 20);
  job.kill('SIGKILL');
  sidecar.child.kill('SIGKILL');
  const killed = await sidecar.done;
  assert.equal(killed.signal, 'SIGKILL');
  const commits = killed.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('checkpoint committed'));
  assert.equal(commits.length, COMPLETED.length);
  assert.ok(commits.every((l) => typeof l.files === 'number' && typeof l.bytesSent === 'number' && typeof l.bytesReused === 'number' && typeof l.seconds === 'number'));
  t.diagnostic(`checkpoints (stage seconds sent/copied/reused): ${commits.map((l) => `${String(l.stage)} ${String(l.seconds)}s ${String(l.bytesSent)}/${String(l.bytesCopied)}/${String(l.bytesReused)}`).join('; ')}`);
  // prompt: committed within seconds of the stage line (these stages change at most a few MiB)
  assert.ok(commits.every((l) => (l.seconds as number) < 10), `seconds from stage line to commit: ${commits.map((l) => l.seconds).join(', ')}`);
  // later checkpoints send what changed, not everything again
  assert.ok(commits.slice(1).every((l) => (l.bytesReused as number) > 0), `bytes reused: ${commits.map((l) => l.bytesReused).join(', ')}`);
  assert.ok(commits.some((l) => (l.bytesCopied as number) > 0), `a streamed product is copied server-side, not sent again: ${commits.map((l) => l.bytesCopied).join(', ')}`);
  assert.ok(atBoundary['img_list.txt']?.mode === '600' && atBoundary['opensfm/run_sfm.sh']?.mode === '755', 'the tree has modes worth restoring');
  assert.ok(!('odm_dem/dsm_r0.56_x0_y0.tif' in atBoundary));

  // 3. a new pod: inputs and the newest checkpoint into a fresh directory, in one init container
  const dir2 = tmpDir(t, 'cp-kill-resumed');
  const marker = join(tmpDir(t, 'cp-kill-marker'), 'ready.json');
  const restored = await download(dir2, ['--restore', '--checkpoint-prefix', `s3://${bucket}/ck/`, '--ready-file', marker]);
  assert.equal(restored.code, 0, restored.stdout.slice(-3000) + restored.stderr);
  assert.ok(existsSync(marker));
  assert.ok(restored.logs.some((l) => l.summary === 'restore' && l.stage === 'odm_georeferencing'));
  assert.deepEqual(snapshotTree(dir2), atBoundary, 'restored tree = the tree at the last completed boundary');
  assert.deepEqual(snapshotTree(join(dir2, 'images'), []), snapshotTree(join(dir1, 'images'), []), 'the inputs are back too');

  // the same checkpoint restored over the killed job's own directory (a retry that gets the same
  // volume back): the half-done odm_dem goes, or ODM would take its folder for a finished stage
  const over = await runCli(['restore', '--output-dir', dir1, '--checkpoint-prefix', `s3://${bucket}/ck/`], env);
  assert.equal(over.code, 0, over.stderr);
  assert.deepEqual(snapshotTree(dir1), atBoundary);
  assert.ok(!existsSync(join(dir1, 'odm_dem')));

  // 4. ODM started again on it: the completed stages skip themselves, the rest runs, the job succeeds
  const resumed = startCli(runArgs(dir2, 'out/', ['--checkpoint-prefix', `s3://${bucket}/ck/`]), env);
  t.after(() => resumed.child.kill('SIGKILL'));
  await resumed.waitFor(/"msg":"watching /);
  mkdirSync(dir2, { recursive: true });
  const replay = await replayOdm({ dir: dir2, pauseMs: PAUSE_MS, resume: true });
  assert.deepEqual(replay.skipped, COMPLETED);
  const end = await resumed.done;
  assert.equal(end.code, 0, end.stdout.slice(-3000) + end.stderr);

  assert.deepEqual(await contents(s3, bucket, 'out/'), await contents(s3, bucket, 'base/'), 'the output prefix equals the uninterrupted run\'s');
  const manifest = JSON.parse((await getBytes(s3, bucket, 'out/_manifest.json')).toString()) as { complete: boolean; jobSuccess: boolean };
  assert.equal(manifest.complete, true);
  assert.equal(manifest.jobSuccess, true);
  // a finished job needs no checkpoints: the prefix is deleted (unless --keep-checkpoints)
  assert.deepEqual([...(await listPrefix(s3, bucket, 'ck/')).keys()], []);
  assert.ok(end.logs.some((l) => l.msg === 'the job is complete: checkpoints deleted'));
});
