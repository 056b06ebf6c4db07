// The broker's configuration: validated at start (exit 2, one line naming the rule and the
// field), reloaded when a ConfigMap-style symlink swap changes it without dropping a request,
// an invalid new version logged and ignored; the listener's TLS rules; and the pure parts
// (rule matching, templates, session names) on their own.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { claimsFrom, fillTemplate, matchRule, sessionName } from '../../src/broker/claims.js';
import { parseBrokerConfig } from '../../src/broker/config.js';
import { runCli } from '../helpers/cli.js';
import { labEnv, requireLab } from '../helpers/lab.js';
import { until } from '../helpers/wait.js';
import { tmpDir } from '../credentials/helpers/fixtures.js';
import { startBroker } from './helpers/broker.js';
import { labToken } from './helpers/issuer.js';

const ISSUERS = [{ name: 'cluster-a', issuer: 'https://oidc.cluster-a.example', audience: 's3-sidecar-broker' }];
const RULE = { name: 'odm-jobs', roleArn: 'arn:aws:iam::123456789012:role/odm', input: 's3://bucket/jobs/{pod}/input/', output: 's3://bucket/jobs/{pod}/output/' };
const parse = (doc: object, allowHttpIssuer = false) => parseBrokerConfig(stringify(doc), { allowHttpIssuer });

