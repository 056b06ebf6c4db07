// A bounded property test of the answer parser (src/s3/http1/exchange.ts), fed directly: no
// socket, so thousands of answers run in a couple of seconds. Seeded (FUZZ_SEED to replay one):
// - a valid answer split at random points parses exactly as it does whole, collected or streamed;
// - a mutated answer, or random bytes, always ends, once the connection closes, in a result or a
//   clean error (HttpProtocolError, or ECONNRESET for a cut answer): never a throw from feed, a
//   TypeError, a promise left pending, or more memory than the collect cap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpProtocolError } from '../../src/s3/http1/errors.js';
import { Exchange } from '../../src/s3/http1/exchange.js';
import type { BodyHandler, Http1Response } from '../../src/s3/http1/types.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261205);
const BUDGET_MS = 1500;
const CAP = 64 * 1024;

/** mulberry32: small, seeded, good enough to pick splits and bytes */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)]!;
const printable = (r: Rand, n: number) => Array.from({ length: n }, () => String.fromCharCode(0x20 + int(r, 95))).join('').trim();

/** A valid answer (bytes) and what it must parse to. */
function validAnswer(r: Rand): { bytes: Buffer; status: number; headers: Record<string, string>; body: Buffer } {
  const body = Buffer.from(Array.from({ length: int(r, 3000) }, () => int(r, 256)));
  const status = pick(r, [200, 206, 404, 500, 503]);
  const headers: Record<string, string> = {};
  let head = '';
  for (let i = int(r, 3); i > 0; i--) head += 'HTTP/1.1 100 Continue\r\n\r\n';
  head += `HTTP/1.1 ${status} ${printable(r, 8)}\r\n`;
  for (let i = int(r, 6); i > 0; i--) {
    const name = `x-${pick(r, ['a', 'b', 'etag', 'amz-id'])}${int(r, 3)}`;
    const value = printable(r, int(r, 40));
    head += `${pick(r, [name, name.toUpperCase()])}:${pick(r, ['', ' ', '\t '])}${value}${pick(r, ['', ' '])}\r\n`;
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const framing = pick(r, ['length', 'chunked', 'close'] as const);
  let tail: Buffer;
  if (framing === 'length') {
    head += `Content-Length: ${body.length}\r\n`;
    headers['content-length'] = String(body.length);
    tail = body;
  } else if (framing === 'chunked') {
    head += 'Transfer-Encoding: chunked\r\n';
    headers['transfer-encoding'] = 'chunked';
    const parts: Buffer[] = [];
    for (let at = 0; at < body.length;) {
      const n = Math.min(body.length - at, 1 + int(r, 700));
      const size = n.toString(16);
      const ext = pick(r, ['', ';a', ';a=b', ' ; q="x y"']);
      parts.push(Buffer.from(`${pick(r, [size, size.toUpperCase(), `00${size}`])}${ext}\r\n`), body.subarray(at, at + n), Buffer.from('\r\n'));
      at += n;
    }
    parts.push(Buffer.from(`0\r\n${pick(r, ['', 'X-Trailer: t\r\n'])}\r\n`));
    tail = Buffer.concat(parts);
  } else {
    headers.connection = 'close';
    head += 'Connection: close\r\n';
    tail = body;
  }
  return { bytes: Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), tail]), status, headers, body };
}

/** Feed `bytes` in random pieces, then close the connection; returns how the exchange ended. */
async function run(r: Rand, bytes: Buffer, streamed: boolean): Promise<{ res?: Http1Response; err?: Error; streamedBody?: Buffer }> {
  const pieces: Buffer[] = [];
  const onHead = (): BodyHandler => (streamed ? (p) => { pieces.push(Buffer.from(p)); } : 'collect');
  const ex = new Exchange('GET', onHead, CAP);
  let out: { res?: Http1Response; err?: Error } | undefined;
  ex.done.then((res) => { out = { res }; }, (err: Error) => { out = { err }; });
  for (let at = 0; at < bytes.length;) {
    const n = 1 + int(r, pick(r, [4, 64, 4096]));
    // a read buffer is reused: hand over a copy that is scribbled on afterwards
    const piece = Buffer.from(bytes.subarray(at, at + n));
    ex.feed(piece);
    piece.fill(0x55);
    at += n;
  }
  ex.closed();
  await new Promise(setImmediate);
  assert.ok(out, 'the exchange ended once the connection closed');
  return { ...out, ...(streamed ? { streamedBody: Buffer.concat(pieces) } : {}) };
}

function assertCleanError(err: Error | undefined, what: string): void {
  if (!err) return;
  const clean = err instanceof HttpProtocolError || (err as NodeJS.ErrnoException).code === 'ECONNRESET';
  assert.ok(clean, `${what}: not a clean error: ${err.name}: ${err.message} (FUZZ_SEED=${SEED})`);
}

test('valid answers split at random points parse exactly as whole ones', async () => {
  const r = rng(SEED);
  const until = Date.now() + BUDGET_MS;
  let n = 0;
  while (Date.now() < until || n < 50) {
    const a = validAnswer(r);
    const streamed = r() < 0.5;
    const { res, err, streamedBody } = await run(r, a.bytes, streamed);
    assert.equal(err, undefined, `answer ${n} failed: ${err?.message} (FUZZ_SEED=${SEED})`);
    assert.equal(res!.status, a.status);
    assert.deepEqual(res!.headers, a.headers);
    assert.ok((streamed ? streamedBody! : res!.body!).equals(a.body), `answer ${n}: body differs (FUZZ_SEED=${SEED})`);
    n++;
  }
  assert.ok(n >= 50, `${n} answers`);
});

test('mutated answers and random bytes end in a result or a clean error, never a hang or a crash', async () => {
  const r = rng(SEED + 1);
  const until = Date.now() + BUDGET_MS;
  let n = 0;
  let refused = 0;
  const specials = [...'\r\n\0 \t;:-+xX0fF"\\'].map((c) => c.charCodeAt(0));
  while (Date.now() < until || n < 50) {
    let bytes: Buffer;
    if (r() < 0.25) {
      // random bytes, sometimes behind a plausible status line
      const noise = Buffer.from(Array.from({ length: int(r, 2000) }, () => (r() < 0.3 ? pick(r, specials) : int(r, 256))));
      bytes = r() < 0.5 ? Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n'), noise]) : noise;
    } else {
      const arr = [...validAnswer(r).bytes];
      for (let m = 1 + int(r, 3); m > 0; m--) {
        const at = int(r, arr.length + 1);
        const op = int(r, 4);
        const b = r() < 0.7 ? pick(r, specials) : int(r, 256);
        if (op === 0) arr[at] = b;
        else if (op === 1) arr.splice(at, 1);
        else if (op === 2) arr.splice(at, 0, b);
        else arr.splice(at, 0, ...arr.slice(at, at + int(r, 40)));
      }
      bytes = Buffer.from(arr);
    }
    const { res, err, streamedBody } = await run(r, bytes, r() < 0.5);
    assertCleanError(err, `input ${n}`);
    if (err) refused++;
    if (res) assert.ok((res.body?.length ?? streamedBody?.length ?? 0) <= Math.max(CAP, bytes.length), 'no more than the cap or the input');
    n++;
  }
  assert.ok(n >= 50 && refused > n / 4, `${n} inputs, ${refused} refused`);
});
