// No secret in any log line or error message of the in-process flows: every source (success and
// failure), the refresher through an outage, every hand-off and every endpoint answer. Logs are
// captured through SIDECAR_LOG_FD at debug level; error messages (and their causes) are collected.
// (The CLI flows are scanned the same way at the end of cli.test.ts.)
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { requireLab } from '../helpers/lab.js';
import { startControlPlane } from './helpers/control-plane.js';

const dir = mkdtempSync(join(tmpdir(), 's3-sidecar-secrets-'));
const logFile = join(dir, 'log.jsonl');
// before src/log.ts is first imported (below, dynamically): it reads these once
process.env.SIDECAR_LOG_FD = String(openSync(logFile, 'a'));
process.env.SIDECAR_LOG_LEVEL = 'debug';

const errors: string[] = [];
function collect(err: unknown): void {
  for (let e = err as { message?: string; cause?: unknown; stack?: string } | undefined, i = 0; e && i < 5; e = e.cause as typeof e, i++) {
    errors.push(String(e.message), String(e.stack), JSON.stringify(e, Object.getOwnPropertyNames(e)));
  }
}
async function expectFailure(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p.catch((e: unknown) => { collect(e); throw e; }));
}

test('every in-process flow, then a scan of every log line and error message', { timeout: 300_000 }, async (t) => {
  const lab = requireLab(t);
  const { loadConfig } = await import('../../src/config.js');
  const { startCredentialsEngine } = await import('../../src/credentials/engine.js');
  const { fromWebIdentity } = await import('../../src/credentials/sources/web-identity.js');
  const { createStsClient } = await import('../../src/credentials/sts.js');
  const secrets = new Set<string>([lab.secretKey]);
  const webToken = readFileSync(lab.webIdentityTokenFile!, 'utf8').trim();
  secrets.add(webToken);

  // control plane: success with every hand-off and endpoint requests (good, missing, wrong token)
  const cp = await startControlPlane(t, lab, { dir, lifetimeSec: 30 });
  secrets.add(cp.token);
  const handoffArgs = ['--credentials-file', join(dir, 'credentials'), '--config-file', join(dir, 'config'), '--process-file', join(dir, 'process.json'),
    '--aws-env-file', join(dir, 'env'), '--endpoint', '127.0.0.1:0', '--endpoint-token-file', join(dir, 'endpoint-token'), '--refresh-max-backoff', '1s'];
  const env = { AWS_ENDPOINT_URL: lab.endpoint, AWS_REGION: lab.region, SIDECAR_CONTROL_PLANE_URL: cp.url, SIDECAR_CONTROL_PLANE_TOKEN_FILE: cp.tokenFile };
  const engine = await startCredentialsEngine(loadConfig('credentials', handoffArgs, env), { handoffs: true, loop: true });
  const endpointToken = readFileSync(join(dir, 'endpoint-token'), 'utf8');
  secrets.add(endpointToken);
  const url = /"url":"([^"]+)"/.exec(readFileSync(logFile, 'utf8').split('\n').filter((l) => l.includes('endpoint listening')).pop()!)![1]!;
  for (const authorization of [endpointToken, 'wrong-token-value', undefined]) {
    await fetch(url, { headers: authorization ? { authorization } : {} });
  }
  await engine.holder.refreshNow('test');
  // outage: the forced refresh fails, and the failure is logged
  await cp.down();
  await expectFailure(engine.holder.refreshNow('test-outage'));
  await cp.up();
  // wrong bearer token: fatal at start
  writeFileSync(cp.tokenFile, 'wrong-bearer-token-value');
  secrets.add('wrong-bearer-token-value');
  await expectFailure(startCredentialsEngine(loadConfig('credentials', [], env), { handoffs: false, loop: false }));
  writeFileSync(cp.tokenFile, cp.token);
  await engine.stop();

  // assume-role: success, and a denied role
  const roleEnv = { AWS_ENDPOINT_URL: lab.endpoint, AWS_REGION: lab.region, SIDECAR_ASSUME_ROLE_ARN: lab.roleArn, S3_INPUT_PREFIX: 's3://in/job/' };
  process.env.AWS_ACCESS_KEY_ID = lab.accessKey;
  process.env.AWS_SECRET_ACCESS_KEY = lab.secretKey;
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'none');
  process.env.AWS_CONFIG_FILE = join(dir, 'none');
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  const role = await startCredentialsEngine(loadConfig('credentials', [], roleEnv), { handoffs: false, loop: false });
  const rc = await role.holder.provider();
  secrets.add(rc.secretAccessKey).add(rc.sessionToken!);
  await role.stop();
  await expectFailure(startCredentialsEngine(loadConfig('credentials', [], { ...roleEnv, SIDECAR_ASSUME_ROLE_ARN: 'arn:aws:iam:::role/none' }), { handoffs: false, loop: false }));

  // web identity: success, and a forged token
  const webEnv = { AWS_ENDPOINT_URL: lab.endpoint, AWS_REGION: lab.region, AWS_ROLE_ARN: lab.webRoleArn!, AWS_WEB_IDENTITY_TOKEN_FILE: lab.webIdentityTokenFile! };
  const web = await startCredentialsEngine(loadConfig('credentials', [], webEnv), { handoffs: false, loop: false });
  const wc = await web.holder.provider();
  secrets.add(wc.secretAccessKey).add(wc.sessionToken!);
  await web.stop();
  const forged = join(dir, 'forged-token');
  const forgedToken = `${webToken.split('.').slice(0, 2).join('.')}.Zm9yZ2VkLXNpZ25hdHVyZQ`;
  writeFileSync(forged, forgedToken);
  secrets.add(forgedToken);
  const sts = createStsClient(loadConfig('credentials', [], webEnv));
  await expectFailure(fromWebIdentity({ sts, roleArn: lab.webRoleArn!, tokenFile: forged, sessionName: 'forged', durationSeconds: 900 })());
  sts.destroy();

  // chain: static keys from the environment
  const chain = await startCredentialsEngine(loadConfig('credentials', ['--credentials-source', 'chain'], { AWS_REGION: lab.region }), { handoffs: false, loop: false });
  await chain.stop();
  delete process.env.AWS_ACCESS_KEY_ID;
  delete process.env.AWS_SECRET_ACCESS_KEY;
  for (const s of cp.issuedSecrets) secrets.add(s);
  for (const m of readFileSync(join(dir, 'credentials'), 'utf8').matchAll(/= (.+)$/gm)) if (m[1]!.length > 20) secrets.add(m[1]!);

  const lines = readFileSync(logFile, 'utf8').split('\n').filter(Boolean);
  const redacted = lines.filter((l) => l.includes('[REDACTED]'));
  t.diagnostic(`${lines.length} log lines and ${errors.length} error texts scanned for ${secrets.size} secrets; ${redacted.length} lines needed the scrubber`);
  assert.deepEqual(redacted, [], 'no code path even tried to log a secret (the scrubber is a second guard, not the first)');
  assert.ok(lines.length >= 15, 'the flows logged');
  assert.ok(lines.some((l) => l.includes('credential refresh failed')), 'the outage was logged');
  assert.ok(lines.some((l) => l.includes('credentials endpoint refused')), 'the refused endpoint requests were logged');
  assert.ok(errors.length >= 4);
  const text = [...lines, ...errors].join('\n');
  for (const s of secrets) assert.ok(!text.includes(s), `a secret (…${s.slice(-4)}) appeared in a log line or error message`);
});

