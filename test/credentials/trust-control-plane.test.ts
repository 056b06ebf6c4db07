// A broken control plane: Expiration in epoch milliseconds, an Expiration weeks ahead, and a
// caching control plane that answers the same credentials every time while they run down. The
// endpoint must never serve an expiry years (or weeks) ahead, and /readyz must turn red while the
// held credentials still have --refresh-min-remaining left.
// The control plane is the fake in helpers/control-plane.ts (it hands out real STS credentials
// from the lab): the real control plane is whatever the user runs, and these are its failure modes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { parseExpiration } from '../../src/credentials/sources/control-plane.js';
import { parseLogs, startCli, type Running } from '../helpers/cli.js';
import { labEnv, requireLab } from '../helpers/lab.js';
import { startControlPlane, type StubControlPlane } from './helpers/control-plane.js';
import { tmpDir } from './helpers/fixtures.js';

const HOUR = 3_600_000;

test('Expiration as a number: epoch seconds and epoch milliseconds are both understood', () => {
  const at = Date.parse('2026-12-05T06:00:00Z');
  assert.equal(parseExpiration(at / 1000).getTime(), at);
  assert.equal(parseExpiration(at).getTime(), at);
  assert.equal(parseExpiration(String(at)).getTime(), at);
  assert.equal(parseExpiration('2026-12-05T06:00:00Z').getTime(), at);
});

/** The sidecar in daemon mode with the endpoint and the health listener, against `cp`. */
async function sidecar(t: Parameters<typeof requireLab>[0], cp: StubControlPlane, dir: string, extra: string[] = []) {
  const lab = requireLab(t);
  const tokenFile = join(dir, 'endpoint-token');
  const p = startCli(['credentials', '--endpoint', '127.0.0.1:0', '--endpoint-token-file', tokenFile, '--http-addr', '127.0.0.1:0',
    '--refresh-max-backoff', '2s', ...extra], labEnv(lab, { SIDECAR_CONTROL_PLANE_URL: cp.url, SIDECAR_CONTROL_PLANE_TOKEN_FILE: cp.tokenFile }));
  t.after(() => p.child.kill('SIGKILL'));
  const url = String(JSON.parse(await p.waitFor(/credentials endpoint listening/)).url);
  const health = String(JSON.parse(await p.waitFor(/health listener on/)).address);
  await p.waitFor(/"credentials obtained"/);
  const token = readFileSync(tokenFile, 'utf8');
  const ask = async () => {
    const res = await fetch(url, { headers: { authorization: token } });
    const body = await res.json() as Record<string, string>;
    // whatever the control plane claims, the job never sees an expiry more than an hour ahead here
    if (res.status === 200) assert.ok(Date.parse(body.Expiration!) < Date.now() + HOUR, `served Expiration ${body.Expiration}`);
    return { status: res.status, body };
  };
  const ready = async () => {
    const res = await fetch(`http://${health}/readyz`);
    return { status: res.status, body: await res.json() as { checks: Record<string, { reason?: string; detail?: Record<string, unknown> }> } };
  };
  return { p, ask, ready };
}

const logged = (p: Running, msg: RegExp) => parseLogs(p.stdout()).filter((l) => msg.test(String(l.msg)));

