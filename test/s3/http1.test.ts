// The lean HTTP/1.1 client (src/s3/http1/) against answers framed every way HTTP/1.1
// allows. A crafted TCP server stands in for S3 here, because the real one (Ceph RGW, used by
// every other download test) cannot be made to split its headers byte by byte, send a 100
// Continue, cut a body short, or close a kept-alive connection on demand.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Http1Pool, type Http1Request } from '../../src/s3/http1/index.js';
import { classify } from '../../src/s3/classify.js';
import { hostile as crafted, trickle } from './helpers/hostile.js';

function pool(t: TestContext, timeoutMs = 5000): Http1Pool {
  const p = new Http1Pool({ maxSockets: 4, timeoutMs, readBufferBytes: 16 });
  t.after(() => p.destroy());
  return p;
}

/** Write `text` a few bytes at a time, so every boundary falls somewhere awkward. */
const dribble = (socket: Socket, text: string, step = 3): Promise<void> => trickle(socket, text, step, 1);

const get = (port: number, path = '/b/k'): Http1Request => ({ method: 'GET', hostname: '127.0.0.1', port, tls: false, path, headers: { host: `127.0.0.1:${port}` } });

test('Content-Length and chunked bodies, headers split byte by byte, 100 Continue first, keep-alive reuse', async (t) => {
  const body = 'x'.repeat(100) + '0123456789';
  const server = await crafted(t, async (s, req, n) => {
    assert.match(req, /^GET \/b\/k HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+$/);
    if (n === 0) await dribble(s, `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nETag: "e"\r\nX-Dup: a\r\nx-dup: b\r\n\r\n${body}`, 1);
    else if (n === 1) await dribble(s, `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6;ext=1\r\nhello \r\n5\r\nworld\r\n0\r\nTrailer: t\r\n\r\n`);
    else s.write('HTTP/1.1 204 No Content\r\n\r\n');
  });
  const p = pool(t);
  const pieces: string[] = [];
  const r1 = await p.request(get(server.port), (h) => {
    assert.equal(h.status, 200);
    assert.equal(h.headers.etag, '"e"');
    assert.equal(h.headers['x-dup'], 'a, b');
    return (piece) => { pieces.push(piece.toString('latin1')); };
  });
  assert.equal(pieces.join(''), body);
  assert.equal(r1.body, undefined);
  const r2 = await p.request(get(server.port), () => 'collect');
  assert.equal(r2.body?.toString(), 'hello world');
  const r3 = await p.request(get(server.port), () => 'collect');
  assert.equal(r3.status, 204);
  assert.equal(server.connections(), 1, 'one kept-alive connection served all three');
});

test('a body framed by the end of the connection, and Connection: close, are not reused', async (t) => {
  const server = await crafted(t, (s, _req, n) => {
    if (n === 0) s.end('HTTP/1.1 200 OK\r\n\r\nuntil the end');
    else s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
  });
  const p = pool(t);
  assert.equal((await p.request(get(server.port), () => 'collect')).body?.toString(), 'until the end');
  assert.equal((await p.request(get(server.port), () => 'collect')).body?.toString(), 'ok');
  await p.request(get(server.port), () => 'collect').catch(() => {});
  assert.equal(server.connections(), 3, 'each answer on its own connection');
});

