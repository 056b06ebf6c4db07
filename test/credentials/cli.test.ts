// `s3-sidecar credentials` end to end (dist/cli.js, built by `npm test`) against the lab:
// --once with a prefix-scoped policy and a real client (the AWS CLI from Debian), web identity,
// config errors (exit 2, one line), fatal credential errors (exit 3, one line), and the daemon:
// refreshes within a minute, a control-plane outage (last good kept, then 503 + an error log),
// recovery, metrics, SIGTERM. Last: no secret in any line any of these runs printed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parseLogs, runCli, startCli, type CliResult } from '../helpers/cli.js';
import { labEnv, requireLab } from '../helpers/lab.js';
import { startControlPlane } from './helpers/control-plane.js';
import { bucketWith, tmpDir } from './helpers/fixtures.js';

const run = promisify(execFile);
const tmp = () => tmpDir('cli');

/** Everything the runs below printed, and every secret that was in play, for the final scan. */
const printed: string[] = [];
const secrets = new Set<string>();
function keep(r: { stdout: string; stderr: string }): void {
  printed.push(r.stdout, r.stderr);
}
function secretsFromCredentialsFile(file: string): void {
  for (const m of readFileSync(file, 'utf8').matchAll(/^aws_(?:secret_access_key|session_token) = (.+)$/gm)) secrets.add(m[1]!);
}

const LOG_LINES = (r: CliResult, msg: RegExp) => r.logs.filter((l) => msg.test(String(l.msg)));

test('--once, assume-role, prefix-scoped: hand-offs written, the AWS CLI lists the input prefix and is denied outside it', async (t) => {
  const lab = requireLab(t);
  secrets.add(lab.secretKey);
  const bucket = await bucketWith(t, lab, 'cli', ['job-1/images/IMG_0001.JPG', 'job-2/images/IMG_0001.JPG']);
  const dir = tmp();
  const r = await runCli(['credentials', '--once',
    '--credentials-file', join(dir, 'aws/credentials'), '--config-file', join(dir, 'aws/config'), '--process-file', join(dir, 'aws/process.json'),
    '--aws-env-file', join(dir, 'aws/env'), '--profile', 'job', '--session-duration', '15m'],
  labEnv(lab, {
    AWS_ACCESS_KEY_ID: lab.accessKey, AWS_SECRET_ACCESS_KEY: lab.secretKey, SIDECAR_ASSUME_ROLE_ARN: lab.roleArn,
    S3_INPUT_PREFIX: `s3://${bucket}/job-1/`, S3_OUTPUT_PREFIX: `s3://${bucket}/job-1/output/`, SIDECAR_ROLE_SESSION_NAME: 'odm job 1',
  }));
  keep(r);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '', 'nothing on stderr (no SDK notices)');
  const picked = LOG_LINES(r, /^credentials source: assume-role$/);
  assert.equal(picked.length, 1);
  const got = LOG_LINES(r, /^credentials obtained$/)[0]!;
  assert.equal(got.identity, 'arn:aws:sts:::assumed-role/s3lab-full/odm-job-1');
  assert.match(String(got.accessKey), /^….{4}$/);
  assert.equal(got.packedPolicySize, 0);
  assert.ok(Date.parse(String(got.expiration)) > Date.now() + 10 * 60_000);
  assert.ok(Date.parse(String(got.nextRefresh)) < Date.parse(String(got.expiration)));
  assert.equal(LOG_LINES(r, /session policy scoped/).length, 1);

  const credsFile = join(dir, 'aws/credentials');
  secretsFromCredentialsFile(credsFile);
  for (const f of ['credentials', 'config', 'process.json', 'env']) assert.equal(statSync(join(dir, 'aws', f)).mode & 0o777, 0o600, f);
  const cli = (args: string[]) => run('/usr/bin/aws', ['--endpoint-url', lab.endpoint, '--output', 'json', ...args],
    { env: labEnv(lab, { AWS_ENDPOINT_URL: undefined, AWS_SHARED_CREDENTIALS_FILE: credsFile, AWS_PROFILE: 'job' }), timeout: 60_000 });
  const listed = JSON.parse((await cli(['s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', 'job-1/'])).stdout);
  assert.deepEqual(listed.Contents.map((o: { Key: string }) => o.Key), ['job-1/images/IMG_0001.JPG']);
  await assert.rejects(cli(['s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', 'job-2/']), 'the AWS CLI is refused outside the prefix');
  // the same refusal, with the status the CLI's error printer cannot show (RGW sends an empty <Message>)
  const c = JSON.parse(readFileSync(join(dir, 'aws/process.json'), 'utf8'));
  const s3 = new S3Client({ endpoint: lab.endpoint, region: lab.region, forcePathStyle: true, credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken } });
  t.after(() => s3.destroy());
  await assert.rejects(s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'job-2/' })), (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 403);
  await assert.rejects(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'job-1/images/x.jpg', Body: 'x' })), (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 403);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'job-1/output/odm_report/report.pdf', Body: 'pdf' }));
});