test('the broker: issuance, every refusal, an STS denial and the sidecars it serves; then a scan of everything they printed', { timeout: 180_000 }, async (t) => {
  const lab = requireLab(t);
  const { startBroker } = await import('../broker/helpers/broker.js');
  const { labToken, podClaims, strangerKey, testIssuer } = await import('../broker/helpers/issuer.js');
  const { runCli } = await import('../helpers/cli.js');
  const { labEnv } = await import('../helpers/lab.js');
  const other = await testIssuer(t);
  const broker = await startBroker(t, lab, {
    config: {
      issuers: [{ name: 'lab', issuer: lab.oidcIssuer, audience: 's3-sidecar-broker' }, { name: 'other', issuer: other.url, audience: 's3-sidecar-broker' }],
      rules: [
        { name: 'odm', issuer: 'lab', namespace: 'odm', roleArn: lab.roleArn, input: 's3://bucket-c/{pod}/in/', output: 's3://bucket-c/{pod}/out/', durationSeconds: 900 },
        { name: 'untrusted-role', issuer: 'other', roleArn: 'arn:aws:iam:::role/does-not-exist', input: 's3://bucket-c/{pod}/', durationSeconds: 900 },
      ],
    },
    args: ['--rate-burst', '3', '--rate-limit', '1'],
  });
  const secrets = new Set<string>([lab.secretKey]);
  const printed: string[] = [];
  const pod = { namespace: 'odm', serviceAccount: 'runner', pod: 'p-1' };
  const good = labToken(lab, pod);
  const tokens = [good, labToken(lab, pod, { ttlSec: -60 }), labToken(lab, pod, { audience: 'sts.amazonaws.com' }), labToken(lab, { ...pod, namespace: 'nobody' }),
    await other.mint(podClaims(pod), { key: await strangerKey() }), await other.mint(podClaims(pod))];
  for (const tok of tokens) secrets.add(tok);
  for (const tok of [...tokens, good, good, good]) {
    const r = await broker.get(tok);
    const c = r.body.Credentials as { SecretAccessKey?: string; SessionToken?: string } | undefined;
    if (c?.SecretAccessKey) secrets.add(c.SecretAccessKey).add(c.SessionToken!);
  }
  const statuses = await Promise.all([broker.metric('s3_sidecar_broker_requests_total', { status: '200' }), broker.metric('s3_sidecar_broker_requests_total', { status: '401' }),
    broker.metric('s3_sidecar_broker_requests_total', { status: '403' }), broker.metric('s3_sidecar_broker_requests_total', { status: '429' }), broker.metric('s3_sidecar_broker_requests_total', { status: '502' })]);
  assert.deepEqual(statuses, [3, 3, 1, 1, 1], 'issued, refused (expired, audience, signature), no rule, rate limited, STS denied');
  // the sidecar's side of a success (another pod: p-1 is over its rate limit) and of a refusal
  const sidecarToken = labToken(lab, { ...pod, pod: 'p-2' });
  secrets.add(sidecarToken);
  for (const tok of [sidecarToken, tokens[1]!]) {
    const tokenFile = join(dir, 'broker-token');
    writeFileSync(tokenFile, tok);
    const r = await runCli(['credentials', '--once', '--credentials-file', join(dir, 'broker-credentials'), '--log-level', 'debug'], labEnv(lab, { SIDECAR_CONTROL_PLANE_URL: broker.url, SIDECAR_CONTROL_PLANE_TOKEN_FILE: tokenFile }));
    printed.push(r.stdout, r.stderr);
  }
  for (const m of readFileSync(join(dir, 'broker-credentials'), 'utf8').matchAll(/= (.+)$/gm)) if (m[1]!.length > 20) secrets.add(m[1]!);
  await broker.stop();
  printed.push(broker.proc.stdout(), broker.proc.stderr());
  const lines = printed.join('\n').split('\n').filter(Boolean);
  t.diagnostic(`${lines.length} lines of the broker and its sidecars scanned for ${secrets.size} secrets`);
  assert.ok(lines.some((l) => l.includes('"msg":"credentials issued"')) && lines.some((l) => l.includes('token refused')) && lines.some((l) => l.includes('AssumeRole failed')));
  assert.deepEqual(lines.filter((l) => l.includes('[REDACTED]')), [], 'no code path even tried to log a secret');
  const text = lines.join('\n');
  for (const s of secrets) assert.ok(!text.includes(s), `a secret (…${s.slice(-4)}) appeared in the broker's or a sidecar's output`);
});

