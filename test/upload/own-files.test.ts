// What must never leave the output dir: files reached through a symlink that points outside it
// (file or folder), the journal, the credential hand-offs the sidecar itself writes there, the
// done marker. And a second sidecar over the same dir re-sends only what changed.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, startCli } from '../helpers/cli.js';
import { getBytes, labFixture, listPrefix, sha256, sidecarEnv } from './helpers/s3-check.js';

test('symlinks out of the output dir are not followed; journal, credential files and the done file are never uploaded', { timeout: 180_000 }, async (t) => {
  const { lab, s3, bucket, dir: root } = await labFixture(t, 'own');
  const out = join(root, 'out');
  const outside = join(root, 'outside');
  mkdirSync(join(out, 'data'), { recursive: true });
  mkdirSync(join(outside, 'folder'), { recursive: true });
  const secret = `TOP-SECRET-${randomBytes(8).toString('hex')}`;
  writeFileSync(join(outside, 'secret.txt'), secret);
  writeFileSync(join(outside, 'folder', 'more-secret.txt'), secret);
  const product = randomBytes(200_000);
  writeFileSync(join(out, 'data', 'a.tif'), product);
  symlinkSync(join(outside, 'secret.txt'), join(out, 'data', 'link-out.txt'));
  symlinkSync(join(outside, 'folder'), join(out, 'dir-out'));
  symlinkSync('/etc/passwd', join(out, 'passwd'));
  symlinkSync(join(out, 'data', 'a.tif'), join(out, 'link-in.tif')); // inside: uploaded with the target's bytes

  const prefix = 'job/';
  const sidecar = startCli([
    'run', '--output-dir', out, '--output-prefix', `s3://${bucket}/${prefix}`, '--stable-window', '500ms',
    '--credentials-file', join(out, 'aws', 'credentials'), '--config-file', join(out, 'aws', 'config'),
    '--done-file', join(out, 'DONE'),
  ], sidecarEnv(lab));
  t.after(() => sidecar.child.kill('SIGKILL'));
  await sidecar.waitFor(/"msg":"watching /);
  assert.ok(existsSync(join(out, 'aws', 'credentials')), 'the sidecar wrote its credentials file into the output dir');
  await sidecar.waitFor(/"msg":"uploaded".*"job\/link-in.tif"|"key":"job\/link-in.tif".*"msg":"uploaded"/);
  writeFileSync(join(out, 'DONE'), '0\n');
  const r = await sidecar.done;
  assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);
  assert.ok(existsSync(join(out, '.s3-sidecar', 'journal.json')));

  const keys = [...(await listPrefix(s3, bucket, prefix)).keys()].sort();
  assert.deepEqual(keys, ['_manifest.json', 'data/a.tif', 'link-in.tif']);
  assert.equal(sha256(await getBytes(s3, bucket, `${prefix}link-in.tif`)), sha256(product));
  for (const k of keys) assert.ok(!(await getBytes(s3, bucket, prefix + k)).toString('latin1').includes(secret), k);
  const warned = r.logs.filter((l) => l.msg === 'not following a symlink that points outside the output dir').map((l) => l.path).sort();
  assert.deepEqual(warned, ['data/link-out.txt', 'dir-out', 'passwd']);
  const manifest = JSON.parse((await getBytes(s3, bucket, `${prefix}_manifest.json`)).toString()) as { endedBy: string; jobSuccess: boolean; files: { path: string }[] };
  assert.equal(manifest.endedBy, 'done-file');
  assert.equal(manifest.jobSuccess, true);
  assert.deepEqual(manifest.files.map((f) => f.path), ['data/a.tif', 'link-in.tif']);

  // One-shot upload over the same dir: the journal vouches for everything; one changed file goes up.
  // A credentials file written by a separate credentials container (same env) stays out too.
  writeFileSync(join(out, 'data', 'b.tif'), randomBytes(1000));
  mkdirSync(join(out, '.aws'));
  writeFileSync(join(out, '.aws', 'credentials'), `[default]\naws_secret_access_key = ${secret}\n`);
  const again = await runCli(['upload', '--output-dir', out, '--output-prefix', `s3://${bucket}/${prefix}`],
    sidecarEnv(lab, { SIDECAR_CREDENTIALS_FILE: join(out, '.aws', 'credentials') }));
  assert.equal(again.code, 0, again.stdout.slice(-3000) + again.stderr);
  assert.deepEqual(again.logs.filter((l) => l.msg === 'uploaded').map((l) => l.key), [`${prefix}data/b.tif`]);
  assert.deepEqual([...(await listPrefix(s3, bucket, prefix)).keys()].sort(), ['_manifest.json', 'data/a.tif', 'data/b.tif', 'link-in.tif']);
  assert.ok(!again.stdout.includes(secret) && !r.stdout.includes(secret));
});

test('upload: bad configuration exits 2 with one line naming the option', async () => {
  const missing = await runCli(['upload', '--output-prefix', 's3://bk/p/'], { PATH: process.env.PATH });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^s3-sidecar: --output-dir \/ SIDECAR_OUTPUT_DIR: is required\n$/);
  const notDir = await runCli(['upload', '--output-dir', '/nonexistent/x', '--output-prefix', 's3://bk/p/'], { PATH: process.env.PATH });
  assert.equal(notDir.code, 2);
  assert.match(notDir.stderr, /--output-dir: \/nonexistent\/x is not a directory/);
  const badUri = await runCli(['run', '--output-dir', '/tmp', '--output-prefix', 'bucket/p'], { PATH: process.env.PATH });
  assert.equal(badUri.code, 2);
  assert.match(badUri.stderr, /--output-prefix: must look like s3:\/\/bucket\/prefix\//);
});
