// A session rejected as expired in the middle of a download and of an upload (`run --prefetch`):
// each rejection is met by the one expired-session path (withSession in src/s3/classify.ts):
// credentials refreshed once, the request retried, the transfer goes on; nothing falls to the
// generic retry loops. Credentials come from a control plane (the credentials tests' stub, which
// calls the lab's real STS), so every refresh gives a new access key. An HTTP proxy in front of
// S3 answers AWS's 400 ExpiredToken once a key has signed KEY_REQUESTS requests: a fake only in
// that, since Ceph cannot be told to expire a session on demand.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { startControlPlane } from '../credentials/helpers/control-plane.js';
import { startCli } from '../helpers/cli.js';
import { labEnv } from '../helpers/lab.js';
import { getBytes, incompleteUploads, labFixture, sha256 } from './helpers/s3-check.js';

const MiB = 1024 * 1024;
/** requests each access key may sign before the proxy calls its session expired */
const KEY_REQUESTS = 4;

interface Seen { akid: string; method: string; path: string; expired: boolean }

async function expiringProxy(t: TestContext, targetPort: number) {
  const used = new Map<string, number>();
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const akid = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const n = (used.get(akid) ?? 0) + 1;
    used.set(akid, n);
    const expired = akid !== '' && n > KEY_REQUESTS;
    seen.push({ akid, method: req.method ?? '', path: req.url ?? '', expired });
    if (expired) {
      req.resume();
      res.writeHead(400, { 'content-type': 'application/xml' })
        .end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>');
      return;
    }
    const up = request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (ur: IncomingMessage) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

test('an expired session mid-download and mid-upload: refreshed once per rejection, the request retried, everything lands', { timeout: 180_000 }, async (t) => {
  const { lab, s3, bucket, dir } = await labFixture(t, 'expired');
  const cp = await startControlPlane(t, lab, { dir });
  const proxy = await expiringProxy(t, Number(new URL(lab.endpoint).port));
  const inputs = new Map(Array.from({ length: 8 }, (_, i) => [`DJI_000${i}.JPG`, randomBytes(40_000 + i)]));
  for (const [k, b] of inputs) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `in/${k}`, Body: b }));
  const project = join(dir, 'project');
  mkdirSync(join(project, 'odm_orthophoto'), { recursive: true });
  mkdirSync(join(project, 'odm_report'), { recursive: true });

  const sidecar = startCli([
    'run', '--prefetch', '--input-prefix', `s3://${bucket}/in/`, '--input-dir', join(project, 'images'),
    '--output-dir', project, '--output-prefix', `s3://${bucket}/out/`, '--preset', 'odm', '--progress-udp', 'off',
    '--stable-window', '300ms', '--download-concurrency', '2',
    '--part-size', '5MiB', '--multipart-threshold', '5MiB', '--part-concurrency', '1',
    '--control-plane-url', cp.url, '--control-plane-token-file', cp.tokenFile,
  ], labEnv(lab, { AWS_ENDPOINT_URL: proxy.endpoint }));
  t.after(() => sidecar.child.kill('SIGKILL'));
  await sidecar.waitFor(/"msg":"watching /, 120_000);
  for (const [k, b] of inputs) assert.deepEqual(readFileSync(join(project, 'images', k)), b, k);

  // small files (the lean PUT) and a multipart one (the SDK client)
  const outputs = { 'odm_report/report.pdf': randomBytes(200_000), 'odm_report/stats.json': randomBytes(3_000), 'odm_orthophoto/odm_orthophoto.tif': randomBytes(12 * MiB) };
  for (const [rel, b] of Object.entries(outputs)) writeFileSync(join(project, rel), b);
  for (const rel of Object.keys(outputs)) await sidecar.waitFor(new RegExp(`"key":"out/${rel}".*"msg":"uploaded"`), 120_000);
  writeFileSync(join(project, 'log.json'), JSON.stringify({ success: true }));
  const r = await sidecar.done;
  assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);
  for (const [rel, b] of Object.entries(outputs)) assert.equal(sha256(await getBytes(s3, bucket, `out/${rel}`)), sha256(b), rel);
  assert.deepEqual(await incompleteUploads(s3, bucket), []);

  const expired = proxy.seen.filter((s) => s.expired);
  assert.ok(expired.some((s) => s.method === 'GET' && s.path.includes('/in/')), 'a download request met an expired session');
  assert.ok(expired.some((s) => s.method === 'PUT' && s.path.includes('/out/') && !s.path.includes('partNumber=')), 'a small file\'s PUT (lean) met one');
  assert.ok(expired.some((s) => s.path.includes('uploadId') || s.path.includes('uploads') || s.method === 'HEAD' || s.path.includes('_manifest')), 'an SDK request met one');
  // One refresh per expired key: the first credentials, then one more for each key the proxy expired.
  const keys = new Set(proxy.seen.map((s) => s.akid).filter(Boolean));
  const expiredKeys = new Set(expired.map((s) => s.akid));
  assert.equal(cp.calls, 1 + expiredKeys.size, `control plane calls ${cp.calls}, keys expired ${expiredKeys.size}`);
  assert.ok(expiredKeys.size >= 3, `${expiredKeys.size} keys expired`);
  assert.equal(keys.size, cp.calls, 'every key handed out signed requests');
  // every expired request was sent again, signed by a newer key
  const order = [...keys];
  for (const e of expired) {
    const later = proxy.seen.slice(proxy.seen.indexOf(e) + 1).find((s) => s.method === e.method && s.path === e.path && !s.expired);
    assert.ok(later, `${e.method} ${e.path} was retried`);
    assert.ok(order.indexOf(later.akid) > order.indexOf(e.akid), `${e.method} ${e.path} was retried with a newer key`);
  }
  // through the one path: the rejection is logged by it, and never reaches a retry loop
  assert.ok(r.logs.filter((l) => l.msg === 'S3 rejected the session as expired; refreshing credentials and retrying once').length >= expiredKeys.size);
  const loops = r.logs.filter((l) => /retrying/.test(String(l.msg)) && /ExpiredToken/.test(JSON.stringify(l)) && l.msg !== 'S3 rejected the session as expired; refreshing credentials and retrying once');
  assert.deepEqual(loops, [], 'no retry loop saw an expired session');
  assert.ok(r.logs.every((l) => l.msg !== 'upload failed; retrying'), 'no upload was retried whole');
});
