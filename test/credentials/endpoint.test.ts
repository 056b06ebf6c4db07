// The container-credentials endpoint: real SDK consumers (the JS SDK's fromHttp and Debian's
// boto3) get working credentials from it; a missing or wrong token is refused; with nothing
// valid it answers 503 with a JSON error; it answers from memory; it is counted in metrics.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test, type TestContext } from 'node:test';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { fromHttp } from '@aws-sdk/credential-providers';
import { ConfigError } from '../../src/config.js';
import { Refresher } from '../../src/credentials/refresher.js';
import { startEndpoint, type Endpoint } from '../../src/credentials/sinks/endpoint.js';
import type { CredentialHolder, Credentials } from '../../src/credentials/types.js';
import { metrics } from '../../src/metrics.js';
import { labEnv, requireLab, type Lab } from '../helpers/lab.js';
import { assumedCredentials, bucketWith, tmpDir } from './helpers/fixtures.js';

const run = promisify(execFile);
const tmp = () => tmpDir('endpoint');

async function endpointFor(t: TestContext, holder: Pick<CredentialHolder, 'current'>, addr = '127.0.0.1:0', allowRemote = false): Promise<Endpoint & { tokenFile: string }> {
  const tokenFile = join(tmp(), 'endpoint-token');
  const ep = await startEndpoint({ addr, tokenFile, allowRemote, file: { mode: 0o600 }, holder });
  t.after(() => ep.close());
  return { ...ep, tokenFile };
}

/** A refresher over real AssumeRole credentials, counting how often the source is called. */
async function realHolder(t: TestContext, lab: Lab): Promise<{ holder: Refresher; calls: () => number }> {
  let calls = 0;
  const holder = new Refresher({ source: () => { calls++; return assumedCredentials(t, lab, 'endpoint-test'); }, sourceName: 'assume-role', minRemainingMs: 1_200_000, maxBackoffMs: 300_000, loop: false });
  t.after(() => holder.stop());
  await holder.start();
  return { holder, calls: () => calls };
}

const get = (url: string, headers: Record<string, string> = {}, method = 'GET') => fetch(url, { method, headers });

test('JS SDK consumer (fromHttp): working credentials answered from memory, wrong token refused', async (t) => {
  const lab = requireLab(t);
  const { holder, calls } = await realHolder(t, lab);
  const ep = await endpointFor(t, holder);
  const bucket = await bucketWith(t, lab, 'endpoint', ['a.txt']);

  const provider = fromHttp({ awsContainerCredentialsFullUri: ep.url, awsContainerAuthorizationTokenFile: ep.tokenFile });
  const creds = await provider();
  assert.equal(creds.accessKeyId, holder.current()!.accessKeyId);
  assert.equal(creds.expiration?.getTime(), holder.current()!.expiration!.getTime());
  const s3 = new S3Client({ endpoint: lab.endpoint, region: lab.region, forcePathStyle: true, credentials: provider });
  t.after(() => s3.destroy());
  assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount, 1);
  for (let i = 0; i < 20; i++) await provider();
  assert.equal(calls(), 1, 'the endpoint answers from memory: STS was called once, at start');

  const wrongFile = join(tmp(), 'wrong');
  writeFileSync(wrongFile, 'not-the-token');
  await assert.rejects(fromHttp({ awsContainerCredentialsFullUri: ep.url, awsContainerAuthorizationTokenFile: wrongFile, maxRetries: 0 })(), /403/);
});

test('boto3 consumer (Debian python3-boto3): container credentials from the endpoint, and a wrong token fails', async (t) => {
  const lab = requireLab(t);
  const { holder } = await realHolder(t, lab);
  const ep = await endpointFor(t, holder);
  const bucket = await bucketWith(t, lab, 'endpoint', ['a.txt']);
  const script = `
import sys, boto3, botocore.config
s = boto3.Session(region_name='${lab.region}')
creds = s.get_credentials()
s3 = s.client('s3', endpoint_url='${lab.endpoint}', config=botocore.config.Config(s3={'addressing_style': 'path'}))
print(creds.method, s3.list_objects_v2(Bucket=sys.argv[1])['KeyCount'])
`;
  // Debian 12's botocore (1.29) predates AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE and reads only
  // AWS_CONTAINER_AUTHORIZATION_TOKEN, so pass the file's content the way a wrapper script would.
  const env = (token: string) => labEnv(lab, { AWS_ENDPOINT_URL: undefined, AWS_CONTAINER_CREDENTIALS_FULL_URI: ep.url, AWS_CONTAINER_AUTHORIZATION_TOKEN: token });
  const { stdout } = await run('/usr/bin/python3', ['-c', script, bucket], { env: env(readFileSync(ep.tokenFile, 'utf8')), timeout: 60_000 });
  assert.equal(stdout.trim(), 'container-role 1');
  await assert.rejects(run('/usr/bin/python3', ['-c', script, bucket], { env: env('not-the-token'), timeout: 60_000 }), (e: { stderr?: string }) => /\(403\)/.test(e.stderr ?? ''));
});