test('control plane answering Expiration in epoch ms, then weeks ahead: read right, then refused; the last good credentials are served', { timeout: 120_000 }, async (t) => {
  const lab = requireLab(t);
  const dir = tmpDir('trust-cp-ms');
  const cp = await startControlPlane(t, lab, { dir, lifetimeSec: 20 });
  cp.expirationAs = 'epoch-ms';
  const { p, ask } = await sidecar(t, cp, dir);

  const first = await ask();
  assert.equal(first.status, 200);
  const left = Date.parse(first.body.Expiration!) - Date.now();
  assert.ok(left > 5_000 && left <= 21_000, `epoch ms read as ms: ${left} ms left`);

  // now weeks ahead: refused as a bad answer and retried, the held credentials stay
  cp.expirationAs = 'iso';
  cp.expirationOverride = new Date(Date.now() + 30 * 24 * HOUR);
  await p.waitFor(/more than 7 days ahead: refused as a bad answer/, 60_000);
  const during = await ask();
  if (Date.parse(first.body.Expiration!) > Date.now() + 1000) {
    assert.equal(during.status, 200);
    assert.equal(during.body.AccessKeyId, first.body.AccessKeyId, 'the last good credentials are kept');
  }
  const refused = logged(p, /refused as a bad answer/);
  assert.equal(refused[0]!.level, 'warn');
  assert.equal(refused[0]!.reason, 'implausible-expiration');

  // a sane answer again: accepted at the next retry
  cp.expirationOverride = undefined;
  cp.expirationAs = 'epoch-s';
  await p.waitFor(/"credentials refreshed"/, 30_000);
  const back = await ask();
  assert.equal(back.status, 200);
  assert.notEqual(back.body.AccessKeyId, first.body.AccessKeyId);
  // never: credentials obtained or refreshed with an expiry far ahead
  for (const l of logged(p, /^credentials (obtained|refreshed)$/)) assert.ok(Date.parse(String(l.expiration)) < Date.now() + HOUR, String(l.expiration));
});

test('a caching control plane (the same credentials every time): warned about, /readyz red before --refresh-min-remaining is crossed by much', { timeout: 120_000 }, async (t) => {
  const lab = requireLab(t);
  const dir = tmpDir('trust-cp-cache');
  const cp = await startControlPlane(t, lab, { dir, lifetimeSec: 40 });
  cp.cache = true;
  // 40 s credentials, keep 25 s: the refresh is due after ~15 s and returns the same credentials
  const { p, ask, ready } = await sidecar(t, cp, dir, ['--refresh-min-remaining', '25s']);
  const first = await ask();
  const expiresAt = Date.parse(first.body.Expiration!);
  assert.equal((await ready()).status, 200, 'ready while the credentials have more than 25 s left');

  let red: Awaited<ReturnType<typeof ready>> | undefined;
  while (Date.now() < expiresAt) {
    const r = await ready();
    const a = await ask();
    assert.equal(a.body.AccessKeyId, first.body.AccessKeyId);
    if (r.status === 503) {
      red = r;
      break;
    }
    await sleep(250);
  }
  assert.ok(red, '/readyz turned red before the credentials expired');
  const remainingS = (expiresAt - Date.now()) / 1000;
  t.diagnostic(`red with ${remainingS.toFixed(1)} s left (--refresh-min-remaining 25s)`);
  assert.ok(remainingS > 20, `red in time: ${remainingS} s left`);
  const reason = String(red.body.checks.credentials?.reason);
  assert.match(reason, /not renewed \(a cache in front of it\?\).*below --refresh-min-remaining/);
  assert.ok(cp.calls >= 2, 'the refresh did reach the control plane');
  const warned = logged(p, /expire no later than those held \(a cache in front of it\?\)/);
  assert.equal(warned.length, 1, 'warned once, naming the cause');
  assert.equal(warned[0]!.level, 'warn');
});

test('a duration that would overflow a timer is refused at start with exit 2, naming the option', async () => {
  const { runCli } = await import('../helpers/cli.js');
  const r = await runCli(['credentials', '--refresh-min-remaining', '600h'], { PATH: process.env.PATH });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^s3-sidecar: --refresh-min-remaining: must be at most .*longer does not fit a timer/);
  const env = await runCli(['credentials'], { PATH: process.env.PATH, SIDECAR_REFRESH_MAX_BACKOFF: '720h' });
  assert.equal(env.code, 2, env.stderr);
  assert.match(env.stderr, /SIDECAR_REFRESH_MAX_BACKOFF: must be at most/);
});
