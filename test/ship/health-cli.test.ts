// The health listener inside the real daemon (dist/cli.js) against the lab's STS + S3: readiness
// reflects the credentials the engine really holds (and, in run, the watcher), /metrics reports
// their expiry and the refresh, and the exec probe the manifests use agrees.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { runCli, startCli, type Running } from '../helpers/cli.js';
import { labEnv, requireLab, tempBucket, type Lab } from '../helpers/lab.js';
import { freePort } from '../helpers/net.js';

const run = promisify(execFile);
const PROBE = new URL('../../dist/health/probe.js', import.meta.url).pathname;


async function poll(url: string, want: number, timeoutMs = 90_000): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + timeoutMs;
  let last = { status: 0, body: '' };
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      last = { status: res.status, body: await res.text() };
      if (last.status === want) return last;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return last;
}

function daemonEnv(t: TestContext, lab: Lab, extra: (dir: string) => Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'ship-health-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    env: labEnv(lab, {
      AWS_ACCESS_KEY_ID: lab.accessKey,
      AWS_SECRET_ACCESS_KEY: lab.secretKey,
      SIDECAR_ASSUME_ROLE_ARN: lab.roleArn,
      ...extra(dir),
    }),
  };
}

async function stop(t: TestContext, daemon: Running): Promise<number | null> {
  daemon.child.kill('SIGTERM');
  const timer = setTimeout(() => daemon.child.kill('SIGKILL'), 60_000);
  const res = await daemon.done;
  clearTimeout(timer);
  t.diagnostic(`exit ${res.code}`);
  return res.code;
}

test('credentials mode: /readyz is ready once the engine holds STS credentials; /metrics has their expiry and the refresh', async (t) => {
  const lab = requireLab(t);
  const bucket = await tempBucket(t, lab, 'ship-health');
  const port = await freePort();
  const { env } = daemonEnv(t, lab, (dir) => ({
    SIDECAR_HTTP_ADDR: `127.0.0.1:${port}`,
    SIDECAR_CREDENTIALS_FILE: join(dir, 'aws', 'credentials'),
    S3_INPUT_PREFIX: `s3://${bucket}/in/`,
  }));
  const daemon = startCli(['credentials'], env);
  t.after(() => daemon.child.kill('SIGKILL'));
  await daemon.waitFor(/health listener on http:\/\/127\.0\.0\.1:\d+/, 90_000);

  const ready = await poll(`http://127.0.0.1:${port}/readyz`, 200);
  assert.equal(ready.status, 200, ready.body);
  const body = JSON.parse(ready.body) as { ready: boolean; checks: { credentials: { ok: boolean; detail: { source: string; expiresInSeconds: number } } } };
  assert.equal(body.checks.credentials.ok, true);
  assert.equal(body.checks.credentials.detail.source, 'assume-role');
  assert.ok(body.checks.credentials.detail.expiresInSeconds > 600, 'an STS session with its lifetime ahead');
  assert.doesNotMatch(ready.body, new RegExp(lab.secretKey));

  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const expiry = /^s3_sidecar_credentials_expiry_seconds ([\d.e+-]+)$/m.exec(metrics);
  assert.ok(expiry && Number(expiry[1]) > 600, `expiry gauge: ${expiry?.[0]}`);
  assert.match(metrics, /^s3_sidecar_credential_refresh_total\{[^}]*outcome="success"[^}]*\} [1-9]/m);

  const probe = await run(process.execPath, [PROBE, '/readyz'], { env: { PATH: process.env.PATH, SIDECAR_HTTP_ADDR: `127.0.0.1:${port}` } });
  assert.match(probe.stdout, /^200 /);
  assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
  assert.equal(await stop(t, daemon), 0);
});

test('run mode: /readyz needs both the credentials and a running watcher', async (t) => {
  const lab = requireLab(t);
  const bucket = await tempBucket(t, lab, 'ship-health-run');
  const port = await freePort();
  const { env } = daemonEnv(t, lab, (dir) => ({
    SIDECAR_HTTP_ADDR: `127.0.0.1:${port}`,
    SIDECAR_OUTPUT_DIR: dir,
    S3_OUTPUT_PREFIX: `s3://${bucket}/job/output/`,
    SIDECAR_PROGRESS_UDP: 'off',
    SIDECAR_GRACE_PERIOD: '20s',
  }));
  const daemon = startCli(['run', '--preset', 'odm'], env);
  t.after(() => daemon.child.kill('SIGKILL'));
  const ready = await poll(`http://127.0.0.1:${port}/readyz`, 200);
  assert.equal(ready.status, 200, `${ready.body}\n${daemon.stdout().slice(-2000)}`);
  const body = JSON.parse(ready.body) as { checks: Record<string, { ok: boolean }> };
  assert.deepEqual(Object.keys(body.checks).sort(), ['credentials', 'watcher']);
  assert.ok(body.checks.credentials!.ok && body.checks.watcher!.ok);
  assert.equal(await stop(t, daemon), 0);
});

test('every mode: a refused --http-addr exits 2 with one line at once, after stopping what it started', async (t) => {
  const lab = requireLab(t);
  const { env } = daemonEnv(t, lab, (dir) => ({ SIDECAR_HTTP_ADDR: '0.0.0.0:9', SIDECAR_INPUT_DIR: join(dir, 'in'), SIDECAR_OUTPUT_DIR: dir }));
  for (const [mode, ...args] of [
    ['credentials', '--endpoint', '127.0.0.1:0', '--endpoint-token-file', join(tmpdir(), `ship-tok-${process.pid}`)],
    ['download', '--input-prefix', 's3://ship-none/in/'],
    ['run', '--output-prefix', 's3://ship-none/out/', '--progress-udp', 'off'],
    ['upload', '--output-prefix', 's3://ship-none/out/'],
  ] as const) {
    const started = Date.now();
    const res = await runCli([mode, ...args], env, 60_000);
    assert.equal(res.code, 2, `${mode}: ${res.stderr}${res.stdout.slice(-1500)}`);
    assert.match(res.stderr, /^s3-sidecar: SIDECAR_HTTP_ADDR: 0\.0\.0\.0:9 is reachable from outside the pod/, mode);
    assert.equal(res.stderr.trim().split('\n').length, 1, `${mode}: one line`);
    t.diagnostic(`${mode}: exit 2 after ${Date.now() - started} ms`);
  }
});

test('download mode serves the listener while it runs', async (t) => {
  const lab = requireLab(t);
  const bucket = await tempBucket(t, lab, 'ship-health-dl');
  const port = await freePort();
  const { env } = daemonEnv(t, lab, (dir) => ({
    SIDECAR_HTTP_ADDR: `127.0.0.1:${port}`,
    SIDECAR_INPUT_DIR: join(dir, 'in'),
    S3_INPUT_PREFIX: `s3://${bucket}/in/`,
  }));
  const res = await runCli(['download'], env);
  assert.equal(res.code, 0, res.stderr + res.stdout.slice(-2000));
  assert.ok(res.logs.some((l) => l.msg === `health listener on http://127.0.0.1:${port} (/healthz, /readyz, /metrics)`));
});
