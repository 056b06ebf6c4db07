// What the lean GET and listing refuse, against a hostile server (helpers/hostile.ts says why a
// fake server is right here, and only here): a body longer or shorter than expected (never
// written past its length), an ETag from a listing that is not one, oversized error bodies, a
// trickling server past --request-deadline, and listings that loop or go backwards.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/config/define.js';
import { BodyTooLargeError, DeadlineError } from '../../src/s3/http1/index.js';
import { listObjects } from '../../src/s3/list.js';
import { InvalidEtagError, ListingError, VerifyError } from '../../src/s3/errors.js';
import { ObjectGetter } from '../../src/s3/object-get.js';
import { classify } from '../../src/s3/classify.js';
import { ServerWatch, type RetryContext } from '../../src/s3/retry.js';
import { fixedHolder } from '../helpers/holders.js';
import { hostile, trickle, type Answer } from './helpers/hostile.js';

async function getter(t: TestContext, answer: Answer, requestDeadlineMs?: number) {
  const server = await hostile(t, answer);
  const config = loadConfig('download', ['--endpoint-url', `http://127.0.0.1:${server.port}`, '--region', 'us-east-1'], {});
  const g = new ObjectGetter(config, fixedHolder({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', source: 'test' }), { maxSockets: 2, socketTimeoutMs: 5000, requestDeadlineMs });
  t.after(() => g.destroy());
  return { g, server };
}

const signal = new AbortController().signal;
const chunked = (body: string) => `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;

test('a GET never hands over more than the expected length; longer or shorter bodies fail and are retried', async (t) => {
  const { g } = await getter(t, (s, req) => {
    const path = req.split(' ')[1]!;
    if (path.endsWith('/long')) s.write(chunked('0123456789EXTRA'));
    else if (path.endsWith('/short')) s.write(chunked('01234'));
    else if (path.endsWith('/range-long')) s.write(`HTTP/1.1 206 Partial\r\nContent-Range: bytes 0-9/100\r\nTransfer-Encoding: chunked\r\n\r\n${chunked('0123456789EXTRA').split('\r\n\r\n')[1]}`);
    else if (path.endsWith('/range-wrong')) s.write('HTTP/1.1 206 Partial\r\nContent-Range: bytes 0-9/100\r\nContent-Length: 12\r\n\r\n0123456789AB');
    else if (path.endsWith('/past-length')) s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789EXTRA');
    else if (path.endsWith('/cut')) s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234');
    else if (path.endsWith('/big-collect')) s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n');
  });
  for (const [key, req, message] of [
    ['long', { size: 10 }, /long body: more than the 10 bytes/],
    ['short', { size: 10 }, /short body: got 5 of 10/],
    ['range-long', { range: 'bytes=0-9' }, /long body: more than the 10 bytes/],
    ['range-wrong', { range: 'bytes=0-9' }, /asked for 10 bytes .* announces 12/],
  ] as const) {
    let written = 0;
    const err = await g.get({ bucket: 'b', key, ...req }, () => (piece) => { written += piece.length; }, signal).catch((e: Error) => e);
    assert.ok(err instanceof VerifyError, `${key}: ${String(err)}`);
    assert.match(err.message, message);
    assert.equal(classify(err).action, 'retry', 'the object is fetched again');
    assert.ok(written <= 10, `${key}: ${written} bytes handed over, never past the 10 expected`);
  }
  // with a Content-Length, the framing itself stops at it: the excess never reaches the caller
  let written = '';
  await g.get({ bucket: 'b', key: 'past-length', size: 10 }, () => (piece) => { written += piece.toString(); }, signal);
  assert.equal(written, '0123456789');
  const cut = await g.get({ bucket: 'b', key: 'cut', size: 10 }, () => () => {}, signal).then(() => assert.fail('a cut body was accepted'), (e: NodeJS.ErrnoException) => e);
  assert.equal(cut.code, 'ECONNRESET');
  assert.equal(classify(cut).network, true);
  await assert.rejects(g.get({ bucket: 'b', key: 'big-collect', size: 10 }, () => 'collect', signal), BodyTooLargeError);
});

test('an ETag from a listing that is not a valid entity-tag is never sent back in If-Match', async (t) => {
  const { g, server } = await getter(t, (s) => { s.write('HTTP/1.1 206 Partial\r\nContent-Range: bytes 0-1/2\r\nContent-Length: 2\r\n\r\nok'); });
  for (const etag of ['"abc"\r\nX-Injected: 1', '"abc"\nX: 1', '"a\0b"', 'abc', '"abc', '"caf\u00e9"', `"${'a'.repeat(300)}"`, '"a"b"']) {
    await assert.rejects(g.get({ bucket: 'b', key: 'k', range: 'bytes=0-1', ifMatch: etag }, () => 'collect', signal),
      (e: Error) => e instanceof InvalidEtagError && /not a valid entity-tag/.test(e.message), JSON.stringify(etag));
  }
  assert.deepEqual(server.requests, [], 'nothing was sent');
  for (const etag of ['"d41d8cd98f00b204e9800998ecf8427e"', '"0123-4"', 'W/"weak"']) {
    assert.equal((await g.get({ bucket: 'b', key: 'k', range: 'bytes=0-1', ifMatch: etag }, () => 'collect', signal)).body?.toString(), 'ok');
  }
  assert.match(server.requests[0]!, /\r\nif-match: "d41d8cd98f00b204e9800998ecf8427e"/);
});

test('an error body over 1 MiB fails cleanly; a trickling GET is cut at --request-deadline', async (t) => {
  const { g } = await getter(t, (s, req) => {
    if (req.includes('/huge-error')) void trickle(s, `HTTP/1.1 500 Internal\r\nTransfer-Encoding: chunked\r\n\r\n${`10000\r\n${'x'.repeat(65_536)}\r\n`.repeat(20)}`, 65_536, 1);
    else {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
      void trickle(s, 'x'.repeat(1000), 1, 20);
    }
  }, 400);
  await assert.rejects(g.get({ bucket: 'b', key: 'huge-error' }, () => () => {}, signal), BodyTooLargeError);
  const err = await g.get({ bucket: 'b', key: 'slow', size: 1000 }, () => () => {}, signal).catch((e: Error) => e);
  assert.ok(err instanceof DeadlineError, String(err));
  assert.throws(() => loadConfig('download', ['--request-deadline', '0'], {}), (e: Error) => e instanceof ConfigError && /^--request-deadline: must be at least 1s/.test(e.message));
  assert.equal(loadConfig('download', ['--request-deadline', '20m'], {}).requestDeadline, 20 * 60_000);
  assert.equal(loadConfig('download', [], {}).requestDeadline, 15 * 60_000);
});

function retryContext(): RetryContext {
  return { retries: 0, watch: new ServerWatch('hostile', 60_000, () => {}), signal, onRetry: () => {} };
}

const page = (keys: string[], token?: string) => {
  const xml = `<?xml version="1.0"?><ListBucketResult><IsTruncated>${token !== undefined}</IsTruncated>${token ? `<NextContinuationToken>${token}</NextContinuationToken>` : ''}${
    keys.map((k) => `<Contents><Key>${k}</Key><Size>1</Size></Contents>`).join('')}</ListBucketResult>`;
  return `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(xml)}\r\n\r\n${xml}`;
};

test('a listing whose continuation token repeats, or whose keys do not increase, fails with a clear message', async (t) => {
  const pages: Record<string, string[]> = {
    loop: [page(['loop/a'], 'T1'), page(['loop/b'], 'T2'), page(['loop/c'], 'T1')],
    back: [page(['back/b', 'back/c'], 'T1'), page(['back/a'])],
    same: [page(['same/a', 'same/a'])],
    // UTF-8 binary order: U+FF5E (ef bd 9e) sorts before U+1F600 (f0 9f 98 80), although JavaScript's UTF-16 order says otherwise
    ok: [page(['ok/\uff5e'], 'T1'), page(['ok/\u{1f600}'])],
    notoken: [page(['notoken/a'], '')],
  };
  const served: Record<string, number> = {};
  const { g } = await getter(t, (s, req) => {
    const prefix = /prefix=(\w+)/.exec(req)![1]!;
    const n = served[prefix] = (served[prefix] ?? -1) + 1;
    s.write(pages[prefix]![n] ?? page([]));
  });
  const list = async (prefix: string) => {
    const keys: string[] = [];
    for await (const o of listObjects(g.http, { bucket: 'b', prefix }, retryContext())) keys.push(o.key);
    return keys;
  };
  await assert.rejects(list('loop'), (e: Error) => e instanceof ListingError && /repeats a continuation token/.test(e.message));
  assert.equal(served.loop, 2, 'stopped at the repeat, not looping');
  await assert.rejects(list('back'), (e: Error) => e instanceof ListingError && /out of order: "back\/a" came after "back\/c"/.test(e.message));
  await assert.rejects(list('same'), /out of order/);
  assert.deepEqual(await list('ok'), ['ok/\uff5e', 'ok/\u{1f600}']);
  await assert.rejects(list('notoken'), /truncated but gives no continuation token/);
});
