// `run --prefetch` starts the credentials engine and the health listener once for the whole run:
// the prefetch and the uploads share them. Seen from outside: the endpoint's token file is
// written once and stays valid, the hand-off files are written once, and the health listener's
// port answers all along (not ready while the input is prefetched, ready once outputs are
// watched). The S3 server is behind a TCP proxy that starts cut, so the prefetch is reliably
// still running while the test looks.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { startCli } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';
import { labFixture, listPrefix, sidecarEnv } from './helpers/s3-check.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';

test('run --prefetch: one credentials engine and one health listener for the prefetch and the uploads', { timeout: 180_000 }, async (t) => {
  const { lab, s3, bucket, dir } = await labFixture(t, 'prefetch-once');
  for (const k of ['DJI_0001.JPG', 'DJI_0002.JPG']) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `in/${k}`, Body: randomBytes(30_000) }));
  const proxy = await startTcpProxy(t, Number(new URL(lab.endpoint).port));
  await proxy.cut(); // the prefetch waits for the server until restore()
  const project = join(dir, 'project');
  mkdirSync(project);
  const tokenFile = join(dir, 'endpoint-token');

  const sidecar = startCli([
    'run', '--prefetch', '--input-prefix', `s3://${bucket}/in/`, '--input-dir', join(project, 'images'),
    '--output-dir', project, '--output-prefix', `s3://${bucket}/out/`, '--preset', 'odm', '--progress-udp', 'off',
    '--stable-window', '300ms', '--server-deadline', '120s', '--log-level', 'debug',
    '--http-addr', '127.0.0.1:0', '--endpoint', '127.0.0.1:0', '--endpoint-token-file', tokenFile,
    '--credentials-file', join(dir, 'aws-credentials'),
  ], sidecarEnv(lab, {}, proxy.endpoint));
  t.after(() => sidecar.child.kill('SIGKILL'));

  const endpointUrl = (JSON.parse(await sidecar.waitFor(/"msg":"credentials endpoint listening/)) as { url: string }).url;
  const address = (JSON.parse(await sidecar.waitFor(/"msg":"health listener on /)) as { address: string }).address;
  const token = readFileSync(tokenFile, 'utf8');
  const credentialsAnswer = async () => (await fetch(endpointUrl, { headers: { authorization: token } })).status;

  // the listener's port, asked every 20 ms from now until the job ends
  const polls = { ok: 0, failed: [] as string[] };
  let polling = true;
  t.after(() => { polling = false; });
  const poller = (async () => {
    while (polling) {
      try {
        const res = await fetch(`http://${address}/healthz`);
        await res.arrayBuffer();
        if (res.status === 200) polls.ok++;
        else polls.failed.push(`status ${res.status}`);
      } catch (err) {
        if (polling) polls.failed.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();

  const readyz = async () => {
    const res = await fetch(`http://${address}/readyz`);
    return { status: res.status, body: (await res.json()) as { checks: Record<string, { ok: boolean; reason?: string }> } };
  };
  const during = await readyz();
  assert.equal(during.status, 503, 'not ready while the input is being prefetched');
  assert.match(during.body.checks.watcher?.reason ?? '', /prefetching the input/);
  assert.equal(await credentialsAnswer(), 200, 'the endpoint serves the job during the prefetch');

  await proxy.restore();
  await sidecar.waitFor(/"msg":"download complete/, 60_000);
  await sidecar.waitFor(/"msg":"watching /, 60_000);
  await until('ready once the outputs are watched', async () => (await readyz()).status === 200 || 'not yet', 30_000, 50);
  assert.equal(readFileSync(tokenFile, 'utf8'), token, 'the token file was written once');
  assert.equal(await credentialsAnswer(), 200, 'the token handed out before the prefetch still opens the endpoint');

  // the job ends: the listener closes with the run, so the polling stops here
  polling = false;
  await poller;
  writeFileSync(join(project, 'log.json'), JSON.stringify({ success: true }));
  const r = await sidecar.done;
  assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);
  assert.deepEqual([...(await listPrefix(s3, bucket, 'out/')).keys()].sort(), ['_manifest.json', 'log.json']);

  // once each, for the prefetch and the uploads together
  const count = (msg: RegExp) => r.logs.filter((l) => msg.test(String(l.msg))).length;
  assert.equal(count(/^credentials endpoint listening/), 1);
  assert.equal(count(/^credential hand-offs configured$/), 1);
  assert.equal(count(/^hand-off files written$/), 1);
  assert.equal(count(/^health listener on /), 1);
  assert.deepEqual(polls.failed, [], 'the health port answered all along');
  assert.ok(polls.ok >= 5, `${polls.ok} health polls answered`);
});
