// The whole system against the lab: the broker (dist/cli.js broker, over HTTPS, its own identity
// the lab user) verifies a projected token minted by the lab's OIDC issuer, assumes the lab's
// role with the rule's session policy, and the real sidecar (dist/cli.js credentials, the
// control-plane source, nothing else configured) writes the credentials. Ceph enforces the
// session policy: the job reads its input, writes its output, and is denied elsewhere.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parse as parseIni } from 'ini';
import { runCli } from '../helpers/cli.js';
import { labEnv, requireLab, type Lab } from '../helpers/lab.js';
import { bucketWith, tmpDir } from '../credentials/helpers/fixtures.js';
import { jobRules, startBroker } from './helpers/broker.js';
import { labToken, type PodIdentity } from './helpers/issuer.js';

const denied = (e: { $metadata?: { httpStatusCode?: number }; name?: string }) => e.$metadata?.httpStatusCode === 403;

/** Run the sidecar once against the broker; returns its credentials as an S3 client, and its logs. */
async function sidecar(lab: Lab, brokerUrl: string, caFile: string, pod: PodIdentity, dir: string) {
  const tokenFile = join(dir, `${pod.pod}.token`);
  writeFileSync(tokenFile, `${labToken(lab, pod)}\n`);
  const credsFile = join(dir, `${pod.pod}.credentials`);
  const r = await runCli(['credentials', '--once', '--credentials-file', credsFile], labEnv(lab, {
    SIDECAR_CONTROL_PLANE_URL: brokerUrl, SIDECAR_CONTROL_PLANE_TOKEN_FILE: tokenFile, SIDECAR_CONTROL_PLANE_CA_FILE: caFile,
  }));
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const p = parseIni(readFileSync(credsFile, 'utf8')).default as Record<string, string>;
  const s3 = new S3Client({ endpoint: lab.endpoint, region: lab.region, forcePathStyle: true, maxAttempts: 1,
    credentials: { accessKeyId: p.aws_access_key_id!, secretAccessKey: p.aws_secret_access_key!, sessionToken: p.aws_session_token } });
  return { s3, keyId: p.aws_access_key_id!, logs: r.logs };
}

test('a job gets credentials from the broker that read its input, write its output, and are denied on another job; read-only rules cannot write', { timeout: 180_000 }, async (t) => {
  const lab = requireLab(t);
  assert.ok(lab.oidcIssuer && lab.dir, 'the lab runs its OIDC issuer');
  const bucket = await bucketWith(t, lab, 'broker', ['jobs/pod-a/input/IMG_1.JPG', 'jobs/pod-b/input/IMG_1.JPG', 'jobs/pod-b/output/ortho.tif']);
  const dir = tmpDir('broker-sidecar');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const broker = await startBroker(t, lab, {
    config: jobRules(lab, bucket, lab.oidcIssuer),
    args: ['--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')],
  });
  assert.match(broker.url, /^https:\/\/127\.0\.0\.1:\d+\/v1\/credentials$/);

  const a = await sidecar(lab, broker.url, join(dir, 'cert.pem'), { namespace: 'odm', serviceAccount: 'odm-runner', pod: 'pod-a' }, dir);
  t.after(() => a.s3.destroy());
  // the session name carries the caller (namespace.pod), visible in the ARN STS returned
  const got = a.logs.find((l) => l.msg === 'credentials obtained')!;
  assert.equal(got.source, 'control-plane');
  assert.equal(got.identity, 'arn:aws:sts:::assumed-role/s3lab-full/odm.pod-a');

  const body = await (await a.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'jobs/pod-a/input/IMG_1.JPG' }))).Body!.transformToString();
  assert.equal(body, 'body of jobs/pod-a/input/IMG_1.JPG', 'reads its input');
  await a.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'jobs/pod-a/output/ortho.tif', Body: 'tif' }));
  await assert.rejects(a.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'jobs/pod-b/input/IMG_1.JPG' })), denied, "another job's input is denied");
  await assert.rejects(a.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'jobs/pod-b/output/ortho.tif', Body: 'overwrite' })), denied, "another job's output is denied");
  await assert.rejects(a.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'jobs/pod-a/input/IMG_2.JPG', Body: 'x' })), denied, 'its own input is read-only');

  // the audit line: caller, rule, prefixes, session name, expiry, key id's last 4 — and no secret
  const audit = broker.audits().find((l) => l.sessionName === 'odm.pod-a')!;
  assert.equal(audit.caller, 'lab/odm/odm-runner/pod-a');
  assert.equal(audit.rule, 'odm-jobs');
  assert.deepEqual(audit.input, [`s3://${bucket}/jobs/pod-a/input/`]);
  assert.equal(audit.output, `s3://${bucket}/jobs/pod-a/output/`);
  assert.equal(audit.accessKey, `…${a.keyId.slice(-4)}`);
  assert.ok(Date.parse(String(audit.expiration)) > Date.now() + 10 * 60_000);

  // a pod of the read-only rule reads every job's input and can write nothing
  const v = await sidecar(lab, broker.url, join(dir, 'cert.pem'), { namespace: 'viewers', serviceAccount: 'report', pod: 'viewer-1' }, dir);
  t.after(() => v.s3.destroy());
  assert.equal(v.logs.find((l) => l.msg === 'credentials obtained')!.identity, 'arn:aws:sts:::assumed-role/s3lab-full/viewers.viewer-1');
  await v.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'jobs/pod-b/input/IMG_1.JPG' }));
  await assert.rejects(v.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'jobs/pod-b/output/x.txt', Body: 'x' })), denied, 'read-only: PutObject denied');
  await assert.rejects(v.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'elsewhere.txt', Body: 'x' })), denied);
  assert.equal(broker.audits().find((l) => l.rule === 'viewers')!.readOnly, true);

  await broker.stop();
  const end = await broker.proc.done;
  assert.equal(end.code, 0, 'SIGTERM: a clean stop');
  assert.ok(end.logs.some((l) => l.msg === 'broker stopped'));
});
