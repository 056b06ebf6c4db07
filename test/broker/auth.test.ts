// Who may have what: tokens that must be refused (401), callers no rule admits (403), two
// clusters with their own issuers and rules, the rate limit (429), and how the real sidecar
// takes a refusal: fatal, exit 3, one loud line. STS is the lab's; the second cluster's issuer
// is the test issuer (helpers/issuer.ts), a stand-in for a Kubernetes API server.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli } from '../helpers/cli.js';
import { labEnv, requireLab } from '../helpers/lab.js';
import { tmpDir } from '../credentials/helpers/fixtures.js';
import { startBroker } from './helpers/broker.js';
import { labToken, podClaims, strangerKey, testIssuer } from './helpers/issuer.js';

test('401 for a wrong audience, a wrong signature, an unknown issuer, an expired or missing token; 403 when no rule matches; two clusters with their own rules', { timeout: 180_000 }, async (t) => {
  const lab = requireLab(t);
  const clusterB = await testIssuer(t);
  const unknown = await testIssuer(t);
  const broker = await startBroker(t, lab, {
    config: {
      issuers: [
        { name: 'cluster-a', issuer: lab.oidcIssuer, audience: 's3-sidecar-broker' },
        { name: 'cluster-b', issuer: clusterB.url, audience: ['s3-sidecar-broker', 'other-audience'] },
      ],
      rules: [
        { name: 'a-jobs', issuer: 'cluster-a', namespace: 'odm', roleArn: lab.roleArn, input: 's3://bucket-a/{namespace}/{pod}/in/', output: 's3://bucket-a/{namespace}/{pod}/out/', durationSeconds: 900 },
        { name: 'b-jobs', issuer: 'cluster-b', namespace: 'odm-*', serviceAccount: 'runner', roleArn: lab.roleArn, input: 's3://bucket-b/{issuer}/{podUid}/', readOnly: true, durationSeconds: 900 },
      ],
    },
    args: ['--rate-burst', '3', '--rate-limit', '1'],
  });

  // two clusters: each token is admitted by its own cluster's rule, with its own prefixes
  const a = await broker.get(labToken(lab, { namespace: 'odm', serviceAccount: 'default', pod: 'job-1' }));
  assert.equal(a.status, 200, JSON.stringify(a.body));
  assert.deepEqual(a.body.Scope, { input: ['s3://bucket-a/odm/job-1/in/'], output: 's3://bucket-a/odm/job-1/out/', readOnly: false });
  assert.equal((a.body.AssumedRoleUser as { Arn: string }).Arn, 'arn:aws:sts:::assumed-role/s3lab-full/odm.job-1');
  const b = await broker.get(await clusterB.mint(podClaims({ namespace: 'odm-prod', serviceAccount: 'runner', pod: 'job-1', podUid: '7f0c-11aa' })));
  assert.equal(b.status, 200, JSON.stringify(b.body));
  assert.deepEqual(b.body.Scope, { input: ['s3://bucket-b/cluster-b/7f0c-11aa/'], readOnly: true });
  assert.equal((b.body.AssumedRoleUser as { Arn: string }).Arn, 'arn:aws:sts:::assumed-role/s3lab-full/odm-prod.job-1');
  // the same names in the other cluster are not the same caller: cluster-a's rule is not cluster-b's
  const cross = await broker.get(await clusterB.mint(podClaims({ namespace: 'odm', serviceAccount: 'default', pod: 'job-1' })));
  assert.equal(cross.status, 403);
  assert.equal(cross.body.reason, 'no-rule');
  assert.match(String(cross.body.error), /no rule of this broker matches cluster-b\/odm\/default\/job-1/);

  const pod = podClaims({ namespace: 'odm-prod', serviceAccount: 'runner', pod: 'job-2' });
  const refused: [string, string | undefined, RegExp][] = [
    ['wrong audience', await clusterB.mint(pod, { audience: 'sts.amazonaws.com' }), /^bad-aud$/],
    ['wrong audience (lab issuer)', labToken(lab, { namespace: 'odm', serviceAccount: 'default', pod: 'job-1' }, { audience: 'sts.amazonaws.com' }), /^bad-aud$/],
    ['wrong signature', await clusterB.mint(pod, { key: await strangerKey() }), /^bad-signature$/],
    ['unknown issuer', await unknown.mint(pod), /^unknown-issuer$/],
    ['expired', await clusterB.mint(pod, { expiresInSec: -120 }), /^expired$/],
    ['not yet valid', await clusterB.mint(pod, { notBeforeSec: 600 }), /^bad-nbf$/],
    ['not a JWT', 'not-a-jwt-at-all', /^malformed$/],
    ['no token', undefined, /^no-token$/],
  ];
  for (const [what, token, reason] of refused) {
    const r = await broker.get(token);
    assert.equal(r.status, 401, `${what}: ${JSON.stringify(r.body)}`);
    assert.match(String(r.body.reason), reason, what);
    assert.equal(typeof r.body.error, 'string', what);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
  }
  assert.equal(unknown.requests, 0, 'an untrusted issuer is never contacted');

  // key rotation: a token under a new kid makes the broker fetch the JWKS again (at most once
  // per 5 s after the last fetch: a flood of made-up kids must not flood the issuer)
  await sleep(5_100);
  const before = clusterB.requests;
  await clusterB.rotate();
  const rotated = await broker.get(await clusterB.mint(podClaims({ namespace: 'odm-prod', serviceAccount: 'runner', pod: 'job-3' })));
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
  assert.equal(clusterB.requests, before + 1, 'one JWKS fetch for the unknown kid');

  // the rate limit is per caller: job-1 of cluster-a has used 1 of its burst of 3
  const token = labToken(lab, { namespace: 'odm', serviceAccount: 'default', pod: 'job-1' });
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push((await broker.get(token)).status);
  assert.deepEqual(statuses, [200, 200, 429]);
  const limited = await broker.get(token);
  assert.equal(limited.status, 429);
  assert.equal(limited.body.reason, 'rate-limited');
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  assert.equal((await broker.get(labToken(lab, { namespace: 'odm', serviceAccount: 'default', pod: 'job-9' }))).status, 200, 'another pod is not limited');

  assert.equal(await broker.metric('s3_sidecar_broker_requests_total', { status: '401' }), refused.length);
  assert.equal(await broker.metric('s3_sidecar_broker_requests_total', { status: '403' }), 1);
  const out = broker.proc.stdout();
  for (const [, tok] of refused) if (tok && tok.length > 20) assert.ok(!out.includes(tok), 'no token in the broker log');
});

