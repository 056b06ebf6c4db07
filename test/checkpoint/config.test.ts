// Checkpoint configuration mistakes are exit 2 with the flag or variable the user set: a
// checkpoint prefix that overlaps the output prefix (it is deleted after the job), --restore
// without a checkpoint prefix, restore without an output dir.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';

const env = { PATH: process.env.PATH, SIDECAR_LOG_LEVEL: 'silent' };

test('checkpoint configuration errors exit 2 and name what the user set', async () => {
  const overlap = await runCli(['run', '--output-dir', '/tmp/cp-config', '--output-prefix', 's3://bucket1/job/'], { ...env, SIDECAR_CHECKPOINT_PREFIX: 's3://bucket1/job/ck/' });
  assert.equal(overlap.code, 2);
  assert.match(overlap.stderr, /--checkpoint-prefix \/ SIDECAR_CHECKPOINT_PREFIX: must not overlap the output prefix s3:\/\/bucket1\/job\//);
  const inside = await runCli(['run', '--output-dir', '/tmp/cp-config', '--output-prefix', 's3://bucket1/job/out/', '--checkpoint-prefix', 's3://bucket1/job/'], env);
  assert.equal(inside.code, 2, 'an output prefix inside the checkpoint prefix would be deleted with it');
  const restore = await runCli(['download', '--input-dir', '/tmp/cp-config', '--input-prefix', 's3://bucket1/in/', '--restore'], env);
  assert.equal(restore.code, 2);
  assert.match(restore.stderr, /--checkpoint-prefix \/ SIDECAR_CHECKPOINT_PREFIX: is required with --restore/);
  const noDir = await runCli(['restore', '--checkpoint-prefix', 's3://bucket1/ck/'], env);
  assert.equal(noDir.code, 2);
  assert.match(noDir.stderr, /--output-dir \/ SIDECAR_OUTPUT_DIR: is required/);
  const badBool = await runCli(['restore', '--output-dir', '/tmp/cp-config'], { ...env, SIDECAR_KEEP_CHECKPOINTS: 'maybe' });
  assert.equal(badBool.code, 2);
  assert.match(badBool.stderr, /SIDECAR_KEEP_CHECKPOINTS: must be true or false/);
});