test('a kept-alive connection the server closed, while idle or as the next request arrived, is replaced without an error', async (t) => {
  const server = await crafted(t, (s, _req, n) => {
    // the second request dies with its connection, unanswered: the race with the server's idle timeout
    if (n === 2) return void s.destroy();
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n${n}`);
    if (n === 0) setTimeout(() => s.destroy(), 20); // an idle timeout on the server's side
  });
  const p = pool(t);
  await p.request(get(server.port), () => 'collect');
  await sleep(100);
  assert.equal((await p.request(get(server.port), () => 'collect')).body?.toString(), '1');
  assert.equal((await p.request(get(server.port), () => 'collect')).body?.toString(), '3', 'sent again on a new connection');
  assert.equal(server.connections(), 3);
});

test('a cut body, a dead server, silence and an abort fail as network errors; a throwing handler fails the request', async (t) => {
  const server = await crafted(t, (s, req) => {
    if (req.includes('/cut')) s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nonly5');
    else if (req.includes('/silent')) s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    else if (req.includes('/garbage')) s.end('SSH-2.0-OpenSSH\r\n\r\n');
    else s.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody');
  });
  const p = pool(t, 300);
  const cut = await p.request(get(server.port, '/cut'), () => () => {}).catch((e: unknown) => e);
  assert.equal((cut as NodeJS.ErrnoException).code, 'ECONNRESET');
  assert.deepEqual([classify(cut).action, classify(cut).network], ['retry', true]);
  const silent = await p.request(get(server.port, '/silent'), () => () => {}).catch((e: unknown) => e);
  assert.equal((silent as Error).name, 'TimeoutError');
  assert.deepEqual([classify(silent).action, classify(silent).network], ['retry', true]);
  await assert.rejects(p.request(get(server.port, '/garbage'), () => 'collect'), /not an HTTP\/1\.1 answer/);
  await assert.rejects(p.request(get(server.port, '/ok'), () => () => { throw new Error('disk full'); }), /disk full/);

  const ac = new AbortController();
  const aborted = p.request(get(server.port, '/silent'), () => () => {}, ac.signal);
  setTimeout(() => ac.abort(new Error('stop')), 20);
  await assert.rejects(aborted, (e: Error) => e.name === 'AbortError');
  assert.equal((await p.request(get(server.port, '/ok'), () => 'collect')).body?.toString(), 'body', 'the pool still works');

  const dead = new Http1Pool({ maxSockets: 1, timeoutMs: 1000 });
  t.after(() => dead.destroy());
  const refused = await dead.request(get(1), () => 'collect').catch((e: unknown) => e);
  assert.equal((refused as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  assert.deepEqual([classify(refused).action, classify(refused).network], ['retry', true]);
});

test('one connection serves many requests without piling up listeners', async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const server = await crafted(t, (s) => { s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx'); });
  const p = new Http1Pool({ maxSockets: 1, timeoutMs: 5000 });
  t.after(() => p.destroy());
  const ac = new AbortController();
  for (let i = 0; i < 30; i++) await p.request(get(server.port), () => 'collect', ac.signal);
  await sleep(10); // warnings are emitted on the next tick
  assert.equal(server.connections(), 1);
  assert.deepEqual(warnings, [], 'no MaxListenersExceededWarning');
});

test('no more connections than maxSockets: requests beyond wait for a free one', async (t) => {
  let open = 0;
  let most = 0;
  const server = await crafted(t, async (s) => {
    most = Math.max(most, ++open);
    await sleep(30);
    open--;
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  const p = pool(t);
  const all = await Promise.all(Array.from({ length: 12 }, () => p.request(get(server.port), () => 'collect')));
  assert.ok(all.every((r) => r.body?.toString() === 'ok'));
  assert.ok(server.connections() <= 4, `connections: ${server.connections()}`);
  assert.ok(most <= 4, `concurrent: ${most}`);
});

test('an IPv6 address connects; the Host header keeps its brackets', async (t) => {
  const server = await crafted(t, (s, req) => {
    assert.match(req, /\r\nhost: \[::1\]:\d+$/);
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv6');
  }, '::1');
  const p = pool(t);
  const req = { ...get(server.port), hostname: '::1', headers: { host: `[::1]:${server.port}` } };
  assert.equal((await p.request(req, () => 'collect')).body?.toString(), 'v6');
});

test('a request aborted while it waits for a connection fails at once, without sending', async (t) => {
  const paths: string[] = [];
  const server = await crafted(t, (s, req) => {
    paths.push(req.split(' ')[1]!);
    if (req.includes('/slow')) setTimeout(() => s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ns'), 200);
  });
  const p = new Http1Pool({ maxSockets: 1, timeoutMs: 5000 });
  t.after(() => p.destroy());
  const slow = p.request(get(server.port, '/slow'), () => 'collect');
  const ac = new AbortController();
  const waiting = p.request(get(server.port, '/never'), () => 'collect', ac.signal);
  let slowDone = false;
  void slow.then(() => (slowDone = true));
  ac.abort(new Error('stop'));
  await assert.rejects(waiting, /stop/);
  assert.equal(slowDone, false, 'it did not wait for the busy connection');
  assert.equal((await slow).body?.toString(), 's');
  assert.deepEqual(paths, ['/slow'], 'the aborted request was never sent');
});
