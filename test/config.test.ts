// Configuration parsing: flags, env vars, defaults and the one-line errors with exit code 2.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig, OPTIONS } from '../src/config.js';
import { runCli } from './helpers/cli.js';

test('flags win over SIDECAR_* env, which win over standard AWS / ScaleODM names', () => {
  const env = { AWS_REGION: 'eu-west-1', S3_INPUT_PREFIX: 's3://in/job/', S3_OUTPUT_PREFIX: 's3://out/job/', AWS_S3_ENDPOINT: 'http://127.0.0.1:1' };
  const c = loadConfig('download', ['--region', 'eu-central-1'], env);
  assert.equal(c.region, 'eu-central-1');
  assert.deepEqual(c.inputPrefix, ['s3://in/job/']);
  assert.equal(c.outputPrefix, 's3://out/job/');
  assert.equal(c.endpointUrl, 'http://127.0.0.1:1');
  assert.equal(loadConfig('download', [], { ...env, SIDECAR_REGION: 'ap-south-1' }).region, 'ap-south-1');
  assert.equal(loadConfig('download', [], {}).region, 'us-east-1');
});

test('durations, sizes, booleans, modes and lists parse; empty env values count as unset', () => {
  const c = loadConfig('run', ['--session-duration', '2h', '--part-size', '8MiB', '--read-only', '--no-session-policy', '--file-mode', '0640'], { SIDECAR_STABLE_WINDOW: '1500ms', SIDECAR_OUTPUT_EXCLUDE: 'a/**, b/**', SIDECAR_LAYOUT: '' });
  assert.equal(c.sessionDuration, 7_200_000);
  assert.equal(c.partSize, 8 * 1024 * 1024);
  assert.equal(c.readOnly, true);
  assert.equal(c.sessionPolicy, false);
  assert.equal(c.fileMode, 0o640);
  assert.equal(c.stableWindow, 1500);
  assert.deepEqual(c.outputExclude, ['a/**', 'b/**']);
  assert.equal(c.layout, 'mirror');
});

test('a bad value names the variable it came from', () => {
  assert.throws(() => loadConfig('credentials', [], { SIDECAR_SESSION_DURATION: 'soon' }), (e: unknown) => e instanceof ConfigError && e.variable === 'SIDECAR_SESSION_DURATION');
  assert.throws(() => loadConfig('download', ['--layout', 'tree'], {}), /--layout: must be one of mirror, odm/);
  assert.throws(() => loadConfig('credentials', ['--what'], {}), /--what/);
});

test('errors name the alias the user set (S3_INPUT_PREFIX, AWS_ENDPOINT_URL_S3, AWS_ROLE_ARN), not the canonical name', async () => {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, AWS_EC2_METADATA_DISABLED: 'true', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/c', AWS_CONFIG_FILE: '/nonexistent/c' };
  const line = async (mode: string, args: string[], extra: Record<string, string>) => {
    const r = await runCli([mode, ...args], { ...env, ...extra });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    return r.stderr.trim();
  };
  // a value that does not parse
  assert.match(await line('download', ['--input-dir', '/tmp/x'], { S3_INPUT_PREFIX: 's3://in/a/', AWS_ENDPOINT_URL_S3: 'ceph.local:7480' }), /^s3-sidecar: AWS_ENDPOINT_URL_S3: must be an http:\/\/ or https:\/\/ URL/);
  // a value that parses, then fails a check made later (the S3 location, the session policy, the store)
  assert.match(await line('download', ['--input-dir', '/tmp/x'], { S3_INPUT_PREFIX: 'bucket-without-scheme/a/' }), /^s3-sidecar: S3_INPUT_PREFIX: must look like s3:\/\//);
  assert.match(await line('upload', ['--output-dir', '/tmp'], { S3_OUTPUT_PREFIX: 'out/' }), /^s3-sidecar: S3_OUTPUT_PREFIX: must look like s3:\/\//);
  assert.match(await line('credentials', ['--once'], { SIDECAR_ASSUME_ROLE_ARN: 'arn:aws:iam:::role/x', SIDECAR_INPUT_PREFIX: 's3://bk/p*/' }), /^s3-sidecar: SIDECAR_INPUT_PREFIX: prefix must not contain \*/);
  assert.match(await line('credentials', ['--once'], { AWS_ROLE_ARN: 'arn:aws:iam::1:role/x', AWS_WEB_IDENTITY_TOKEN_FILE: '/t', AWS_ENDPOINT_URL_S3: 'https://s3.fr-par.scw.cloud' }), /^s3-sidecar: AWS_ENDPOINT_URL_S3: names Scaleway Object Storage/);
  // a flag is named as a flag
  assert.match(await line('download', ['--input-dir', '/tmp/x', '--input-prefix', 'nope'], {}), /^s3-sidecar: --input-prefix: must look like s3:\/\//);
});

test('every option has a kebab-case flag and a SIDECAR_* variable first', () => {
  for (const [key, d] of Object.entries(OPTIONS)) {
    assert.match(d.flag, /^[a-z0-9]+(-[a-z0-9]+)*$/, key);
    assert.match(d.env[0]!, /^SIDECAR_[A-Z0-9_]+$/, key);
    // the broker's options carry its name in the variable: SIDECAR_BROKER_CONFIG for --config
    const group = d.group === 'broker' && !d.flag.startsWith('broker-') ? 'BROKER_' : '';
    assert.equal(d.env[0], `SIDECAR_${group}${d.flag.toUpperCase().replace(/-/g, '_')}`, key);
  }
});

test('CLI: config errors exit 2 with one line on stderr and no stack trace', async () => {
  const r = await runCli(['credentials', '--session-duration', 'x'], { PATH: process.env.PATH });
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /^s3-sidecar: --session-duration: must be a duration/);
  assert.doesNotMatch(r.stderr + r.stdout, /at .*\.js:\d+/);
  const bad = await runCli(['frobnicate'], { PATH: process.env.PATH });
  assert.equal(bad.code, 2);
});

test('CLI: --help lists the modes, <mode> --help lists every option with its env var and default', async () => {
  const top = await runCli(['--help'], { PATH: process.env.PATH });
  assert.equal(top.code, 0);
  for (const m of ['credentials', 'download', 'run', 'upload']) assert.match(top.stdout, new RegExp(`^  ${m} `, 'm'));
  const dl = await runCli(['download', '--help'], { PATH: process.env.PATH });
  assert.equal(dl.code, 0);
  assert.match(dl.stdout, /--input-dir <value>[\s\S]*env: SIDECAR_INPUT_DIR/);
  assert.match(dl.stdout, /--download-concurrency <value>.*\[default: 32\]/);
});
