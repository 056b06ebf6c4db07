// The refresher (CredentialHolder) against a test control plane that calls the real STS:
// one in-flight call for concurrent callers, background refresh before expiry, last good kept
// through an outage but never handed out once expired, recovery, one-shot (lazy) refresh, and
// the daemon's own S3 client refreshing + retrying once when S3 rejects the session.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config.js';
import { Refresher } from '../../src/credentials/refresher.js';
import { fromControlPlane } from '../../src/credentials/sources/control-plane.js';
import { CredentialError, type Credentials } from '../../src/credentials/types.js';
import { credentialsCheck } from '../../src/health/checks.js';
import { metrics } from '../../src/metrics.js';
import { createS3Client } from '../../src/s3/sdk-client.js';
import { requireLab, tempBucket } from '../helpers/lab.js';
import { startControlPlane, type StubControlPlane } from './helpers/control-plane.js';
import { tmpDir } from './helpers/fixtures.js';
import { until } from '../helpers/wait.js';

const tmp = () => tmpDir('refresh');

function refresherFor(t: TestContext, cp: StubControlPlane, opts: { loop: boolean; maxBackoffMs?: number; onUpdate?: (c: Credentials) => Promise<void> }): Refresher {
  const r = new Refresher({
    source: fromControlPlane({ url: cp.url, tokenFile: cp.tokenFile, retries: 0 }),
    sourceName: 'control-plane',
    minRemainingMs: 20 * 60_000,
    maxBackoffMs: opts.maxBackoffMs ?? 300_000,
    loop: opts.loop,
    onUpdate: opts.onUpdate,
  });
  t.after(() => r.stop());
  return r;
}

test('concurrent refresh requests share one in-flight call', async (t) => {
  const lab = requireLab(t);
  const cp = await startControlPlane(t, lab, { dir: tmp() });
  const r = refresherFor(t, cp, { loop: false });
  const first = await r.start();
  assert.equal(cp.calls, 1);
  const results = await Promise.all(Array.from({ length: 20 }, () => r.refreshNow('test')));
  assert.equal(cp.calls, 2, 'twenty callers, one control-plane call');
  assert.ok(results.every((c) => c === results[0]));
  assert.notEqual(results[0]!.accessKeyId, first.accessKeyId);
  const p = await r.provider();
  assert.ok(p === results[0]);
  assert.ok(p.expiration instanceof Date, 'the provider hands the SDK an expiration');
});

test('background refresh: several refreshes before each expiry, every hand-off written, never an expired one', async (t) => {
  const lab = requireLab(t);
  const cp = await startControlPlane(t, lab, { dir: tmp(), lifetimeSec: 6 });
  const handed: { at: number; c: Credentials }[] = [];
  const r = refresherFor(t, cp, { loop: true, onUpdate: async (c) => { handed.push({ at: Date.now(), c }); } });
  await r.start();
  await until('4 refreshes', () => handed.length >= 5, 90_000);
  r.stop();
  for (let i = 1; i < handed.length; i++) {
    const prev = handed[i - 1]!;
    assert.ok(handed[i]!.at < prev.c.expiration!.getTime(), `refresh ${i} came before the previous credentials expired`);
    assert.notEqual(handed[i]!.c.accessKeyId, prev.c.accessKeyId);
  }
});

test('outage: last good kept until expiry, then nothing valid is handed out; recovery when the control plane returns', async (t) => {
  const lab = requireLab(t);
  const cp = await startControlPlane(t, lab, { dir: tmp(), lifetimeSec: 8 });
  const r = refresherFor(t, cp, { loop: true, maxBackoffMs: 1_000 });
  const good = await r.start();
  await cp.down();
  const failuresBefore = (await metrics.refreshTotal.get()).values.filter((v) => v.labels.outcome === 'failure').reduce((n, v) => n + v.value, 0);
  // refresh is due at ~4 s and fails; until ~8 s the last good credentials are still served
  await until('the scheduled refresh to fail', () => Date.now() > good.expiration!.getTime() - 3_000, 30_000);
  assert.equal(r.current()?.accessKeyId, good.accessKeyId);
  assert.equal((await r.provider()).accessKeyId, good.accessKeyId);
  await until('the credentials to expire', () => Date.now() > good.expiration!.getTime() + 200, 30_000);
  assert.ok(r.current() === undefined, 'expired credentials are not valid');
  await assert.rejects(r.provider(), CredentialError);
  const failuresAfter = (await metrics.refreshTotal.get()).values.filter((v) => v.labels.outcome === 'failure').reduce((n, v) => n + v.value, 0);
  assert.ok(failuresAfter > failuresBefore + 2, 'retries kept going with backoff');
  await cp.up();
  await until('recovery', () => r.current() !== undefined, 30_000);
  assert.notEqual(r.current()!.accessKeyId, good.accessKeyId);
});

