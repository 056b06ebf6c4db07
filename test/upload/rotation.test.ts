// Credentials rotate during a multipart upload: the sidecar gets 20-second credentials from a
// control plane (the credentials tests' stub, which calls the lab's real STS AssumeRole and
// reports the short lifetime), and a 30 MiB upload is slowed to last several lifetimes. An HTTP
// proxy in front of S3 enforces the reported lifetime the way RGW treats an expired session
// (403 AccessDenied for a key used past it; STS's own minimum of 900 s would otherwise keep old
// keys valid) and records which access key signed each part. The upload must complete, with
// its parts signed by more than one key.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { startControlPlane } from '../credentials/helpers/control-plane.js';
import { startCli } from '../helpers/cli.js';
import { labEnv } from '../helpers/lab.js';
import { getBytes, incompleteUploads, labFixture, sha256 } from './helpers/s3-check.js';

const MiB = 1024 * 1024;
const LIFETIME_S = 20;

interface Seen { akid: string; method: string; path: string; status: number }

/** S3 in front of the lab: enforces reported lifetimes per access key, paces request bodies, records who signed what. */
async function expiringS3Proxy(t: TestContext, targetPort: number, lifetimeMs: number, rate: number) {
  const firstSeen = new Map<string, number>();
  const seen: Seen[] = [];
  let freeAt = 0;
  const server = createServer((req, res) => {
    const akid = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const now = Date.now();
    if (akid && !firstSeen.has(akid)) firstSeen.set(akid, now);
    const entry: Seen = { akid, method: req.method ?? '', path: req.url ?? '', status: 0 };
    seen.push(entry);
    if (akid && now > firstSeen.get(akid)! + lifetimeMs) {
      entry.status = 403;
      req.resume();
      res.writeHead(403, { 'content-type': 'application/xml' }).end('<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message></Message></Error>');
      return;
    }
    const pace = new Transform({
      transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback) {
        const start = Math.max(freeAt, Date.now());
        freeAt = start + (chunk.length / rate) * 1000;
        setTimeout(() => cb(null, chunk), freeAt - Date.now());
      },
    });
    const up = request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (ur: IncomingMessage) => {
      entry.status = ur.statusCode ?? 0;
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(pace).pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

test('credentials rotate (20 s lifetimes) during a multipart upload: the upload completes, its parts signed by several keys', { timeout: 240_000 }, async (t) => {
  const { lab, s3, bucket, dir } = await labFixture(t, 'rotate');
  const cp = await startControlPlane(t, lab, { dir, lifetimeSec: LIFETIME_S });
  const proxy = await expiringS3Proxy(t, Number(new URL(lab.endpoint).port), LIFETIME_S * 1000, 1 * MiB);
  const out = join(dir, 'out');
  const data = randomBytes(30 * MiB);
  mkdirSync(out);
  writeFileSync(join(out, 'ortho.tif'), data);

  const sidecar = startCli([
    'run', '--output-dir', out, '--output-prefix', `s3://${bucket}/job/`, '--stable-window', '300ms',
    '--part-size', '5MiB', '--multipart-threshold', '5MiB', '--part-concurrency', '2',
    '--control-plane-url', cp.url, '--control-plane-token-file', cp.tokenFile, '--refresh-min-remaining', '5s',
    '--done-file', join(dir, 'DONE'), '--grace-period', '120s',
  ], labEnv(lab, { AWS_ENDPOINT_URL: proxy.endpoint }));
  t.after(() => sidecar.child.kill('SIGKILL'));
  await sidecar.waitFor(/"key":"job\/ortho.tif".*"msg":"uploaded"/, 200_000);
  writeFileSync(join(dir, 'DONE'), '0');
  const r = await sidecar.done;
  assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);

  assert.equal(sha256(await getBytes(s3, bucket, 'job/ortho.tif')), sha256(readFileSync(join(out, 'ortho.tif'))));
  assert.deepEqual(await incompleteUploads(s3, bucket), []);
  const partKeys = new Set(proxy.seen.filter((s) => s.method === 'PUT' && /[?&]partNumber=/.test(s.path) && s.status === 200).map((s) => s.akid));
  assert.ok(partKeys.size >= 2, `parts signed by ${partKeys.size} key(s)`);
  assert.ok(cp.calls >= 3, `control plane calls: ${cp.calls}`);
  // No secret the control plane handed out shows up in the logs.
  for (const s of cp.issuedSecrets) assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s));
});
