// The file hand-offs: the shared credentials file (other profiles kept, 0600, atomic under a
// reader loop of 1,000+ rewrites), credential_process JSON + config profile, the shell exports
// file — each consumed by a real client (the AWS CLI from Debian, sh) against the lab.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { writeConfigFile } from '../../src/credentials/sinks/config-file.js';
import { credentialsFileSink } from '../../src/credentials/sinks/credentials-file.js';
import { envFileSink } from '../../src/credentials/sinks/env-file.js';
import { processFileSink } from '../../src/credentials/sinks/process-file.js';
import { sectionName, upsertSection } from '../../src/credentials/sinks/profile-ini.js';
import type { Credentials } from '../../src/credentials/types.js';
import { labEnv, requireLab, type Lab } from '../helpers/lab.js';
import { assumedCredentials, bucketWith, tmpDir } from './helpers/fixtures.js';

const run = promisify(execFile);
const tmp = () => tmpDir('files');
const AWS_CLI = '/usr/bin/aws'; // Debian's awscli v2 (the first `aws` on PATH may be another one)

const OTHER = `# team settings
[other]
aws_access_key_id = OTHERKEY
aws_secret_access_key = otherSecret
[profile.with.dots]
region = eu-west-1 ; comment kept
`;

test('profile editor: one section changes, every other byte stays', () => {
  const out = upsertSection(OTHER, 'default', { aws_access_key_id: 'AK', aws_secret_access_key: 'a+b/c=', aws_session_token: 'tok==' });
  assert.ok(out.startsWith(OTHER), 'existing content kept verbatim');
  assert.match(out, /\[default\]\naws_access_key_id = AK\naws_secret_access_key = a\+b\/c=\naws_session_token = tok==\n$/);
  // update in place, drop the token when the new credentials have none, keep the user's extra keys
  const mine = '[default]\nregion = us-west-2\naws_access_key_id = OLD\naws_session_token = OLDTOK\n\n[other]\nx = 1\n';
  const upd = upsertSection(mine, 'default', { aws_access_key_id: 'NEW', aws_secret_access_key: 'S', aws_session_token: undefined });
  assert.equal(upd, '[default]\nregion = us-west-2\naws_access_key_id = NEW\naws_secret_access_key = S\n\n[other]\nx = 1\n');
  assert.equal(sectionName('default', 'config'), 'default');
  assert.equal(sectionName('job', 'config'), 'profile job');
  assert.equal(sectionName('job', 'credentials'), 'job');
});

/** Debian's AWS CLI with a clean environment: only what the test passes. */
async function awsCli(lab: Lab, args: string[], env: Record<string, string>): Promise<string> {
  const { stdout } = await run(AWS_CLI, ['--endpoint-url', lab.endpoint, '--output', 'json', ...args],
    { env: labEnv(lab, { AWS_ENDPOINT_URL: undefined, ...env }), timeout: 60_000 });
  return stdout;
}

test('credentials file: other profiles kept, mode 0600, and the AWS CLI uses it', async (t) => {
  const lab = requireLab(t);
  const dir = tmp();
  const file = join(dir, 'aws', 'credentials');
  await credentialsFileSink(file, 'job', { mode: 0o600 })({ accessKeyId: 'X', secretAccessKey: 'Y', source: 'test' });
  writeFileSync(file, OTHER + readFileSync(file, 'utf8'));
  const creds = await assumedCredentials(t, lab, 'handoff-test');
  await credentialsFileSink(file, 'job', { mode: 0o600 })(creds);
  const text = readFileSync(file, 'utf8');
  assert.ok(text.startsWith(OTHER));
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.ok(!text.includes('"'), 'values are never quoted (AWS parsers would keep the quotes)');
  const bucket = await bucketWith(t, lab, 'handoff', ['job/images/IMG_0001.JPG']);
  const out = await awsCli(lab, ['s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', 'job/'], { AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: 'job' });
  assert.equal(JSON.parse(out).Contents[0].Key, 'job/images/IMG_0001.JPG');
  // a configured mode is honoured
  await credentialsFileSink(file, 'job', { mode: 0o640 })(creds);
  assert.equal(statSync(file).mode & 0o777, 0o640);
});