test('token file: random, no trailing newline, 0600; 401 without Authorization, 403 with a wrong one; GET only', async (t) => {
  const lab = requireLab(t);
  const { holder } = await realHolder(t, lab);
  const ep = await endpointFor(t, holder);
  const token = readFileSync(ep.tokenFile, 'utf8');
  assert.match(token, /^[\w-]{40,}$/);
  assert.equal(statSync(ep.tokenFile).mode & 0o777, 0o600);
  const before = await statusCounts();
  const missing = await get(ep.url);
  assert.equal(missing.status, 401);
  assert.equal((await missing.json() as { Code: string }).Code, 'Unauthorized');
  assert.equal((await get(ep.url, { authorization: `${token}x` })).status, 403);
  assert.equal((await get(ep.url, { authorization: `Bearer ${token}` })).status, 403, 'the token itself, not a Bearer form');
  assert.equal((await get(ep.url, { authorization: token }, 'POST')).status, 405);
  const ok = await get(ep.url, { authorization: token });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('content-type'), 'application/json');
  const body = await ok.json() as Record<string, string>;
  assert.deepEqual(Object.keys(body).sort(), ['AccessKeyId', 'Expiration', 'SecretAccessKey', 'Token']);
  const after = await statusCounts();
  assert.equal(after['401']! - (before['401'] ?? 0), 1);
  assert.equal(after['403']! - (before['403'] ?? 0), 2);
  assert.equal(after['200']! - (before['200'] ?? 0), 1);
  const second = await endpointFor(t, holder);
  assert.notEqual(readFileSync(second.tokenFile, 'utf8'), token, 'a fresh token per start');
});

test('no valid credentials: 503 with a JSON error, never empty or expired credentials', async (t) => {
  let held: Credentials | undefined = { accessKeyId: 'AKIDOLD', secretAccessKey: 'old-secret-value', sessionToken: 'old-token-value', expiration: new Date(Date.now() - 1000), source: 'test' };
  // the endpoint's only dependency is current(); the refresher's expiry rule is tested elsewhere
  const ep = await endpointFor(t, { current: () => (held && held.expiration!.getTime() > Date.now() ? held : undefined) });
  const token = readFileSync(ep.tokenFile, 'utf8');
  const res = await get(ep.url, { authorization: token });
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('content-type'), 'application/json');
  const body = await res.json() as Record<string, string>;
  assert.equal(body.Code, 'CredentialsUnavailable');
  assert.equal(body.AccessKeyId, undefined);
  held = undefined;
  assert.equal((await get(ep.url, { authorization: token })).status, 503);
  assert.ok((await statusCounts())['503']! >= 2, 'counted in s3_sidecar_endpoint_requests_total');
});

test('a non-loopback address is refused unless explicitly allowed; a busy port is a config error', async (t) => {
  await assert.rejects(startEndpoint({ addr: '0.0.0.0:0', tokenFile: join(tmp(), 't'), allowRemote: false, file: {}, holder: { current: () => undefined } }),
    (e: unknown) => e instanceof ConfigError && /--endpoint/.test(e.message) && /allow-remote/.test(e.message));
  const open = await endpointFor(t, { current: () => undefined }, '0.0.0.0:0', true);
  assert.match(open.url, /^http:\/\/0\.0\.0\.0:\d+\/$/);
  const ep = await endpointFor(t, { current: () => undefined });
  await assert.rejects(startEndpoint({ addr: ep.url.replace(/^http:\/\/|\/$/g, ''), tokenFile: join(tmp(), 't'), allowRemote: false, file: {}, holder: { current: () => undefined } }), /EADDRINUSE/);
});

async function statusCounts(): Promise<Record<string, number>> {
  const m = await metrics.endpointRequests.get();
  return Object.fromEntries(m.values.map((v) => [String(v.labels.status), v.value]));
}
