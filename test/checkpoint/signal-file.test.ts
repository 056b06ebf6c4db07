// Jobs that are not ODM: touching --checkpoint-signal-file is the boundary (its first line names
// it). A checkpoint spoiled by a file written after the signal is logged and counted in
// s3_sidecar_checkpoint_failures_total while /readyz stays ready (the job goes on); the next one
// commits; the done file ends the job and, the job having succeeded, the checkpoints go.
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startCli } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { until } from '../helpers/wait.js';
import { labFixture, listPrefix, sidecarEnv, tmpDir } from '../upload/helpers/s3-check.js';

test('the signal file triggers checkpoints; a failed one is counted and leaves /readyz ready; success deletes them', { timeout: 120_000 }, async (t) => {
  const { lab, s3, bucket, dir } = await labFixture(t, 'cp-signal');
  const ctl = tmpDir(t, 'cp-signal-ctl');
  const signal = join(ctl, 'checkpoint');
  const done = join(ctl, 'done');
  const port = await freePort();
  mkdirSync(join(dir, 'state'), { recursive: true });
  writeFileSync(join(dir, 'state/step1.bin'), Buffer.alloc(50_000, 1));
  const sidecar = startCli([
    'run', '--output-dir', dir, '--output-prefix', `s3://${bucket}/out/`, '--output-include', 'results/**',
    '--checkpoint-prefix', `s3://${bucket}/ck/`, '--checkpoint-signal-file', signal, '--done-file', done,
    '--http-addr', `127.0.0.1:${port}`, '--stable-window', '1s',
  ], sidecarEnv(lab));
  t.after(() => sidecar.child.kill('SIGKILL'));
  await sidecar.waitFor(/"msg":"watching /);
  const http = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: r.status, text: await r.text() };
  };

  // the job signals step 1 and goes straight on writing: that checkpoint would be a mix
  // (its mtime set ahead: the scan always finds it newer than the signal, however fast it looks)
  writeFileSync(join(dir, 'state/step2.bin'), Buffer.alloc(50_000, 2));
  const later = new Date(Date.now() + 5000);
  utimesSync(join(dir, 'state/step2.bin'), later, later);
  writeFileSync(signal, 'step1\n');
  await sidecar.waitFor(/"msg":"checkpoint after stage step1 NOT committed/);
  assert.equal((await http('/readyz')).status, 200);
  await until('failure counted', async () => /s3_sidecar_checkpoint_failures_total\{reason="changed"\} 1/.test((await http('/metrics')).text) || 'not yet');

  writeFileSync(`${signal}.tmp`, 'step2\n');
  utimesSync(`${signal}.tmp`, new Date(later.getTime() + 1000), new Date(later.getTime() + 1000)); // after step2.bin's
  renameSync(`${signal}.tmp`, signal);
  await sidecar.waitFor(/"msg":"checkpoint committed after stage step2"/);
  const keys = [...(await listPrefix(s3, bucket, 'ck/')).keys()];
  assert.ok(keys.includes('checkpoints/00000002-step2.json'), keys.join(', '));
  assert.match((await http('/metrics')).text, /s3_sidecar_checkpoints_total 1/);

  mkdirSync(join(dir, 'results'), { recursive: true });
  writeFileSync(join(dir, 'results/out.txt'), 'done');
  writeFileSync(done, '0');
  const end = await sidecar.done;
  assert.equal(end.code, 0, end.stdout.slice(-2000) + end.stderr);
  assert.deepEqual([...(await listPrefix(s3, bucket, 'ck/')).keys()], []);
});