test('a fatal error at start is thrown as a non-retryable CredentialError', async (t) => {
  const lab = requireLab(t);
  const cp = await startControlPlane(t, lab, { dir: tmp() });
  cp.failWith = 403;
  const r = refresherFor(t, cp, { loop: true });
  await assert.rejects(r.start(), (e: unknown) => e instanceof CredentialError && !e.retryable && e.reason === 'AccessDenied');
  assert.ok(r.current() === undefined);
});

test('one-shot (no loop): no timers; a caller that finds the refresh due triggers it', async (t) => {
  const lab = requireLab(t);
  const cp = await startControlPlane(t, lab, { dir: tmp(), lifetimeSec: 30 });
  const r = refresherFor(t, cp, { loop: false });
  const first = await r.start();
  await sleep(15_500); // due at about half the 30 s lifetime
  assert.equal(cp.calls, 1, 'nothing refreshes on its own');
  assert.equal((await r.provider()).accessKeyId, first.accessKeyId, 'still valid: answered at once, refresh started behind it');
  await until('the background refresh', () => cp.calls === 2 && r.current() !== first, 30_000);
});

test("the daemon's S3 client: a session S3 rejects is refreshed once and the request retried", async (t) => {
  const lab = requireLab(t);
  const bucket = await tempBucket(t, lab, 'refresh');
  const cp = await startControlPlane(t, lab, { dir: tmp(), lifetimeSec: 50 });
  cp.corruptNext = 1; // the first credentials are bad: RGW answers 403, as for an expired session
  const r = refresherFor(t, cp, { loop: false });
  await r.start();
  const config = loadConfig('upload', [], { AWS_ENDPOINT_URL: lab.endpoint, AWS_REGION: lab.region });
  const s3 = createS3Client(config, r, { maxSockets: 4, maxAttempts: 1 });
  t.after(() => s3.destroy());
  const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  assert.equal(out.$metadata.httpStatusCode, 200);
  assert.equal(cp.calls, 2, 'one forced refresh');
});

test('readiness: ready through a short outage, not ready once the upstream fails past its budget or fatally; ready again after recovery', async (t) => {
  const lab = requireLab(t);
  const cp = await startControlPlane(t, lab, { dir: tmp(), lifetimeSec: 60 });
  // the refresher promises 50 s of the 60 s lifetime: after ~10 s without a refresh it is past its budget
  const r = new Refresher({ source: fromControlPlane({ url: cp.url, tokenFile: cp.tokenFile, retries: 0 }), sourceName: 'control-plane', minRemainingMs: 50_000, maxBackoffMs: 1_000, loop: false });
  t.after(() => r.stop());
  const check = credentialsCheck(r);
  await r.start();
  assert.equal((await check()).ok, true);

  cp.failWith = 500;
  await assert.rejects(r.refreshNow('test'));
  const early = await check();
  assert.equal(early.ok, true, 'a retryable failure with plenty of lifetime left is not an outage yet');
  assert.equal(early.detail?.refreshFailures, 1);

  await until('the held credentials to drop below the promised lifetime', () => r.status().withinBudget === false, 30_000);
  const late = await check();
  assert.equal(late.ok, false);
  assert.match(late.reason!, /past its retry budget.*still work until/);

  cp.failWith = undefined;
  await sleep(1_100); // past the backoff
  await r.refreshNow('test');
  assert.equal((await check()).ok, true);

  cp.failWith = 401;
  await sleep(1_100);
  await assert.rejects(r.refreshNow('test'));
  const fatal = await check();
  assert.equal(fatal.ok, false);
  assert.match(fatal.reason!, /retrying will not fix/);
});