test('--once, auto picks web-identity from AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE', async (t) => {
  const lab = requireLab(t);
  assert.ok(lab.webRoleArn && lab.webIdentityTokenFile);
  secrets.add(readFileSync(lab.webIdentityTokenFile, 'utf8').trim());
  const dir = tmp();
  const r = await runCli(['credentials', '--once', '--process-file', join(dir, 'process.json')],
    labEnv(lab, { AWS_ROLE_ARN: lab.webRoleArn, AWS_WEB_IDENTITY_TOKEN_FILE: lab.webIdentityTokenFile, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' }));
  keep(r);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(LOG_LINES(r, /^credentials source: web-identity$/).length, 1);
  assert.match(String(LOG_LINES(r, /^credentials obtained$/)[0]!.identity), /assumed-role\/s3lab-web\//);
  const c = JSON.parse(readFileSync(join(dir, 'process.json'), 'utf8'));
  secrets.add(c.SecretAccessKey).add(c.SessionToken);
  assert.equal(c.Version, 1);
});

test('configuration errors exit 2 with one line naming the option', async (t) => {
  const lab = requireLab(t);
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['--credentials-source', 'web-identity'], { AWS_ROLE_ARN: 'arn:aws:iam:::role/x' }, /^s3-sidecar: --web-identity-token-file \/ SIDECAR_WEB_IDENTITY_TOKEN_FILE: is required for the web-identity source$/],
    [['--endpoint', '127.0.0.1:0'], {}, /^s3-sidecar: --endpoint-token-file \/ SIDECAR_ENDPOINT_TOKEN_FILE: is required with --endpoint/],
    [['--endpoint', '0.0.0.0:9911', '--endpoint-token-file', join(tmp(), 't')], {}, /^s3-sidecar: --endpoint \/ SIDECAR_ENDPOINT: .*allow-remote/],
    [['--session-duration', '5m'], { SIDECAR_ASSUME_ROLE_ARN: lab.roleArn }, /^s3-sidecar: --session-duration: must be between 15m and 12h/],
    [['--session-tags', 'novalue'], { SIDECAR_ASSUME_ROLE_ARN: lab.roleArn }, /^s3-sidecar: --session-tags: each tag must be key=value/],
    [[], { SIDECAR_CONTROL_PLANE_URL: 'ftp://x/' }, /^s3-sidecar: SIDECAR_CONTROL_PLANE_URL: must be an http/],
    [[], { SIDECAR_ASSUME_ROLE_ARN: lab.roleArn, S3_INPUT_PREFIX: 'bucket/no-scheme/' }, /^s3-sidecar: S3_INPUT_PREFIX: must look like s3:\/\//],
  ];
  for (const [args, env, expected] of cases) {
    const r = await runCli(['credentials', '--once', ...args], labEnv(lab, env));
    keep(r);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr.trim(), expected);
    assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at .*:\d+:\d+/, 'no stack trace');
  }
});

test('no usable credentials: exit 3 with one line (fatal STS error; nothing found by the chain)', async (t) => {
  const lab = requireLab(t);
  const denied = await runCli(['credentials', '--once', '--credentials-file', join(tmp(), 'credentials')],
    labEnv(lab, { AWS_ACCESS_KEY_ID: lab.accessKey, AWS_SECRET_ACCESS_KEY: lab.secretKey, SIDECAR_ASSUME_ROLE_ARN: 'arn:aws:iam:::role/no-such-role' }));
  keep(denied);
  assert.equal(denied.code, 3, denied.stderr);
  assert.equal(denied.stderr.trim().split('\n').length, 1, denied.stderr);
  assert.match(denied.stderr, /^s3-sidecar: no usable credentials: AssumeRole on arn:aws:iam:::role\/no-such-role failed/);
  const none = await runCli(['credentials', '--once'], labEnv(lab, { AWS_ACCESS_KEY_ID: '', SIDECAR_STS_RETRIES: '0' }));
  keep(none);
  assert.equal(none.code, 3, none.stderr);
  assert.match(none.stderr, /^s3-sidecar: no usable credentials: the default credential chain found no credentials/);
});

test('daemon: refreshes before expiry; control plane down -> last good kept, then 503 and an error log; recovery; metrics; SIGTERM', { timeout: 300_000 }, async (t) => {
  const lab = requireLab(t);
  const dir = tmp();
  // The test control plane reports a 20 s lifetime (STS's minimum is 900 s): refresh every ~10 s.
  const cp = await startControlPlane(t, lab, { dir, lifetimeSec: 20 });
  secrets.add(cp.token);
  const credsFile = join(dir, 'aws/credentials');
  const tokenFile = join(dir, 'aws/endpoint-token');
  const p = startCli(['credentials', '--credentials-file', credsFile, '--endpoint', '127.0.0.1:0', '--endpoint-token-file', tokenFile,
    '--http-addr', '127.0.0.1:0', '--refresh-max-backoff', '2s'],
  labEnv(lab, { SIDECAR_CONTROL_PLANE_URL: cp.url, SIDECAR_CONTROL_PLANE_TOKEN_FILE: cp.tokenFile }));
  t.after(() => p.child.kill('SIGKILL'));
  const url = String(JSON.parse(await p.waitFor(/credentials endpoint listening/)).url);
  const health = String(JSON.parse(await p.waitFor(/health listener on/)).address);
  await p.waitFor(/"credentials obtained"/);
  const token = readFileSync(tokenFile, 'utf8');
  secrets.add(token);
  const ask = async () => {
    const res = await fetch(url, { headers: { authorization: token } });
    return { status: res.status, body: await res.json() as Record<string, string> };
  };
  const refreshed = () => parseLogs(p.stdout()).filter((l) => l.msg === 'credentials refreshed').length;

  // 1. several refreshes in well under a minute, each before the previous credentials expired
  const t0 = Date.now();
  const seen = new Set<string>();
  while (refreshed() < 3) {
    const a = await ask();
    assert.equal(a.status, 200);
    assert.ok(Date.parse(a.body.Expiration!) > Date.now(), 'the endpoint never serves expired credentials');
    seen.add(a.body.AccessKeyId!);
    secrets.add(a.body.SecretAccessKey!).add(a.body.Token!);
    if (Date.now() - t0 > 120_000) assert.fail(`only ${refreshed()} refreshes in 2 min`);
    await sleep(500);
  }
  t.diagnostic(`3 refreshes in ${Math.round((Date.now() - t0) / 1000)} s; ${seen.size} distinct keys served`);
  assert.ok(seen.size >= 3);
  secretsFromCredentialsFile(credsFile);
  assert.equal(statSync(credsFile).mode & 0o777, 0o600);

  // 2. outage: refreshes fail, the last good credentials are still served until they expire
  await cp.down();
  const lastGood = (await ask()).body;
  await p.waitFor(/credential refresh failed, keeping the last good credentials/, 60_000);
  const during = await ask();
  if (Date.parse(lastGood.Expiration!) > Date.now() + 1000) {
    assert.equal(during.status, 200);
    assert.equal(during.body.AccessKeyId, lastGood.AccessKeyId);
  }
  // 3. ... then they expire: the process says so, the endpoint answers 503
  await p.waitFor(/credentials expired and no refresh has succeeded/, 60_000);
  const after = await ask();
  assert.equal(after.status, 503);
  assert.equal(after.body.Code, 'CredentialsUnavailable');
  const ready = await fetch(`http://${health}/readyz`);
  assert.equal(ready.status, 503, 'not ready while holding nothing valid');

  // 4. recovery when the control plane returns
  const before = refreshed();
  await cp.up();
  while (refreshed() === before) await sleep(200);
  const back = await ask();
  assert.equal(back.status, 200);
  assert.notEqual(back.body.AccessKeyId, lastGood.AccessKeyId);
  secrets.add(back.body.SecretAccessKey!).add(back.body.Token!);

  // 5. metrics: endpoint requests by status, refresh outcomes, expiry gauge
  const metrics = await (await fetch(`http://${health}/metrics`)).text();
  assert.match(metrics, /s3_sidecar_endpoint_requests_total\{status="200"\} [1-9]/);
  assert.match(metrics, /s3_sidecar_endpoint_requests_total\{status="503"\} [1-9]/);
  assert.match(metrics, /s3_sidecar_credential_refresh_total\{outcome="failure",reason="network"\} [1-9]/);
  assert.match(metrics, /s3_sidecar_credential_refresh_total\{outcome="success",reason="scheduled"\} [1-9]/);
  assert.match(metrics, /s3_sidecar_credentials_expiry_seconds \d+(\.\d+)?\n/, "positive: valid credentials held");

  // 6. SIGTERM: clean exit 0
  p.child.kill('SIGTERM');
  const done = await p.done;
  keep(done);
  assert.equal(done.code, 0, done.stderr);
  assert.ok(LOG_LINES(done, /^credentials endpoint refused/).every((l) => l.status === 503));
  for (const s of cp.issuedSecrets) secrets.add(s);
});

test('daemon with long-lived keys (chain, no expiry): writes the file with a rolling expiry, stays up until SIGTERM, exits 0', async (t) => {
  const lab = requireLab(t);
  const file = join(tmp(), 'credentials');
  const p = startCli(['credentials', '--credentials-source', 'chain', '--credentials-file', file],
    labEnv(lab, { AWS_ACCESS_KEY_ID: lab.accessKey, AWS_SECRET_ACCESS_KEY: lab.secretKey }));
  t.after(() => p.child.kill('SIGKILL'));
  const line = JSON.parse(await p.waitFor(/"credentials obtained"/));
  // a key without expiry is claimed for an hour from each read, and read again at half of that
  const inMin = (iso: string) => (Date.parse(iso) - Date.now()) / 60_000;
  assert.ok(inMin(line.expiration) > 58 && inMin(line.expiration) <= 60, `expiration in an hour: ${line.expiration}`);
  assert.ok(inMin(line.nextRefresh) > 25 && inMin(line.nextRefresh) <= 30, `read again in about 30 min: ${line.nextRefresh}`);
  assert.match(String(line.staticKey), /read again at each refresh/);
  await sleep(1_500);
  assert.equal(p.child.exitCode, null, 'still running: nothing to refresh is no reason to exit');
  assert.match(readFileSync(file, 'utf8'), new RegExp(`aws_access_key_id = ${lab.accessKey}`));
  p.child.kill('SIGTERM');
  const done = await p.done;
  keep(done);
  assert.equal(done.code, 0, done.stderr);
});

test('no secret (secret key, session token, bearer or endpoint token, web identity token) in any line printed above', () => {
  assert.ok(printed.length >= 10 && secrets.size >= 10, `scanned ${printed.length} outputs for ${secrets.size} secrets`);
  const all = printed.join('\n');
  for (const s of secrets) {
    assert.ok(s.length >= 8);
    assert.ok(!all.includes(s), `a secret (…${s.slice(-4)}) appeared in the output`);
  }
});