test('validation names the rule (by name or index) and the field', () => {
  const ok = parse({ issuers: ISSUERS, rules: [RULE] });
  assert.equal(ok.rules[0]!.durationSeconds, 3600);
  assert.equal(ok.rules[0]!.readOnly, false);
  const bad: [object, RegExp][] = [
    [{ issuers: ISSUERS, rules: [RULE, { ...RULE, name: 'second', roleArn: undefined }] }, /^rules\[1\] "second": roleArn: is required$/],
    [{ issuers: ISSUERS, rules: [{ ...RULE, name: undefined, roleArn: 'odm' }] }, /^rules\[0\]: roleArn: must be a role ARN/],
    [{ issuers: ISSUERS, rules: [{ ...RULE, input: 's3://bucket/{job}/' }] }, /^rules\[0\] "odm-jobs": input: unknown template \{job\}/],
    [{ issuers: ISSUERS, rules: [{ ...RULE, output: 's3://{namespace}/out/' }] }, /^rules\[0\] "odm-jobs": output: must start with s3:\/\/<bucket>\/ with a fixed bucket name/],
    [{ issuers: ISSUERS, rules: [{ ...RULE, input: 's3://bucket/a*/' }] }, /^rules\[0\] "odm-jobs": input \/ output: prefix must not contain \*/],
    [{ issuers: ISSUERS, rules: [{ ...RULE, issuer: 'cluster-b' }] }, /^rules\[0\] "odm-jobs": issuer: "cluster-b" is not the name of an entry in issuers$/],
    [{ issuers: ISSUERS, rules: [{ ...RULE, durationSeconds: 60 }] }, /^rules\[0\] "odm-jobs": durationSeconds: must be a whole number from 900 to 43200/],
    [{ issuers: ISSUERS, rules: [{ ...RULE, readonly: true }] }, /^rules\[0\] "odm-jobs": readonly: unknown field/],
    [{ issuers: ISSUERS, rules: [{ ...RULE, input: undefined, output: undefined }] }, /^rules\[0\] "odm-jobs": input \/ output: a rule must scope/],
    [{ issuers: ISSUERS, rules: [{ ...RULE, kmsKeyArn: 'key-1' }] }, /^rules\[0\] "odm-jobs": kmsKeyArn: must be a KMS key ARN/],
    [{ issuers: [{ ...ISSUERS[0], audience: undefined }], rules: [RULE] }, /^issuers\[0\] "cluster-a": audience: is required/],
    [{ issuers: [{ ...ISSUERS[0], issuer: 'http://oidc.example' }], rules: [RULE] }, /^issuers\[0\] "cluster-a": issuer: must be https:\/\//],
    [{ issuers: [ISSUERS[0], ISSUERS[0]], rules: [RULE] }, /^issuers\[1\] "cluster-a": name: used twice/],
    [{ issuers: ISSUERS, rules: [] }, /^rules: at least one rule is required/],
  ];
  const message = (re: RegExp) => (e: Error) => re.test(e.message) || assert.fail(`"${e.message}" does not match ${re}`);
  for (const [doc, msg] of bad) assert.throws(() => parse(doc), message(msg));
  assert.throws(() => parseBrokerConfig('issuers: [\n', { allowHttpIssuer: false }), message(/^YAML: /));
  // plain http: loopback always, elsewhere only when allowed
  parse({ issuers: [{ ...ISSUERS[0], issuer: 'http://127.0.0.1:7581' }], rules: [RULE] });
  parse({ issuers: [{ ...ISSUERS[0], issuer: 'http://oidc.example' }], rules: [RULE] }, true);
});

test('first matching rule wins; templates refuse values that would widen a prefix; session names follow STS rules', () => {
  const rules = parse({ issuers: [...ISSUERS, { ...ISSUERS[0], name: 'cluster-b', issuer: 'https://b.example' }], rules: [
    { ...RULE, name: 'b-only', issuer: 'cluster-b' },
    { ...RULE, name: 'odm', namespace: 'odm{,-*}', serviceAccount: 'runner-*' },
    { ...RULE, name: 'any' },
  ] }).rules;
  const claims = (issuer: string, ns: string, sa: string) => claimsFrom(issuer, { sub: `system:serviceaccount:${ns}:${sa}` });
  assert.equal(matchRule(rules, claims('cluster-b', 'odm', 'runner-1'))!.name, 'b-only');
  assert.equal(matchRule(rules, claims('cluster-a', 'odm-dev', 'runner-1'))!.name, 'odm');
  assert.equal(matchRule(rules, claims('cluster-a', 'odm', 'viewer'))!.name, 'any');
  assert.equal(matchRule(rules.slice(1, 2), claims('cluster-a', 'other', 'runner-1')), undefined);

  const c = claimsFrom('cluster-a', { sub: 'system:serviceaccount:odm:runner', 'kubernetes.io': { namespace: 'odm', pod: { name: 'job-7', uid: 'u-1' }, serviceaccount: { name: 'runner' } } });
  assert.deepEqual(c, { issuer: 'cluster-a', sub: 'system:serviceaccount:odm:runner', namespace: 'odm', serviceAccount: 'runner', pod: 'job-7', podUid: 'u-1' });
  assert.equal(fillTemplate('s3://b/{issuer}/{namespace}/{serviceAccount}/{pod}/{podUid}/', c), 's3://b/cluster-a/odm/runner/job-7/u-1/');
  assert.throws(() => fillTemplate('s3://b/{pod}/', { ...c, pod: undefined }), /the token has no pod claim/);
  for (const pod of ['a/b', '..', 'x*', 'a?', '$x']) assert.throws(() => fillTemplate('s3://b/{pod}/', { ...c, pod }), /cannot go into a prefix/, pod);

  assert.equal(sessionName(c), 'odm.job-7');
  const long = sessionName({ ...c, namespace: 'n'.repeat(63), pod: `${'p'.repeat(56)}-abc` });
  assert.equal(long.length, 64);
  assert.ok(long.endsWith(`.${'p'.repeat(56)}-abc`), 'the pod name is kept whole');
  assert.match(sessionName({ issuer: 'x', sub: 'a b/c' }), /^x\.a-b-c$/);
});

test('start-up errors exit 2 with one line naming the flag, the rule and the field', { timeout: 60_000 }, async (t) => {
  const lab = requireLab(t);
  const dir = tmpDir('broker-config');
  const file = join(dir, 'broker.yaml');
  writeFileSync(file, stringify({ issuers: ISSUERS, rules: [RULE, { name: 'second', roleArn: lab.roleArn, input: 's3://bucket/{podname}/' }] }));
  const cases: [string[], RegExp][] = [
    [['--config', file], /^s3-sidecar: --config \/ SIDECAR_BROKER_CONFIG: .*broker\.yaml: rules\[1\] "second": input: unknown template \{podname\}/],
    [[], /^s3-sidecar: --config \/ SIDECAR_BROKER_CONFIG: is required$/],
    [['--config', join(dir, 'missing.yaml')], /^s3-sidecar: --config \/ SIDECAR_BROKER_CONFIG: cannot read .*missing\.yaml: ENOENT$/],
    [['--config', file, '--listen', '0.0.0.0:8443'], /^s3-sidecar: --listen \/ SIDECAR_BROKER_LISTEN: 0\.0\.0\.0:8443 is not loopback: serve HTTPS with --tls-cert and --tls-key/],
    [['--config', file, '--tls-cert', file], /^s3-sidecar: --tls-key \/ SIDECAR_BROKER_TLS_KEY: is required with the other/],
  ];
  for (const [args, msg] of cases) {
    const r = await runCli(['broker', ...args], labEnv(lab));
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('s3-sidecar:'));
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, msg);
  }
  const help = await runCli(['broker', '--help'], labEnv(lab));
  for (const flag of ['--config', '--listen', '--tls-cert', '--tls-key', '--tag-sessions', '--rate-limit', '--http-addr', '--sts-endpoint-url', '--role-arn']) assert.ok(help.stdout.includes(flag), flag);
  assert.ok(!help.stdout.includes('--control-plane-url'), 'only the options the broker reads');
});

