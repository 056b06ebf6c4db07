// The undici-based client (src/s3/undici-client.ts, SIDECAR_HTTP_CLIENT=undici) against answers
// framed every way HTTP/1.1 allows, and against broken ones: it must hand bodies to the same
// BodyHandler and fail in the same shapes as the hand-written client (test/s3/http1.test.ts).
// A crafted TCP server stands in for S3, because the real one (Ceph RGW) cannot be made to split
// its headers byte by byte, cut a body short, frame it twice, or close a kept-alive connection.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Http1Request } from '../../src/s3/http1/index.js';
import { classify } from '../../src/s3/classify.js';
import { UndiciClient } from '../../src/s3/undici-client.js';
import { hostile as crafted, trickle } from './helpers/hostile.js';

function client(t: TestContext, timeoutMs = 5000, maxSockets = 4): UndiciClient {
  const c = new UndiciClient({ maxSockets, timeoutMs });
  t.after(() => c.destroy());
  return c;
}

/** Write `text` a few bytes at a time, so every boundary falls somewhere awkward. */
const dribble = (socket: Socket, text: string, step = 3): Promise<void> => trickle(socket, text, step, 1);

const get = (port: number, path = '/b/k'): Http1Request => ({ method: 'GET', hostname: '127.0.0.1', port, tls: false, path, headers: { host: `127.0.0.1:${port}` } });

