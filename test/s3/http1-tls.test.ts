// The lean HTTP/1.1 client over TLS, as it talks to AWS S3: `onread` then delivers one TLS record
// (at most 16 KiB) at a time, and the certificate is checked against the trusted CAs. The lab
// server speaks plain HTTP, so a local TLS server with a throwaway certificate (openssl) stands
// in; the client runs in a child process that trusts that certificate via NODE_EXTRA_CA_CERTS,
// which Node reads only at start-up.
import assert from 'node:assert/strict';
import { execFileSync, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createServer } from 'node:tls';
import { promisify } from 'node:util';

const body = Buffer.alloc(3 * 1024 * 1024 + 17, 'tls body ');

test('over TLS: a verified certificate, a body of many records, chunked framing, one kept-alive connection', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 's3-sidecar-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  let connections = 0;
  const server = createServer({ key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) }, (s) => {
    connections++;
    let seen = '';
    s.on('data', (d) => {
      seen += d.toString('latin1');
      while (seen.includes('\r\n\r\n')) {
        const request = seen.slice(0, seen.indexOf('\r\n\r\n'));
        seen = seen.slice(seen.indexOf('\r\n\r\n') + 4);
        if (request.startsWith('GET /big ')) {
          s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
          s.write(body);
        } else s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
      }
    });
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;

  const http1 = new URL('../../src/s3/http1/index.ts', import.meta.url).href;
  const script = `
    import { createHash } from 'node:crypto';
    const { Http1Pool } = await import(${JSON.stringify(http1)});
    const pool = new Http1Pool({ maxSockets: 2, timeoutMs: 10000 });
    const req = (path) => ({ method: 'GET', hostname: '127.0.0.1', port: ${port}, tls: true, path, headers: { host: '127.0.0.1:${port}' } });
    const hash = createHash('sha256');
    let pieces = 0, largest = 0;
    await pool.request(req('/big'), () => (p) => { pieces++; largest = Math.max(largest, p.length); hash.update(p); });
    const small = await pool.request(req('/small'), () => 'collect');
    pool.destroy();
    process.stdout.write(JSON.stringify({ sha256: hash.digest('hex'), pieces, largest, small: small.body.toString() }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') },
  });
  const got = JSON.parse(stdout) as { sha256: string; pieces: number; largest: number; small: string };
  assert.equal(got.sha256, createHash('sha256').update(body).digest('hex'), 'the body, byte for byte');
  assert.ok(got.largest <= 16 * 1024 && got.pieces >= body.length / (16 * 1024), `one TLS record per piece: ${got.pieces} pieces, largest ${got.largest}`);
  assert.equal(got.small, 'abc');
  assert.equal(connections, 1);

  // without trusting the certificate, the connection is refused
  const untrusted = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } })
    .then(() => undefined, (e: { stderr: string }) => e.stderr);
  assert.match(untrusted ?? 'it succeeded', /self[- ]signed|unable to verify|DEPTH_ZERO/i);
});
