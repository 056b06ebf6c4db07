// The health listener: /healthz, /readyz, /metrics on a real loopback socket, the loopback-only
// rule, the wedged-loop detection and the exec probe the Kubernetes examples use.
// Readiness checks here use a plain CredentialHolder object standing in for the credentials
// engine (its interface is three functions); the CLI test at the end uses the real engine.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { CredentialHolder, Credentials } from '../../src/credentials/types.js';

// Capture this process's log lines (src/log.ts writes to SIDECAR_LOG_FD) before anything imports it.
const logDir = mkdtempSync(join(tmpdir(), 'ship-health-'));
const logPath = join(logDir, 'log.jsonl');
process.env.SIDECAR_LOG_FD = String(openSync(logPath, 'w'));
const { ConfigError, loadConfig } = await import('../../src/config.js');
const { startHealthServer } = await import('../../src/health/server.js');
const { parseListenAddress } = await import('../../src/config/listen-address.js');
const { metrics } = await import('../../src/metrics.js');

const run = promisify(execFile);
const PROBE = new URL('../../dist/health/probe.js', import.meta.url).pathname;
const loopback = { httpAddr: '127.0.0.1:0', endpointAllowRemote: false };

function logLines(): Record<string, unknown>[] {
  return readFileSync(logPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function get(address: string, path: string, init?: RequestInit): Promise<{ status: number; type: string; body: string; json: () => Record<string, any> }> {
  const res = await fetch(`http://${address}${path}`, init);
  const body = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', body, json: () => JSON.parse(body) as Record<string, any> };
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function holderOf(get: () => Credentials | undefined): CredentialHolder {
  return { current: get, provider: async () => get()!, refreshNow: async () => get()! };
}

test('off by default: no --http-addr, no listener', async () => {
  const config = loadConfig('run', [], {});
  assert.equal(config.httpAddr, undefined);
  const h = await startHealthServer(config);
  assert.equal(h.address, undefined);
  h.setCheck('x', () => ({ ok: false }));
  await h.stop();
});

test('addresses: loopback forms are accepted, anything else counts as remote, junk names the variable', () => {
  for (const [raw, host, port] of [['127.0.0.1:9912', '127.0.0.1', 9912], ['[::1]:80', '::1', 80], ['9912', '127.0.0.1', 9912], [':9912', '127.0.0.1', 9912], ['localhost:1', 'localhost', 1], ['127.1.2.3:0', '127.1.2.3', 0]] as const) {
    assert.deepEqual(parseListenAddress(raw, 'X'), { host, port, loopback: true }, raw);
  }
  for (const raw of ['0.0.0.0:9912', '[::]:9912', '10.0.0.5:1', 'sidecar.example:1']) assert.equal(parseListenAddress(raw, 'X').loopback, false, raw);
  for (const raw of ['', 'x', '1.2.3.4:99999', '[zz]:1', '1.2.3.4:', 'a b:1']) {
    assert.throws(() => parseListenAddress(raw, 'SIDECAR_HTTP_ADDR'), (e: unknown) => e instanceof ConfigError && e.variable === 'SIDECAR_HTTP_ADDR', raw);
  }
});

test('a non-loopback address is refused unless --endpoint-allow-remote, then allowed with a loud warning', async () => {
  const denied = loadConfig('credentials', ['--http-addr', '0.0.0.0:0'], {});
  await assert.rejects(startHealthServer(denied), (e: unknown) => e instanceof ConfigError && /^--http-addr: 0\.0\.0\.0:0 is reachable from outside the pod/.test(e.message));

  const allowed = loadConfig('credentials', [], { SIDECAR_HTTP_ADDR: '0.0.0.0:0', SIDECAR_ENDPOINT_ALLOW_REMOTE: 'true' });
  const h = await startHealthServer(allowed);
  try {
    const port = h.address!.split(':').pop();
    assert.equal((await get(`127.0.0.1:${port}`, '/healthz')).status, 200);
    const warn = logLines().find((l) => l.level === 'warn' && String(l.msg).includes('NOT loopback'));
    assert.ok(warn, 'a warn line says the listener is reachable from outside the pod');
    assert.equal(warn.address, h.address);
  } finally {
    await h.stop();
  }
});

test('an address already in use is a configuration error naming the option', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  try {
    await assert.rejects(startHealthServer({ httpAddr: `127.0.0.1:${port}`, endpointAllowRemote: false }), /--http-addr \/ SIDECAR_HTTP_ADDR: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
  } finally {
    blocker.close();
  }
});

test('/healthz and /readyz answer JSON; readiness follows the registered checks, with reasons', async () => {
  const h = await startHealthServer(loopback, { checkTimeoutMs: 300 });
  try {
    assert.match(h.address!, /^127\.0\.0\.1:\d+$/);
    const live = await get(h.address!, '/healthz');
    assert.equal(live.status, 200);
    assert.match(live.type, /application\/json/);
    assert.equal(live.json().ok, true);

    assert.deepEqual((await get(h.address!, '/readyz')).json(), { ready: true, checks: {} });

    let watching = true;
    h.setCheck('watcher', () => (watching ? { ok: true } : { ok: false, reason: 'watcher stopped: ENOSPC (raise fs.inotify.max_user_watches)' }));
    assert.equal((await get(h.address!, '/readyz')).status, 200);
    watching = false;
    const notReady = await get(h.address!, '/readyz');
    assert.equal(notReady.status, 503);
    assert.deepEqual(notReady.json(), { ready: false, checks: { watcher: { ok: false, reason: 'watcher stopped: ENOSPC (raise fs.inotify.max_user_watches)' } } });

    h.setCheck('watcher', undefined);
    h.setCheck('throws', () => { throw new Error('upstream S3 failed 11 times in a row'); });
    h.setCheck('hangs', () => new Promise(() => {}));
    const broken = (await get(h.address!, '/readyz')).json();
    assert.equal(broken.ready, false);
    assert.equal(broken.checks.throws.reason, 'check failed: upstream S3 failed 11 times in a row');
    assert.equal(broken.checks.hangs.reason, 'check did not answer within 300 ms');

    h.setCheck('throws', undefined);
    h.setCheck('hangs', undefined);
    assert.equal((await get(h.address!, '/readyz')).status, 200);
    assert.equal((await get(h.address!, '/readyz', { method: 'HEAD' })).status, 200);
    assert.equal((await get(h.address!, '/nope')).status, 404);
    assert.equal((await get(h.address!, '/readyz', { method: 'POST' })).status, 405);
  } finally {
    await h.stop();
  }
});

test('readiness and the expiry gauge follow the held credentials; expired credentials fail with a reason', async () => {
  let creds: Credentials | undefined;
  const holder = holderOf(() => (creds && creds.expiration! > new Date() ? creds : undefined));
  const h = await startHealthServer(loopback, { credentials: holder });
  try {
    const none = await get(h.address!, '/readyz');
    assert.equal(none.status, 503);
    assert.equal(none.json().checks.credentials.reason, 'no valid credentials held yet');

    creds = { accessKeyId: 'ASIAHEALTHTEST000001', secretAccessKey: 'secret-never-shown-000000000000', sessionToken: 'token-never-shown-000000000000', expiration: new Date(Date.now() + 1500), source: 'test' };
    const ok = await get(h.address!, '/readyz');
    assert.equal(ok.status, 200);
    assert.equal(ok.json().checks.credentials.detail.source, 'test');
    assert.ok(ok.json().checks.credentials.detail.expiresInSeconds <= 2);
    assert.doesNotMatch(ok.body, /secret-never-shown|token-never-shown|ASIAHEALTHTEST/);
    const gauge = /^s3_sidecar_credentials_expiry_seconds ([-\d.e]+)$/m.exec((await get(h.address!, '/metrics')).body);
    assert.ok(gauge && Number(gauge[1]) > 0 && Number(gauge[1]) <= 1.5, `gauge positive before expiry: ${gauge?.[1]}`);

    const expired = await until(() => get(h.address!, '/readyz'), (r) => r.status === 503, 10_000);
    assert.equal(expired.status, 503);
    assert.match(expired.json().checks.credentials.reason, /^credentials expired at \d{4}-.*Z and no fresh ones could be fetched$/);
    const after = /^s3_sidecar_credentials_expiry_seconds ([-\d.e]+)$/m.exec((await get(h.address!, '/metrics')).body);
    assert.ok(after && Number(after[1]) < 0, `gauge negative after expiry: ${after?.[1]}`);
  } finally {
    await h.stop();
  }
});

test('/metrics serves every metric the operators alert on, in Prometheus text format', async () => {
  const h = await startHealthServer(loopback);
  try {
    metrics.bytesTotal.inc({ direction: 'upload' }, 12345);
    metrics.objectsTotal.inc({ direction: 'download' }, 3);
    metrics.refreshTotal.inc({ outcome: 'failure', reason: 'Throttling' });
    metrics.endpointRequests.inc({ status: '200' });
    metrics.failuresTotal.inc({ direction: 'upload' });
    metrics.queueDepth.set({ direction: 'upload' }, 7);
    metrics.uploadsInFlight.set(2);
    metrics.lastUploadTime.set(1_700_000_000);
    const res = await get(h.address!, '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.type, /^text\/plain; version=0\.0\.4/);
    for (const name of ['credentials_expiry_seconds', 'credential_refresh_total', 'endpoint_requests_total', 'transfer_bytes_total', 'transfer_objects_total', 'transfer_failures_total', 'queue_depth', 'uploads_in_flight', 'last_upload_timestamp_seconds', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds']) {
      assert.match(res.body, new RegExp(`^# TYPE s3_sidecar_${name} `, 'm'), name);
    }
    assert.match(res.body, /^s3_sidecar_transfer_bytes_total\{direction="upload"\} 12345$/m);
    assert.match(res.body, /^s3_sidecar_credential_refresh_total\{outcome="failure",reason="Throttling"\} 1$/m);
    assert.match(res.body, /^s3_sidecar_queue_depth\{direction="upload"\} 7$/m);
    assert.match(res.body, /^s3_sidecar_uploads_in_flight 2$/m);
  } finally {
    await h.stop();
  }
});

test('/healthz fails while the event loop is being held, and recovers', async () => {
  const h = await startHealthServer(loopback, { heartbeatMs: 50, wedgedAfterMs: 400 });
  try {
    await until(() => get(h.address!, '/healthz'), (r) => r.status === 200);
    const until_ = Date.now() + 1200;
    while (Date.now() < until_) { /* hold the loop, as a synchronous hash of a huge file would */ }
    const wedged = await get(h.address!, '/healthz');
    assert.equal(wedged.status, 503);
    assert.match(wedged.json().reason, /^event loop was blocked for \d+ ms$/);
    assert.ok(wedged.json().eventLoopLagMs >= 400);
    const back = await until(() => get(h.address!, '/healthz'), (r) => r.status === 200);
    assert.equal(back.status, 200);
  } finally {
    await h.stop();
  }
});

test('the exec probe (dist/health/probe.js) exits 0 when ready, 1 with the reason when not, 1 when nothing listens', async () => {
  const h = await startHealthServer(loopback);
  try {
    const env = { PATH: process.env.PATH, SIDECAR_HTTP_ADDR: h.address };
    const ready = await run(process.execPath, [PROBE, '/readyz'], { env });
    assert.match(ready.stdout, /^200 \{"ready":true/);
    h.setCheck('credentials', () => ({ ok: false, reason: 'credentials expired at 2026-01-01T00:00:00.000Z' }));
    const notReady = await run(process.execPath, [PROBE, '/readyz'], { env }).then(() => assert.fail('probe should fail'), (e: { code: number; stdout: string }) => e);
    assert.equal(notReady.code, 1);
    assert.match(notReady.stdout, /^503 .*credentials expired at 2026-01-01/);
    assert.equal((await run(process.execPath, [PROBE, 'healthz', h.address!], { env: { PATH: process.env.PATH } })).stdout.slice(0, 3), '200');
  } finally {
    await h.stop();
  }
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const freePort = (blocker.address() as { port: number }).port;
  await new Promise((r) => blocker.close(r));
  const down = await run(process.execPath, [PROBE], { env: { PATH: process.env.PATH, SIDECAR_HTTP_ADDR: `0.0.0.0:${freePort}` } }).then(() => assert.fail('probe should fail'), (e: { code: number; stdout: string }) => e);
  assert.equal(down.code, 1);
  assert.match(down.stdout, new RegExp(`^probe: http://127\\.0\\.0\\.1:${freePort}/readyz: .*ECONNREFUSED`));
  const unset = await run(process.execPath, [PROBE], { env: { PATH: process.env.PATH } }).then(() => assert.fail('probe should fail'), (e: { code: number; stdout: string }) => e);
  assert.match(unset.stdout, /SIDECAR_HTTP_ADDR is not set/);
});

test('the listener never keeps a finished process alive', async () => {
  const script = `const { startHealthServer } = await import(${JSON.stringify(new URL('../../dist/health/server.js', import.meta.url).href)});
const h = await startHealthServer({ httpAddr: '127.0.0.1:0', endpointAllowRemote: false });
console.error('listening on ' + h.address);`;
  const started = Date.now();
  const r = await run(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH, SIDECAR_LOG_LEVEL: 'silent' }, timeout: 60_000 });
  assert.match(r.stderr, /listening on 127\.0\.0\.1:\d+/);
  assert.ok(Date.now() - started < 60_000);
});

test.after(() => rmSync(logDir, { recursive: true, force: true }));
