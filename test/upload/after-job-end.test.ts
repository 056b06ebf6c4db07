// --after-job-end wait: a Kubernetes native sidecar that exits is restarted by the kubelet, so
// after the final pass it must stay up (still serving credentials) until SIGTERM, then exit 0
// without uploading anything again.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startCli } from '../helpers/cli.js';
import { getBytes, labFixture, sidecarEnv } from './helpers/s3-check.js';

test('--after-job-end wait: final pass and manifest at the done file, then idle until SIGTERM, exit 0', { timeout: 120_000 }, async (t) => {
  const { lab, s3, bucket, dir } = await labFixture(t, 'afterend');
  writeFileSync(join(dir, 'report.pdf'), 'pdf bytes');
  const doneFile = join(dir, '..', `done-${bucket}`);
  const sidecar = startCli([
    'run', '--output-dir', dir, '--output-prefix', `s3://${bucket}/job/`, '--stable-window', '300ms',
    '--done-file', doneFile, '--after-job-end', 'wait',
  ], sidecarEnv(lab, {}));
  t.after(() => sidecar.child.kill('SIGKILL'));
  await sidecar.waitFor(/"msg":"uploaded"|report\.pdf/, 60_000);
  writeFileSync(doneFile, '0');
  await sidecar.waitFor(/serving credentials until SIGTERM/, 60_000);
  const manifest = JSON.parse((await getBytes(s3, bucket, 'job/_manifest.json')).toString()) as { complete: boolean; files: { path: string }[] };
  assert.equal(manifest.complete, true);
  assert.deepEqual(manifest.files.map((f) => f.path), ['report.pdf']);

  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(sidecar.child.exitCode, null, 'still running after the final pass');
  const before = sidecar.stdout().length;
  sidecar.child.kill('SIGTERM');
  const r = await sidecar.done;
  assert.equal(r.code, 0, r.stdout.slice(-2000) + r.stderr);
  assert.doesNotMatch(r.stdout.slice(before), /"msg":"uploaded"/, 'nothing uploaded again after SIGTERM');
});
