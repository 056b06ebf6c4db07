// What the lean HTTP/1.1 client (src/s3/http1/) refuses, against a hostile server that sends
// crafted bytes (helpers/hostile.ts says why a fake server is right here, and only here):
// requests that would carry CR, LF or NUL, answers outside RFC 9112's framing, bodies past their
// cap, and servers that trickle bytes past the request deadline.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { BodyTooLargeError, DeadlineError, Http1Pool, HttpProtocolError, RequestHeaderError, type Http1Request } from '../../src/s3/http1/index.js';
import { classify } from '../../src/s3/classify.js';
import { hostile, trickle } from './helpers/hostile.js';

function pool(t: TestContext, opts: { timeoutMs?: number; deadlineMs?: number } = {}): Http1Pool {
  const p = new Http1Pool({ maxSockets: 2, timeoutMs: opts.timeoutMs ?? 5000, deadlineMs: opts.deadlineMs, readBufferBytes: 64 });
  t.after(() => p.destroy());
  return p;
}

const get = (port: number, path = '/b/k', headers: Record<string, string> = {}): Http1Request =>
  ({ method: 'GET', hostname: '127.0.0.1', port, tls: false, path, headers: { host: `127.0.0.1:${port}`, ...headers } });

/** A server that answers request n with answers[n] (raw bytes), keeping the connection open. */
async function answering(t: TestContext, answers: string[]) {
  return hostile(t, (s, _req, n) => { s.write(answers[n] ?? 'HTTP/1.1 500 X\r\nContent-Length: 0\r\n\r\n', 'latin1'); });
}

test('a header name or value with CR, LF or NUL, or a request target with a space, is never sent', async (t) => {
  const server = await answering(t, []);
  const p = pool(t);
  for (const [what, req] of [
    ['CRLF in a value', get(server.port, '/b/k', { 'if-match': '"e"\r\nX-Injected: 1' })],
    ['LF in a value', get(server.port, '/b/k', { 'x-a': 'a\nb' })],
    ['NUL in a value', get(server.port, '/b/k', { 'x-a': 'a\0b' })],
    ['CR in a name', get(server.port, '/b/k', { 'x-a\r': 'v' })],
    ['a space in a name', get(server.port, '/b/k', { 'x a': 'v' })],
    ['a space in the target', get(server.port, '/b/k HTTP/1.1\r\nX: y')],
  ] as const) {
    await assert.rejects(p.request(req, () => 'collect'), (e: Error) => e instanceof RequestHeaderError && /refused to send/.test(e.message), what);
  }
  assert.equal(server.connections(), 0, 'no connection was even opened');
  assert.deepEqual(server.requests, []);
});

const CHUNKED = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';

test('chunk sizes: hex digits only, bounded, extensions and trailers in their grammar', async (t) => {
  const good: [string, string][] = [
    ['5;name=value;flag ; q="a \\" b"\r\nhello\r\n0\r\nX-T: 1\r\n\r\n', 'hello'],
    ['A\r\n0123456789\r\n0\r\n\r\n', '0123456789'],
    ['0005\r\nhello\r\n000\r\n\r\n', 'hello'],
  ];
  const bad: [string, RegExp][] = [
    ['0x5\r\nhello\r\n0\r\n\r\n', /malformed chunk size/],
    ['+5\r\nhello\r\n0\r\n\r\n', /malformed chunk size/],
    [' 5\r\nhello\r\n0\r\n\r\n', /malformed chunk size/],
    ['5 \r\nhello\r\n0\r\n\r\n', /malformed chunk size/],
    ['-1\r\nhello\r\n0\r\n\r\n', /malformed chunk size/],
    ['\r\nhello\r\n0\r\n\r\n', /malformed chunk size/],
    ['5;=x\r\nhello\r\n0\r\n\r\n', /malformed chunk size/],
    ['fffffffffffffff\r\nhello\r\n', /too large/],
    ['5\nhello\r\n0\r\n\r\n', /LF alone/],
    ['5\r\nhelloX\r\n0\r\n\r\n', /no CRLF after a chunk/],
    [`5;x=${'a'.repeat(5000)}`, /chunk-size line is too long/],
    [`0\r\n${'X-T: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'.repeat(400)}\r\n`, /trailers are too long/],
    ['0\r\nno colon here\r\n\r\n', /malformed trailer line/],
  ];
  const server = await answering(t, [...good.map(([b]) => CHUNKED + b), ...bad.map(([b]) => CHUNKED + b)]);
  const p = pool(t);
  for (const [, body] of good) assert.equal((await p.request(get(server.port), () => 'collect')).body?.toString(), body);
  for (const [body, message] of bad) {
    const err = await p.request(get(server.port), () => 'collect').then(() => assert.fail(`accepted ${JSON.stringify(body.slice(0, 30))}`), (e: Error) => e);
    assert.ok(err instanceof HttpProtocolError, `${JSON.stringify(body.slice(0, 30))}: ${err.message}`);
    assert.match(err.message, message);
    assert.equal(classify(err).action, 'retry', 'a protocol error is retried');
  }
});

