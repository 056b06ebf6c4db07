// Each credential source obtains working credentials from the real lab (S3 accepts them), and
// failures are classified: fatal errors say so, outages are retryable.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { toCredentialError } from '../../src/credentials/errors.js';
import { fromAssumeRole } from '../../src/credentials/sources/assume-role.js';
import { envCredentials, fromChain } from '../../src/credentials/sources/chain.js';
import { fromControlPlane, parseControlPlaneBody } from '../../src/credentials/sources/control-plane.js';
import { fromWebIdentity } from '../../src/credentials/sources/web-identity.js';
import { sanitizeSessionName } from '../../src/credentials/sts.js';
import { CredentialError, type Credentials } from '../../src/credentials/types.js';
import { requireLab, tempBucket, type Lab } from '../helpers/lab.js';
import { startControlPlane } from './helpers/control-plane.js';
import { adminSts, assumedCredentials, tmpDir } from './helpers/fixtures.js';

const tmp = () => tmpDir('src');

/** Prove the credentials are real: write and list an object with them. */
async function works(t: TestContext, lab: Lab, c: Credentials): Promise<void> {
  const bucket = await tempBucket(t, lab, 'src');
  const s3 = new S3Client({ endpoint: lab.endpoint, region: lab.region, forcePathStyle: true, credentials: c });
  t.after(() => s3.destroy());
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'probe.txt', Body: 'ok' }));
  assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount, 1);
}

async function rejectsWith(p: Promise<unknown>, check: { retryable: boolean; reason?: RegExp; message?: RegExp }): Promise<CredentialError> {
  let caught: unknown;
  await assert.rejects(p.catch((e: unknown) => { caught = e; throw e; }));
  assert.ok(caught instanceof CredentialError, `expected a CredentialError, got ${String(caught)}`);
  assert.equal(caught.retryable, check.retryable, `${caught.message} (reason ${caught.reason})`);
  if (check.reason) assert.match(caught.reason, check.reason);
  if (check.message) assert.match(caught.message, check.message);
  return caught;
}

test('control-plane: container JSON and STS JSON from a control plane that calls the real STS', async (t) => {
  const lab = requireLab(t);
  for (const shape of ['container', 'sts'] as const) {
    const cp = await startControlPlane(t, lab, { dir: tmp(), shape });
    const c = await fromControlPlane({ url: cp.url, tokenFile: cp.tokenFile, retries: 0 })();
    assert.equal(c.source, 'control-plane');
    assert.ok(c.sessionToken && c.expiration && c.expiration.getTime() > Date.now());
    if (shape === 'sts') assert.match(c.identity ?? '', /assumed-role\/s3lab-full/);
    await works(t, lab, c);
  }
});

test('control-plane: the token file is re-read on every call (projected tokens rotate)', async (t) => {
  const lab = requireLab(t);
  const cp = await startControlPlane(t, lab, { dir: tmp() });
  const fetch = fromControlPlane({ url: cp.url, tokenFile: cp.tokenFile, retries: 0 });
  await fetch();
  writeFileSync(cp.tokenFile, 'rotated-but-wrong-token');
  const e = await rejectsWith(fetch(), { retryable: false, reason: /AccessDenied/, message: /HTTP 401/ });
  assert.doesNotMatch(e.message, new RegExp(cp.token));
  writeFileSync(cp.tokenFile, cp.token);
  await fetch();
  assert.equal(cp.calls, 2);
});

test('control-plane: 5xx and an unreachable server are retryable; retries happen before giving up', async (t) => {
  const lab = requireLab(t);
  const cp = await startControlPlane(t, lab, { dir: tmp() });
  cp.failWith = 503;
  await rejectsWith(fromControlPlane({ url: cp.url, tokenFile: cp.tokenFile, retries: 1 })(), { retryable: true, message: /HTTP 503/ });
  cp.failWith = undefined;
  await cp.down();
  await rejectsWith(fromControlPlane({ url: cp.url, tokenFile: cp.tokenFile, retries: 2 })(), { retryable: true, reason: /network/, message: /ECONNREFUSED/ });
  // comes back during the retries: the fetch succeeds
  const pending = fromControlPlane({ url: cp.url, tokenFile: cp.tokenFile, retries: 4 })();
  setTimeout(() => void cp.up(), 300);
  assert.ok((await pending).accessKeyId);
});