test('undici: Content-Length and chunked bodies, split headers, repeated headers, keep-alive reuse; an unasked-for 100 Continue fails', async (t) => {
  const body = 'x'.repeat(100) + '0123456789';
  const server = await crafted(t, async (s, req, n) => {
    assert.match(req, /^GET \/b\/k HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\n/);
    if (n === 0) await dribble(s, `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nETag: "e"\r\nX-Dup: a\r\nx-dup: b\r\n\r\n${body}`, 1);
    else if (n === 1) await dribble(s, `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6;ext=1\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n`);
    else if (n === 2) s.write('HTTP/1.1 204 No Content\r\n\r\n');
    // undici takes a 1xx only after `Expect: 100-continue` (which S3 GETs never send), unlike http1.ts
    else s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  const c = client(t);
  const pieces: string[] = [];
  const r1 = await c.request(get(server.port), (h) => {
    assert.equal(h.status, 200);
    assert.equal(h.headers.etag, '"e"');
    assert.equal(h.headers['x-dup'], 'a, b');
    return (piece) => { pieces.push(piece.toString('latin1')); };
  });
  assert.equal(pieces.join(''), body);
  assert.equal(r1.body, undefined);
  assert.equal((await c.request(get(server.port), () => 'collect')).body?.toString(), 'hello world');
  assert.equal((await c.request(get(server.port), () => 'collect')).status, 204);
  // undici's Pool may open a second connection for a request made as the first frees up (it learns
  // that a connection is free a tick later); never one per request
  assert.ok(server.connections() <= 2, `kept-alive connections served all three: ${server.connections()}`);
  await assert.rejects(c.request(get(server.port), () => 'collect'), /bad response/);
  assert.equal(server.requests.length, 4, 'a malformed answer is not sent again');
});

test('undici: a kept-alive connection the server closed as the next request arrived is replaced without an error', async (t) => {
  const server = await crafted(t, (s, _req, n) => {
    if (n === 1) return void s.destroy(); // the race with the server's idle timeout
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n${n}`);
  });
  const c = client(t, 5000, 1);
  assert.equal((await c.request(get(server.port), () => 'collect')).body?.toString(), '0');
  assert.equal((await c.request(get(server.port), () => 'collect')).body?.toString(), '2', 'sent again on a new connection');
  assert.equal(server.connections(), 2);
});

test('undici: a cut body, silence, a dead server and an abort fail as network errors; a throwing handler fails the request', async (t) => {
  const server = await crafted(t, (s, req) => {
    if (req.includes('/cut')) s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nonly5');
    else if (req.includes('/silent')) s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    else if (req.includes('/garbage')) s.end('SSH-2.0-OpenSSH\r\n\r\n');
    else s.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody');
  });
  const c = client(t, 1000);
  const cut = await c.request(get(server.port, '/cut'), () => () => {}).catch((e: unknown) => e);
  assert.equal((cut as NodeJS.ErrnoException).code, 'ECONNRESET', String(cut));
  assert.equal(classify(cut).network, true);
  const silent = await c.request(get(server.port, '/silent'), () => () => {}).catch((e: unknown) => e);
  assert.equal((silent as Error).name, 'TimeoutError', String(silent));
  assert.equal(classify(silent).network, true);
  await assert.rejects(c.request(get(server.port, '/garbage'), () => 'collect'));
  await assert.rejects(c.request(get(server.port, '/ok'), () => () => { throw new Error('disk full'); }), /disk full/);

  const ac = new AbortController();
  const aborted = c.request(get(server.port, '/silent'), () => () => {}, ac.signal);
  setTimeout(() => ac.abort(new Error('stop')), 20);
  await assert.rejects(aborted, (e: Error) => e.name === 'AbortError');
  assert.equal((await c.request(get(server.port, '/ok'), () => 'collect')).body?.toString(), 'body', 'the client still works');

  const dead = client(t, 1000, 1);
  const refused = await dead.request(get(1), () => 'collect').catch((e: unknown) => e);
  assert.equal((refused as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  assert.equal(classify(refused).network, true);
});

test('undici: a header value with CR or LF is refused before anything is sent; both framings at once are refused', async (t) => {
  const server = await crafted(t, (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n');
  });
  const c = client(t);
  const split = { ...get(server.port), headers: { host: `127.0.0.1:${server.port}`, 'if-match': '"e"\r\nx-injected: 1' } };
  await assert.rejects(c.request(split, () => 'collect'), /header/i);
  assert.deepEqual(server.requests, [], 'nothing reached the server');
  await assert.rejects(c.request(get(server.port), () => 'collect'));
});

test('undici: no more connections than maxSockets; an IPv6 address keeps the brackets in Host', async (t) => {
  let open = 0;
  let most = 0;
  const server = await crafted(t, async (s) => {
    most = Math.max(most, ++open);
    await sleep(30);
    open--;
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  const c = client(t);
  const all = await Promise.all(Array.from({ length: 12 }, () => c.request(get(server.port), () => 'collect')));
  assert.ok(all.every((r) => r.body?.toString() === 'ok'));
  assert.ok(server.connections() <= 4 && most <= 4, `connections ${server.connections()}, concurrent ${most}`);

  const v6 = await crafted(t, (s, req) => {
    assert.match(req, /\r\nhost: \[::1\]:\d+(\r\n|$)/);
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv6');
  }, '::1');
  const req = { ...get(v6.port), hostname: '::1', headers: { host: `[::1]:${v6.port}` } };
  assert.equal((await c.request(req, () => 'collect')).body?.toString(), 'v6');
});

test('undici: a request aborted while it waits for a connection fails at once, and is never sent', async (t) => {
  const server = await crafted(t, (s, req) => {
    if (req.includes('/slow')) setTimeout(() => s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ns'), 200);
  });
  const c = client(t, 5000, 1);
  const slow = c.request(get(server.port, '/slow'), () => 'collect');
  await sleep(20);
  const ac = new AbortController();
  const waiting = c.request(get(server.port, '/never'), () => 'collect', ac.signal);
  await sleep(20); // queued in undici's pool behind /slow
  let slowDone = false;
  void slow.then(() => (slowDone = true));
  ac.abort(new Error('stop'));
  await assert.rejects(waiting, (e: Error) => e.name === 'AbortError');
  assert.equal(slowDone, false, 'it did not wait for the busy connection');
  assert.equal((await slow).body?.toString(), 's');
  await sleep(50);
  assert.deepEqual(server.requests.map((r) => r.split(' ')[1]), ['/slow'], 'the aborted request was never sent');
});

test('undici: a PUT sends its body with its length and collects the answer; a failed PUT is not sent twice', async (t) => {
  const seen: string[] = [];
  // the crafted server above reads heads only: this one reads each request whole (head + 5 bytes)
  const server = createServer((socket) => {
    let buffered = '';
    socket.on('data', (d) => {
      buffered += d.toString('latin1');
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0 || buffered.length < end + 4 + 5) return;
      const [head, body] = [buffered.slice(0, end), buffered.slice(end + 4, end + 9)];
      buffered = buffered.slice(end + 9);
      seen.push(`${head.split(' ')[1]} ${/\r\ncontent-length: 5(\r\n|$)/i.test(head)} ${body}`);
      if (head.includes('/dies')) return void socket.destroy();
      socket.write('HTTP/1.1 200 OK\r\nETag: "p"\r\nContent-Length: 0\r\n\r\n');
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const c = client(t);
  const put = (path: string) => ({ ...get(port, path), method: 'PUT' as const, headers: { host: `127.0.0.1:${port}`, 'content-length': '5' }, body: Buffer.from('hello') });
  const r = await c.put(put('/b/k'));
  assert.equal(r.status, 200);
  assert.equal(r.headers.etag, '"p"');
  await assert.rejects(c.put(put('/b/dies')));
  assert.deepEqual(seen, ['/b/k true hello', '/b/dies true hello'], 'the uploader retries a PUT, not the client');
});