test('a changed configuration is picked up without dropping requests; an invalid one is logged and the previous one kept', { timeout: 120_000 }, async (t) => {
  const lab = requireLab(t);
  const issuers = [{ name: 'lab', issuer: lab.oidcIssuer, audience: 's3-sidecar-broker' }];
  const v1 = { issuers, rules: [{ name: 'v1', namespace: 'odm', roleArn: lab.roleArn, input: 's3://bucket-c/v1/{pod}/', durationSeconds: 900 }] };
  const broker = await startBroker(t, lab, { config: v1, args: ['--rate-burst', '1000', '--rate-limit', '60000'] });
  const token = labToken(lab, { namespace: 'odm', serviceAccount: 'default', pod: 'p-1' });
  const scope = async () => {
    const r = await broker.get(token);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return (r.body.Scope as { input: string[] }).input[0];
  };
  assert.equal(await scope(), 's3://bucket-c/v1/p-1/');

  // requests keep flowing while the ConfigMap is swapped under the broker
  let stop = false;
  const statuses: number[] = [];
  const load = (async () => { while (!stop) statuses.push((await broker.get(token)).status); })();
  broker.swapConfig({ issuers, rules: [{ name: 'v2', namespace: 'odm', roleArn: lab.roleArn, input: 's3://bucket-c/v2/{pod}/', durationSeconds: 900 }] });
  await until('the new rule to be served', async () => (await scope()) === 's3://bucket-c/v2/p-1/', 20_000);
  stop = true;
  await load;
  assert.ok(statuses.length > 0 && statuses.every((s) => s === 200), `no request dropped or refused during the reload: ${[...new Set(statuses)].join(',')}`);
  await broker.proc.waitFor(/"msg":"broker configuration reloaded"/);

  broker.swapConfig({ issuers, rules: [{ name: 'v3', namespace: 'odm', input: 's3://bucket-c/v3/{pod}/' }] });
  const err = await broker.proc.waitFor(/invalid, keeping the previous one/, 20_000);
  assert.match(err, /rules\[0\] \\"v3\\": roleArn: is required/);
  assert.equal(await scope(), 's3://bucket-c/v2/p-1/', 'the previous configuration keeps serving');
  const ready = await (await fetch(`${broker.healthUrl}/readyz`)).json() as { ready: boolean; checks: { config: { detail: Record<string, string> } } };
  assert.equal(ready.ready, true);
  assert.ok(ready.checks.config.detail.fileInvalidSince, '/readyz says the file on disk is invalid');
});