// What the process prints besides the log: /readyz reasons, stderr lines, error messages cut to a
// length. The control plane here echoes its bearer token at the end of a long error message, so
// a cut made before scrubbing would keep a fragment of it. Also: assume-role's base credentials,
// read from a shared file (not the environment), are registered as secrets.
test('readyz reasons, stderr lines and cut messages are scrubbed; assume-role base credentials are registered', { timeout: 120_000 }, async (t) => {
  const lab = requireLab(t);
  const { loadConfig } = await import('../../src/config.js');
  const { startCredentialsEngine } = await import('../../src/credentials/engine.js');
  const { startHealthServer } = await import('../../src/health/server.js');
  const { forgetSecret, scrub } = await import('../../src/log.js');
  const { runCli } = await import('../helpers/cli.js');
  const { labEnv } = await import('../helpers/lab.js');
  const cp = await startControlPlane(t, lab, { dir, lifetimeSec: 60 });
  const env = { AWS_ENDPOINT_URL: lab.endpoint, AWS_REGION: lab.region, SIDECAR_CONTROL_PLANE_URL: cp.url, SIDECAR_CONTROL_PLANE_TOKEN_FILE: cp.tokenFile };
  const engine = await startCredentialsEngine(loadConfig('credentials', [], env), { handoffs: false, loop: true });
  t.after(() => engine.stop());
  const health = await startHealthServer({ httpAddr: '127.0.0.1:0', endpointAllowRemote: false }, { credentials: engine.holder });
  t.after(() => health.stop());
  cp.failWith = 403;
  cp.errorMessage = `${'x'.repeat(190)} token was ${cp.token}`;
  await expectFailure(engine.holder.refreshNow('test-echo'));
  const readyz = await (await fetch(`http://${health.address}/readyz`)).text();
  assert.match(readyz, /credential refresh failing/);
  const cli = await runCli(['credentials', '--once'], labEnv(lab, { SIDECAR_CONTROL_PLANE_URL: cp.url, SIDECAR_CONTROL_PLANE_TOKEN_FILE: cp.tokenFile }));
  assert.equal(cli.code, 3, cli.stderr);
  assert.match(cli.stderr, /^s3-sidecar: no usable credentials: /);
  const printed = [readyz, cli.stderr, cli.stdout, ...errors].join('\n');
  for (let i = 0; i + 8 <= cp.token.length; i++) assert.ok(!printed.includes(cp.token.slice(i, i + 8)), `a fragment of the bearer token was printed: ${cp.token.slice(i, i + 8)}`);

  // assume-role with base credentials from a shared credentials file
  forgetSecret(lab.secretKey);
  const shared = join(dir, 'base-credentials');
  writeFileSync(shared, `[default]\naws_access_key_id = ${lab.accessKey}\naws_secret_access_key = ${lab.secretKey}\n`);
  process.env.AWS_SHARED_CREDENTIALS_FILE = shared;
  const role = await startCredentialsEngine(loadConfig('credentials', [], { AWS_ENDPOINT_URL: lab.endpoint, AWS_REGION: lab.region, SIDECAR_ASSUME_ROLE_ARN: lab.roleArn }), { handoffs: false, loop: false });
  await role.stop();
  assert.equal(scrub(`base ${lab.secretKey}`), 'base [REDACTED]', 'the base secret is registered');
});