test('credential_process: Version 1 JSON with Expiration, and a config profile the AWS CLI runs', async (t) => {
  const lab = requireLab(t);
  const dir = tmp();
  const processFile = join(dir, 'shared aws', 'process.json'); // a space: the command must be quoted
  const configFile = join(dir, 'shared aws', 'config');
  const creds = await assumedCredentials(t, lab, 'handoff-test');
  await processFileSink(processFile, { mode: 0o600 })(creds);
  await writeConfigFile(configFile, 'job', { region: lab.region, processFile }, { mode: 0o600 });
  const json = JSON.parse(readFileSync(processFile, 'utf8'));
  assert.equal(json.Version, 1);
  assert.equal(json.AccessKeyId, creds.accessKeyId);
  assert.equal(json.SessionToken, creds.sessionToken);
  assert.equal(json.Expiration, creds.expiration!.toISOString());
  assert.match(readFileSync(configFile, 'utf8'), /^\[profile job\]\nregion = us-east-1\ncredential_process = cat '.*\/shared aws\/process.json'\n$/);
  const bucket = await bucketWith(t, lab, 'handoff', ['job/images/IMG_0001.JPG']);
  const out = await awsCli(lab, ['s3api', 'list-objects-v2', '--bucket', bucket], { AWS_CONFIG_FILE: configFile, AWS_PROFILE: 'job', AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none') });
  assert.equal(JSON.parse(out).Contents.length, 1);
});

test('env file: a shell that sources it gets exactly the credentials', async (t) => {
  const dir = tmp();
  const file = join(dir, 'aws.env');
  const c: Credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: "wJalr+XUtnFEMI/K7MDENG'bPxRfiCY=", sessionToken: 'FwoG+ZXIvYXdz/EJr//////////wEaD==', expiration: new Date('2030-01-01T00:00:00Z'), source: 'test' };
  await envFileSink(file, { mode: 0o600 })(c);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const { stdout } = await run('sh', ['-c', `. "${file}"; printf '%s\\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN" "$AWS_CREDENTIAL_EXPIRATION"`]);
  assert.deepEqual(stdout.split('\n').slice(0, 4), [c.accessKeyId, c.secretAccessKey, c.sessionToken, '2030-01-01T00:00:00.000Z']);
  t.diagnostic('quotes, slashes, plus and equals signs survive shell quoting');
});

// Reader in a separate process, so reads really race the writer's renames.
const READER = `
const fs = require('node:fs');
const [file, stop] = process.argv.slice(1);
let reads = 0, bad = [];
while (!fs.existsSync(stop)) {
  let t;
  try { t = fs.readFileSync(file, 'utf8'); } catch (e) { bad.push('read error ' + e.code); continue; }
  reads++;
  const id = /aws_access_key_id = AKID(\\d+)\\n/.exec(t)?.[1];
  const ok = t.startsWith('[keep]\\nx = 1\\n') && id !== undefined
    && t.includes('aws_secret_access_key = secret' + id + '/' + 'x'.repeat(40) + '\\n')
    && t.includes('aws_session_token = token' + id + '+' + 'y'.repeat(400) + '==\\n');
  if (!ok && bad.length < 5) bad.push(JSON.stringify(t.slice(0, 200)));
  if (!ok) bad.total = (bad.total || 0) + 1;
}
process.stdout.write(JSON.stringify({ reads, bad, badTotal: bad.total || 0 }));
`;

test('credentials file: a reader loop during 1,000 rewrites never sees a partial, empty or mixed file', async (t) => {
  const dir = tmp();
  const file = join(dir, 'credentials');
  const stop = join(dir, 'stop');
  writeFileSync(file, '[keep]\nx = 1\n');
  const write = credentialsFileSink(file, 'default', { mode: 0o600 });
  const c = (i: number): Credentials => ({ accessKeyId: `AKID${i}`, secretAccessKey: `secret${i}/${'x'.repeat(40)}`, sessionToken: `token${i}+${'y'.repeat(400)}==`, source: 'test' });
  await write(c(0));
  const reader = spawn(process.execPath, ['-e', READER, file, stop], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  reader.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exited = new Promise<void>((resolve) => reader.on('close', () => resolve()));
  t.after(() => reader.kill());
  for (let i = 1; i <= 1000; i++) await write(c(i));
  writeFileSync(stop, '');
  await exited;
  const result = JSON.parse(out) as { reads: number; bad: string[]; badTotal: number };
  t.diagnostic(`${result.reads} reads during 1000 rewrites`);
  assert.equal(result.badTotal, 0, `bad reads: ${result.bad.join('\n')}`);
  assert.ok(result.reads >= 100, `the reader really raced the writer (${result.reads} reads)`);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.match(readFileSync(file, 'utf8'), /AKID1000/);
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), [], 'no temp files left behind');
  assert.ok(!existsSync(join(dir, 'credentials.tmp')));
});
