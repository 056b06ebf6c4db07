// The hand-off dir may be writable by the job. Symlinks, hard links and FIFOs planted at the
// hand-off names must never make the sidecar copy what they point at into a hand-off file (nor
// hang it); temp files a crash left are removed at start; a hand-off write that hangs never holds
// up the refresh. Against the real STS (through the fake control plane in helpers/).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, lstatSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { startCredentialsEngine } from '../../src/credentials/engine.js';
import { Refresher } from '../../src/credentials/refresher.js';
import { fromControlPlane } from '../../src/credentials/sources/control-plane.js';
import { requireLab } from '../helpers/lab.js';
import { startControlPlane } from './helpers/control-plane.js';
import { tmpDir } from './helpers/fixtures.js';

test('planted symlinks, hard links and FIFOs in the hand-off dir: the secret they point at never appears in any hand-off file', { timeout: 60_000 }, async (t) => {
  const lab = requireLab(t);
  const dir = tmpDir('trust-handoff');
  const cp = await startControlPlane(t, lab, { dir, lifetimeSec: 60 });
  const secretFile = join(dir, 'sidecar-only-secret');
  const secret = 'SIDECAR-ONLY-SECRET-1234567890';
  writeFileSync(secretFile, `[leak]\nvalue = ${secret}\n`, { mode: 0o600 });
  const out = join(dir, 'handoff');
  execFileSync('mkdir', ['-p', out]);
  symlinkSync(secretFile, join(out, 'credentials'));
  symlinkSync(cp.tokenFile, join(out, 'config'));
  linkSync(secretFile, join(out, 'env'));
  execFileSync('mkfifo', [join(out, 'process.json')]);
  const stale = join(out, '.credentials.0123456789ab.tmp');
  writeFileSync(stale, 'aws_secret_access_key = left by a crash');

  const args = ['--credentials-file', join(out, 'credentials'), '--config-file', join(out, 'config'), '--process-file', join(out, 'process.json'), '--aws-env-file', join(out, 'env')];
  const engine = await startCredentialsEngine(loadConfig('credentials', args, { AWS_ENDPOINT_URL: lab.endpoint, AWS_REGION: lab.region, SIDECAR_CONTROL_PLANE_URL: cp.url, SIDECAR_CONTROL_PLANE_TOKEN_FILE: cp.tokenFile }), { handoffs: true, loop: true });
  t.after(() => engine.stop());
  await engine.holder.refreshNow('test'); // a second rewrite, from the files the sidecar wrote itself
  await new Promise((r) => setTimeout(r, 500));

  assert.ok(!existsSync(stale), 'the temp file a crash left is removed');
  for (const name of readdirSync(out)) {
    const st = lstatSync(join(out, name));
    assert.ok(st.isFile() && st.nlink === 1, `${name} is now a regular file of the sidecar's`);
    const text = readFileSync(join(out, name), 'utf8');
    assert.ok(!text.includes(secret) && !text.includes(cp.token), `${name} holds nothing the planted links pointed at`);
  }
  assert.match(readFileSync(join(out, 'credentials'), 'utf8'), /aws_secret_access_key = /);
  assert.match(readFileSync(join(out, 'config'), 'utf8'), /credential_process = cat /);
  assert.equal(readFileSync(secretFile, 'utf8'), `[leak]\nvalue = ${secret}\n`, 'the target is untouched');
});

test('a hand-off write that hangs (a stuck volume) never stops the refresh loop', { timeout: 60_000 }, async (t) => {
  const lab = requireLab(t);
  const dir = tmpDir('trust-hang');
  const cp = await startControlPlane(t, lab, { dir, lifetimeSec: 60 });
  let writes = 0;
  const refresher = new Refresher({
    source: fromControlPlane({ url: cp.url, tokenFile: cp.tokenFile, retries: 0 }),
    sourceName: 'control-plane', minRemainingMs: 1000, maxBackoffMs: 1000, loop: true,
    // the first write succeeds; every later one never returns
    onUpdate: () => (writes++ === 0 ? Promise.resolve() : new Promise<void>(() => {})),
  });
  t.after(() => refresher.stop());
  const first = await refresher.start();
  const keys = new Set([first.accessKeyId]);
  for (let i = 0; i < 3; i++) {
    const c = await Promise.race([refresher.refreshNow('test'), new Promise<never>((_, no) => setTimeout(() => no(new Error('refresh blocked by a hung hand-off')), 10_000))]);
    keys.add(c.accessKeyId);
    assert.equal(refresher.current()?.accessKeyId, c.accessKeyId, 'the new credentials are taken first');
  }
  assert.equal(keys.size, 4);
  assert.equal(writes, 4, 'every refresh still tried its hand-off');
});