test('the sidecar treats 401 and 403 from the broker as fatal: exit 3 with one line naming the status', { timeout: 120_000 }, async (t) => {
  const lab = requireLab(t);
  const broker = await startBroker(t, lab, {
    config: { issuers: [{ name: 'lab', issuer: lab.oidcIssuer, audience: 's3-sidecar-broker' }], rules: [{ name: 'odm', namespace: 'odm', roleArn: lab.roleArn, input: 's3://bucket-c/{pod}/', durationSeconds: 900 }] },
  });
  const dir = tmpDir('broker-fatal');
  const cases: [string, string, RegExp][] = [
    ['expired token', labToken(lab, { namespace: 'odm', serviceAccount: 'default', pod: 'p' }, { ttlSec: -120 }), /HTTP 401.*the token has expired/],
    ['no rule', labToken(lab, { namespace: 'other', serviceAccount: 'default', pod: 'p' }), /HTTP 403.*no rule of this broker matches lab\/other\/default\/p/],
  ];
  for (const [what, token, line] of cases) {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, token);
    const started = Date.now();
    const r = await runCli(['credentials', '--once', '--credentials-file', join(dir, 'credentials')], labEnv(lab, { SIDECAR_CONTROL_PLANE_URL: broker.url, SIDECAR_CONTROL_PLANE_TOKEN_FILE: tokenFile }));
    assert.equal(r.code, 3, `${what}: exit 3 (${r.stderr})`);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('s3-sidecar:'));
    assert.equal(lines.length, 1, `${what}: one line on stderr`);
    assert.match(lines[0]!, /^s3-sidecar: no usable credentials: GET http:\/\/127\.0\.0\.1:\d+\/v1\/credentials failed/);
    assert.match(r.stderr, line, what);
    assert.ok(r.logs.some((l) => l.level === 'fatal'), `${what}: a fatal log line`);
    assert.ok(Date.now() - started < 15_000, `${what}: no retrying a refusal`);
    assert.ok(!r.stdout.includes(token) && !r.stderr.includes(token), `${what}: the token is not printed`);
  }
});