test('Content-Length with Transfer-Encoding: read as chunked, and the connection is closed after it', async (t) => {
  const server = await answering(t, [
    'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  ]);
  const p = pool(t);
  assert.equal((await p.request(get(server.port), () => 'collect')).body?.toString(), 'hello');
  assert.equal((await p.request(get(server.port), () => 'collect')).body?.toString(), 'ok');
  assert.equal(server.connections(), 2, 'the first connection was not reused');
});

test('duplicate or conflicting lengths, bad header lines, unsupported codings and oversized heads are refused', async (t) => {
  const cases: [string, RegExp][] = [
    ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok', /more than one Content-Length/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 3\r\n\r\nok', /more than one Content-Length/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok', /bad Content-Length/],
    ['HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok', /bad Content-Length/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456\r\n\r\nok', /bad Content-Length/],
    ['HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n', /malformed header line/],
    ['HTTP/1.1 200 OK\r\nX-A : x\r\nContent-Length: 0\r\n\r\n', /malformed header line/],
    ['HTTP/1.1 200 OK\r\nX-A: x\r\n folded\r\nContent-Length: 0\r\n\r\n', /malformed header line/],
    ['HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 0\r\n\r\n', /malformed header line/],
    ['HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n', /malformed header line/],
    ['HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n', /malformed header line/],
    ['HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n', /malformed header line|not an HTTP/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', /unsupported Transfer-Encoding/],
    ['HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', /HTTP\/1\.0/],
    ['HTTP/1.1 101 Switching Protocols\r\n\r\n', /unexpected 101/],
    [`${'HTTP/1.1 100 Continue\r\n\r\n'.repeat(9)}HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n`, /unexpected 100/],
    ['HTTP/2 200\r\n\r\n', /not an HTTP\/1\.1 answer/],
    [`HTTP/1.1 200 OK\r\n${'X-Pad: 0123456789012345678901234567890123456789\r\n'.repeat(1600)}Content-Length: 0\r\n\r\n`, /longer than 64 KiB/],
  ];
  const server = await answering(t, cases.map(([a]) => a));
  const p = pool(t);
  for (const [answer, message] of cases) {
    const err = await p.request(get(server.port), () => 'collect').then(() => assert.fail(`accepted ${JSON.stringify(answer.slice(0, 60))}`), (e: Error) => e);
    assert.ok(err instanceof HttpProtocolError, `${JSON.stringify(answer.slice(0, 60))}: ${err.message}`);
    assert.match(err.message, message);
  }
  assert.equal(server.connections(), cases.length, 'no connection survived a refused answer');
});

test('a head that never ends is cut at 64 KiB, however slowly it comes', async (t) => {
  const server = await hostile(t, (s) => void trickle(s, `HTTP/1.1 200 OK\r\n${'X-Pad: abcdefghijklmnopqrstuvwxyz\r\n'.repeat(4000)}`, 8192, 1));
  const p = pool(t);
  await assert.rejects(p.request(get(server.port), () => 'collect'), /longer than 64 KiB/);
});

test('collected bodies are capped: announced too large, or growing past the cap', async (t) => {
  const big = 'x'.repeat(70_000);
  const server = await answering(t, [
    'HTTP/1.1 500 Internal\r\nContent-Length: 2000000\r\n\r\n',
    `${CHUNKED}${(big.length).toString(16)}\r\n${big}\r\n0\r\n\r\n`,
    'HTTP/1.1 200 OK\r\n\r\n' + big,
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nsmall',
  ]);
  const p = new Http1Pool({ maxSockets: 1, timeoutMs: 5000, collectLimit: 1024 * 1024 });
  t.after(() => p.destroy());
  await assert.rejects(p.request(get(server.port), () => 'collect'), (e: Error) => e instanceof BodyTooLargeError && /2000000 bytes/.test(e.message));
  await assert.rejects(p.request({ ...get(server.port), collectLimit: 65_536 }, () => 'collect'), BodyTooLargeError);
  await assert.rejects(p.request({ ...get(server.port), collectLimit: 65_536 }, () => 'collect'), BodyTooLargeError);
  assert.equal((await p.request({ ...get(server.port), collectLimit: 5 }, () => 'collect')).body?.toString(), 'small');
});

test('a server that trickles bytes is cut at the request deadline, not held forever by the idle timeout', async (t) => {
  const server = await hostile(t, (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
    void trickle(s, 'x'.repeat(1000), 1, 20);
  });
  const p = pool(t, { timeoutMs: 2000, deadlineMs: 400 });
  const started = Date.now();
  let got = 0;
  const err = await p.request(get(server.port), () => (piece) => { got += piece.length; }).catch((e: Error) => e);
  assert.ok(err instanceof DeadlineError, String(err));
  assert.match(err.message, /request deadline/);
  assert.equal(classify(err).network, true);
  const took = Date.now() - started;
  assert.ok(took >= 350 && took < 1500, `cut after ${took} ms`);
  assert.ok(got > 0 && got < 1000, `bytes kept coming (${got}) until the deadline`);
  // a per-request deadline overrides the pool's
  const server2 = await hostile(t, (s) => void trickle(s, 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc', 1, 20));
  assert.equal((await p.request({ ...get(server2.port), deadlineMs: 5000 }, () => 'collect')).body?.toString(), 'abc');
});
