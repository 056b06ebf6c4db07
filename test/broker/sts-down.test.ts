// STS down: the broker reaches the lab's STS through a TCP proxy the test cuts (the shared lab
// itself cannot be stopped). The broker answers 503 with Retry-After; a sidecar — the real
// credentials engine with the control-plane source, in process so its refresh can be forced
// instead of waited for — keeps its last good credentials, and recovers when STS is back.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireLab } from '../helpers/lab.js';
import { tmpDir } from '../credentials/helpers/fixtures.js';
import { startTcpProxy } from '../upload/helpers/tcp-proxy.js';
import { startBroker } from './helpers/broker.js';
import { labToken } from './helpers/issuer.js';

process.env.SIDECAR_LOG_LEVEL ??= 'silent'; // before src/log.ts is imported (below, dynamically)

test('STS down: the broker answers 503, the sidecar keeps its last good credentials and recovers when STS returns', { timeout: 180_000 }, async (t) => {
  const lab = requireLab(t);
  const { loadConfig } = await import('../../src/config.js');
  const { startCredentialsEngine } = await import('../../src/credentials/engine.js');
  const proxy = await startTcpProxy(t, Number(new URL(lab.endpoint).port));
  const broker = await startBroker(t, lab, {
    config: { issuers: [{ name: 'lab', issuer: lab.oidcIssuer, audience: 's3-sidecar-broker' }], rules: [{ name: 'odm', namespace: 'odm', roleArn: lab.roleArn, input: 's3://bucket-c/{pod}/', durationSeconds: 900 }] },
    // no cache: every request reaches STS, so the outage shows at once
    args: ['--cache-max-age', '0s', '--sts-retries', '0', '--rate-burst', '100'],
    stsEndpoint: proxy.endpoint,
  });
  const dir = tmpDir('broker-sts-down');
  const tokenFile = join(dir, 'token');
  const token = labToken(lab, { namespace: 'odm', serviceAccount: 'default', pod: 'p-1' });
  writeFileSync(tokenFile, token);
  const config = loadConfig('credentials', ['--refresh-max-backoff', '1s', '--sts-retries', '1'], { AWS_REGION: lab.region, SIDECAR_CONTROL_PLANE_URL: broker.url, SIDECAR_CONTROL_PLANE_TOKEN_FILE: tokenFile });
  const engine = await startCredentialsEngine(config, { handoffs: false, loop: true });
  t.after(() => engine.stop());
  const first = engine.holder.current()!;
  assert.equal(first.identity, 'arn:aws:sts:::assumed-role/s3lab-full/odm.p-1');

  await proxy.cut();
  const r = await broker.get(token);
  assert.equal(r.status, 503, JSON.stringify(r.body));
  assert.equal(r.body.reason, 'sts-unavailable');
  assert.ok(Number(r.headers.get('retry-after')) > 0);
  await assert.rejects(engine.holder.refreshNow('sts-down'), (e: { retryable?: boolean; message?: string }) => e.retryable === true && /HTTP 503/.test(String(e.message)));
  assert.equal(engine.holder.current()?.accessKeyId, first.accessKeyId, 'the last good credentials are kept');
  assert.ok(engine.holder.status!().failures >= 1);
  assert.ok(await broker.metric('s3_sidecar_broker_sts_calls_total', { outcome: 'failure' }) >= 2);
  assert.ok(await broker.metric('s3_sidecar_broker_issuances_total', { rule: 'odm', result: 'sts-error' }) >= 2);
  const ready = await fetch(`${broker.healthUrl}/readyz`);
  assert.equal(ready.status, 200, 'the broker itself stays ready (its own credentials are fine)');

  await proxy.restore();
  await sleep(1_200); // the sidecar's backoff (--refresh-max-backoff 1s)
  const again = await engine.holder.refreshNow('sts-back');
  assert.notEqual(again.accessKeyId, first.accessKeyId, 'fresh credentials once STS is back');
  assert.equal(engine.holder.status!().failures, 0);
  assert.equal((await broker.get(token)).status, 200);
});
