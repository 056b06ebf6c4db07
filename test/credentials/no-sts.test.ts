// The recipe for a store without STS (docs/stores.md), end to end against the real server: a
// static key in a credentials file only the sidecar reads (the lab user's key stands in for a
// Garage key), `--s3-provider garage`, and a "job" process whose environment holds no key, only
// where to ask: the loopback endpoint in one run, credential_process in the other. Each writes
// and reads the bucket with the AWS SDK for JavaScript, as a job would.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startCli } from '../helpers/cli.js';
import { labEnv } from '../helpers/lab.js';
import { getBytes, labFixture } from '../upload/helpers/s3-check.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

// The job: put an object, read it back, print what it read and when its credentials expire.
const JOB = `
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
const [bucket, key] = process.argv.slice(1);
const s3 = new S3Client({ forcePathStyle: true });
await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'written by the job' }));
const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
const creds = await s3.config.credentials();
console.log(JSON.stringify({ body: await got.Body.transformToString(), expiration: creds.expiration }));
`;

async function job(env: NodeJS.ProcessEnv, bucket: string, key: string): Promise<{ body: string; expiration?: string }> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', JOB, bucket, key], { cwd: ROOT, env, timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { body: string; expiration?: string };
}

test('no STS: a static key mounted into the sidecar only reaches the job through the endpoint and credential_process', async (t) => {
  const { lab, s3, bucket, dir } = await labFixture(t, 'nosts');
  const secretDir = join(dir, 'secret'); // the Secret volume, mounted into the sidecar only
  const shared = join(dir, 'shared'); // the Memory emptyDir both containers mount
  mkdirSync(secretDir);
  mkdirSync(shared);
  const keyFile = join(secretDir, 'credentials');
  writeFileSync(keyFile, `[default]\naws_access_key_id = ${lab.accessKey}\naws_secret_access_key = ${lab.secretKey}\n`, { mode: 0o600 });

  const sidecar = startCli(
    ['credentials', '--s3-provider', 'garage', '--endpoint', '127.0.0.1:0', '--endpoint-token-file', join(shared, 'endpoint-token'),
      '--process-file', join(shared, 'process.json'), '--config-file', join(shared, 'config')],
    labEnv(lab, { AWS_SHARED_CREDENTIALS_FILE: keyFile }),
  );
  t.after(() => sidecar.child.kill('SIGKILL'));
  const obtained = JSON.parse(await sidecar.waitFor(/"credentials obtained"/)) as Record<string, string>;
  assert.equal(obtained.source, 'chain', 'auto picks the chain: no STS is configured, and garage has none');
  const url = (JSON.parse(await sidecar.waitFor(/"credentials endpoint listening/)) as { url: string }).url;

  // What the job container is given: where to ask, where the store is. Nothing else.
  const base = { PATH: process.env.PATH, HOME: dir, AWS_REGION: lab.region, AWS_ENDPOINT_URL: lab.endpoint, AWS_EC2_METADATA_DISABLED: 'true' };
  const viaEndpoint = { ...base, AWS_CONTAINER_CREDENTIALS_FULL_URI: url, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: join(shared, 'endpoint-token'), AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials', AWS_CONFIG_FILE: '/nonexistent/config' };
  const viaProcess = { ...base, AWS_CONFIG_FILE: join(shared, 'config'), AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials' };
  for (const env of [viaEndpoint, viaProcess]) {
    for (const [name, value] of Object.entries(env)) {
      assert.ok(!/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)$/.test(name), `the job's environment has no ${name}`);
      assert.ok(!String(value).includes(lab.secretKey) && !String(value).includes(lab.accessKey), `${name} carries no key`);
    }
  }

  const hour = (iso: string | undefined) => (Date.parse(String(iso)) - Date.now()) / 60_000;
  const a = await job(viaEndpoint, bucket, 'job/via-endpoint.txt');
  assert.equal(a.body, 'written by the job');
  assert.ok(hour(a.expiration) > 55 && hour(a.expiration) <= 60, `the endpoint claims an hour: ${a.expiration}`);
  const b = await job(viaProcess, bucket, 'job/via-process.txt');
  assert.equal(b.body, 'written by the job');
  assert.ok(hour(b.expiration) > 55 && hour(b.expiration) <= 60, `credential_process claims an hour: ${b.expiration}`);
  // the server has both objects, written with the sidecar's key
  for (const key of ['job/via-endpoint.txt', 'job/via-process.txt']) assert.equal((await getBytes(s3, bucket, key)).toString(), 'written by the job');
  // the hand-off is the only copy on the shared volume, and it says when to come back
  const handed = JSON.parse(readFileSync(join(shared, 'process.json'), 'utf8')) as { AccessKeyId: string; Expiration?: string };
  assert.equal(handed.AccessKeyId, lab.accessKey);
  assert.ok(hour(handed.Expiration) > 55, 'process.json carries an Expiration, so SDKs run it again');
  assert.match(readFileSync(join(shared, 'config'), 'utf8'), /credential_process = cat /);

  sidecar.child.kill('SIGTERM');
  const done = await sidecar.done;
  assert.equal(done.code, 0, done.stderr);
  assert.ok(!done.stdout.includes(lab.secretKey), 'the sidecar never logs the key');
});
