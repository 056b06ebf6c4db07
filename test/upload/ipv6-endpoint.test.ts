// An endpoint given as an IPv6 literal (http://[::1]:port) reaches the server through both lean
// paths: the PUT over node:http and the GET over the HTTP/1.1 client. The lab server listens on
// IPv4 only, so a plain node:http server on ::1 answers here; it checks the signed Host header.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { S3Http } from '../../src/s3/transport.js';
import { fixedHolder } from '../helpers/holders.js';

test('an IPv6 literal endpoint works for the lean PUT and GET, with the bracketed Host header signed', async (t) => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.host} ${/SignedHeaders=[^,]*host/.test(req.headers.authorization ?? '')}`);
    req.resume();
    req.on('end', () => res.writeHead(200, { etag: '"e"', 'content-length': '2' }).end('ok'));
  });
  server.listen(0, '::1');
  await once(server, 'listening');
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const config = loadConfig('upload', ['--endpoint-url', `http://[::1]:${port}`, '--region', 'us-east-1'], {});
  const http = new S3Http(config, fixedHolder({ accessKeyId: 'AKID', secretAccessKey: 'secret', source: 'static' }), { maxSockets: 2, socketTimeoutMs: 5000 });
  t.after(() => http.destroy());

  const put = await http.send({ method: 'PUT', bucket: 'b', key: 'k', body: Buffer.from('x') });
  put.resume();
  assert.equal(put.statusCode, 200);
  const got = await http.fetch({ method: 'GET', bucket: 'b', key: 'k' }, () => 'collect');
  assert.equal(got.body?.toString(), 'ok');
  assert.deepEqual(seen, [`PUT /b/k [::1]:${port} true`, `GET /b/k [::1]:${port} true`]);
});