test('control-plane over https with a private CA: refused without --control-plane-ca-file, works with it', async (t) => {
  const lab = requireLab(t);
  const dir = tmp();
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const cp = await startControlPlane(t, lab, { dir, tls: { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') } });
  assert.match(cp.url, /^https:/);
  await rejectsWith(fromControlPlane({ url: cp.url, tokenFile: cp.tokenFile, retries: 0 })(), { retryable: true, message: /SELF_SIGNED|self.signed/i });
  const c = await fromControlPlane({ url: cp.url, tokenFile: cp.tokenFile, caFile: join(dir, 'cert.pem'), retries: 0 })();
  await works(t, lab, c);
});

test('control-plane: answers without the required fields are refused, never handed out', () => {
  assert.throws(() => parseControlPlaneBody('{"AccessKeyId":"A","SecretAccessKey":"","Token":"t","Expiration":"2030-01-01T00:00:00Z"}'), /without SecretAccessKey/);
  assert.throws(() => parseControlPlaneBody('{"AccessKeyId":"A","SecretAccessKey":"s"}'), /without Expiration/);
  assert.throws(() => parseControlPlaneBody('<html>'), /not JSON/);
  assert.throws(() => parseControlPlaneBody('{"AccessKeyId":"A","SecretAccessKey":"s","Expiration":"soon"}'), /unreadable Expiration/);
  const c = parseControlPlaneBody('{"Credentials":{"AccessKeyId":"A","SecretAccessKey":"s","SessionToken":"t","Expiration":"2030-01-01T00:00:00Z"}}');
  assert.equal(c.sessionToken, 't');
  assert.equal(c.expiration?.toISOString(), '2030-01-01T00:00:00.000Z');
});

test('web-identity: AssumeRoleWithWebIdentity against the lab OIDC provider; the token file is re-read', async (t) => {
  const lab = requireLab(t);
  assert.ok(lab.webRoleArn && lab.webIdentityTokenFile && lab.dir, 'the lab has an OIDC provider');
  const dir = tmp();
  const tokenFile = join(dir, 'token');
  const mint = (sub: string) => execFileSync(process.execPath, [new URL('../lab/oidc.mjs', import.meta.url).pathname, 'token', sub, '600'],
    { env: { ...process.env, OIDC_DIR: join(lab.dir!, 'oidc'), OIDC_PORT: new URL(lab.oidcIssuer!).port }, encoding: 'utf8' });
  writeFileSync(tokenFile, mint('system:serviceaccount:odm:job-1'));
  const sts = new STSClient({ region: lab.region, endpoint: lab.endpoint, maxAttempts: 1 });
  t.after(() => sts.destroy());
  const fetch = fromWebIdentity({ sts, roleArn: lab.webRoleArn, tokenFile, sessionName: 'web-test', durationSeconds: 900 });
  const c = await fetch();
  assert.equal(c.identity, 'arn:aws:sts:::assumed-role/s3lab-web/web-test');
  await works(t, lab, c);
  // a token the issuer did not sign: fatal (retrying will not fix it)
  writeFileSync(tokenFile, `${mint('x').split('.').slice(0, 2).join('.')}.c2lnbmF0dXJl`);
  await rejectsWith(fetch(), { retryable: false, message: /AssumeRoleWithWebIdentity/ });
  // the rotated (valid) token is picked up on the next call
  writeFileSync(tokenFile, mint('system:serviceaccount:odm:job-1'));
  assert.ok((await fetch()).accessKeyId);
  writeFileSync(tokenFile, '');
  await rejectsWith(fetch(), { retryable: true, reason: /token-file/, message: /empty/ });
});

test('assume-role: session name, identity from the response (no GetCallerIdentity), external ID and tags accepted', async (t) => {
  const lab = requireLab(t);
  const sts = adminSts(t, lab);
  const c = await fromAssumeRole({ sts, roleArn: lab.roleArn, sessionName: sanitizeSessionName('odm job #7 / pod:abc'), durationSeconds: 900, externalId: 'ext-0123', tags: [{ Key: 'job', Value: '7' }] })();
  assert.equal(c.identity, 'arn:aws:sts:::assumed-role/s3lab-full/odm-job--7---pod-abc');
  assert.ok(c.expiration!.getTime() - Date.now() > 800_000);
  await works(t, lab, c);
});

test('assume-role: a missing role and bad base credentials are fatal', async (t) => {
  const lab = requireLab(t);
  const sts = adminSts(t, lab);
  const bad = adminSts(t, lab, 'wrong-secret-wrong-secret-wrong-secret00');
  await rejectsWith(fromAssumeRole({ sts, roleArn: 'arn:aws:iam:::role/does-not-exist', sessionName: 'x1', durationSeconds: 900 })(), { retryable: false, message: /AssumeRole on arn:aws:iam:::role\/does-not-exist failed/ });
  await rejectsWith(fromAssumeRole({ sts: bad, roleArn: lab.roleArn, sessionName: 'x1', durationSeconds: 900 })(), { retryable: false, reason: /AccessDenied/ });
  // beyond the role's MaxSessionDuration (3600 on the lab)
  await rejectsWith(fromAssumeRole({ sts, roleArn: lab.roleArn, sessionName: 'x1', durationSeconds: 7200 })(), { retryable: false });
});

test('session names are sanitised to 2-64 characters of [\\w+=,.@-]', () => {
  assert.equal(sanitizeSessionName('a'), 'a-');
  assert.equal(sanitizeSessionName('x'.repeat(80)).length, 64);
  assert.match(sanitizeSessionName(undefined), /^s3-sidecar-[\w+=,.@-]+$/);
  assert.equal(sanitizeSessionName('ok_name=1,2.3@4-5'), 'ok_name=1,2.3@4-5');
});

/** Run `fn` with process.env changed, restoring it afterwards (the chain reads process.env). */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  try { return await fn(); } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

test('chain: static keys + session token from the environment', async (t) => {
  const lab = requireLab(t);
  const session = await assumedCredentials(t, lab, 'chain-test');
  const c = await withEnv({
    AWS_ACCESS_KEY_ID: session.accessKeyId, AWS_SECRET_ACCESS_KEY: session.secretAccessKey, AWS_SESSION_TOKEN: session.sessionToken,
    AWS_CREDENTIAL_EXPIRATION: session.expiration!.toISOString(), AWS_PROFILE: undefined,
  }, () => fromChain()());
  assert.equal(c.source, 'chain');
  assert.equal(c.sessionToken, session.sessionToken);
  assert.equal(c.expiration?.getTime(), session.expiration!.getTime());
  await works(t, lab, c);
});

test('chain: keys in the environment are read as the SDK chain reads them, and skipped like it when AWS_PROFILE is set', async () => {
  const vars = {
    AWS_ACCESS_KEY_ID: 'AKIDENVTEST', AWS_SECRET_ACCESS_KEY: 'env-secret', AWS_SESSION_TOKEN: 'env-token',
    AWS_CREDENTIAL_EXPIRATION: '2030-01-02T03:04:05Z', AWS_PROFILE: undefined,
  };
  await withEnv(vars, async () => {
    const sdk = await defaultProvider({ ignoreCache: true })();
    const ours = await fromChain()();
    assert.deepEqual(
      { id: ours.accessKeyId, secret: ours.secretAccessKey, token: ours.sessionToken, exp: ours.expiration?.getTime() },
      { id: sdk.accessKeyId, secret: sdk.secretAccessKey, token: sdk.sessionToken, exp: sdk.expiration?.getTime() },
    );
  });
  // a profile was asked for: the environment's keys are not used, by the SDK or by the fast path
  const file = join(tmp(), 'credentials');
  writeFileSync(file, '[other]\naws_access_key_id = AKIDFILE\naws_secret_access_key = file-secret\n');
  await withEnv({ ...vars, AWS_PROFILE: 'other', AWS_SHARED_CREDENTIALS_FILE: file, AWS_CONFIG_FILE: join(tmp(), 'none') }, async () => {
    assert.equal(envCredentials(process.env, 'chain'), undefined);
    assert.equal((await fromChain()()).accessKeyId, 'AKIDFILE');
  });
});

test('chain: empty AWS_ACCESS_KEY_ID falls through to the next link (a shared credentials file), it does not fail', async (t) => {
  const lab = requireLab(t);
  const file = join(tmp(), 'credentials');
  writeFileSync(file, `[default]\naws_access_key_id = ${lab.accessKey}\naws_secret_access_key = ${lab.secretKey}\n`);
  const c = await withEnv({
    AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SESSION_TOKEN: '', AWS_SHARED_CREDENTIALS_FILE: file,
    AWS_CONFIG_FILE: join(tmp(), 'none'), AWS_PROFILE: undefined, AWS_EC2_METADATA_DISABLED: 'true',
  }, () => fromChain('static')());
  assert.equal(c.accessKeyId, lab.accessKey);
  assert.equal(c.source, 'static');
  await works(t, lab, c);
  // nothing anywhere: a clear error naming where it looked
  await withEnv({
    AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SHARED_CREDENTIALS_FILE: join(tmp(), 'none'), AWS_CONFIG_FILE: join(tmp(), 'none'),
    AWS_PROFILE: undefined, AWS_EC2_METADATA_DISABLED: 'true', AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined, AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
  }, () => rejectsWith(fromChain()(), { retryable: true, reason: /no-credentials/, message: /AWS_ACCESS_KEY_ID/ }));
});

test('error classification: throttling and 5xx retry; denials and bad policies do not', () => {
  const e = (name: string, status?: number) => Object.assign(new Error('m'), { name, $metadata: { httpStatusCode: status } });
  for (const [err, retryable] of [
    [e('Throttling', 400), true], [e('IDPCommunicationError', 400), true], [e('Unknown', 503), true], [e('Unknown', 500), true],
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), true],
    [e('AccessDenied', 403), false], [e('InvalidIdentityToken', 400), false], [e('MalformedPolicyDocument', 400), false],
    [e('PackedPolicyTooLarge', 400), false], [e('Unknown', 403), false], [e('Unknown', 400), false],
  ] as const) {
    assert.equal(toCredentialError(err, 'op').retryable, retryable, `${err.name} ${(err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode}`);
  }
  assert.equal(toCredentialError(e('Unknown', 403), 'AssumeRole').reason, 'AccessDenied');
});
