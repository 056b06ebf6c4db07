// GET, HEAD and small PUTs through undici's Pool#dispatch, the drop-in alternative to the
// hand-written client (http1.ts) and to node:http (for PUT) behind HttpClient (http-client.ts):
// the same BodyHandler gets each piece of a body
// synchronously, as undici's parser delivers it (no stream, no IncomingMessage), with undici's
// maintained HTTP/1.1 parser (llhttp) and its request-header validation. Pools are keep-alive
// and sized like the hand-written client's (maxSockets per host). Errors come out shaped as the
// hand-written client's (TimeoutError/ETIMEDOUT, ECONNRESET, AbortError), so classify() in
// retry.ts reads both the same. undici is loaded on first use: the default client never loads it.
// Unlike the hand-written client, sockets read into undici's buffers, not the MD5 worker's shared
// blocks (md5/blocks.ts): pieces to hash are copied into a block first, as over TLS.
import type { Dispatcher, Pool } from 'undici';
import { isIPv6 } from 'node:net';
import type { PutRequest } from './http-client.js';
import type { BodyHandler, Http1Head, Http1PoolOptions, Http1Request, Http1Response } from './http1/index.js';

/** Bodies collected in memory (error answers, listing pages): a bound on what a server can make us hold. */
const COLLECT_CAP_BYTES = 8 * 1024 * 1024;
/**
 * How long an idle connection is kept unless the server's Keep-Alive says less (the hand-written
 * client keeps it until the server closes it); a close racing a new request is retried below.
 */
const KEEP_ALIVE_MS = 30_000;

type Undici = typeof import('undici');

export class UndiciClient {
  private undici: Promise<Undici> | undefined;
  private readonly pools = new Map<string, Pool>();
  private destroyed = false;

  constructor(private readonly opts: Http1PoolOptions) {}

  request(req: Http1Request, onHead: (head: Http1Head) => BodyHandler, signal?: AbortSignal): Promise<Http1Response> {
    return this.exchange(req, undefined, onHead, signal);
  }

  /** Not replaced on a stale connection: the uploader retries a PUT itself, as it does over node:http. */
  put(req: PutRequest, signal?: AbortSignal): Promise<Http1Response> {
    return this.exchange(req, req.body, () => 'collect', signal);
  }

  private async exchange(req: Http1Request | PutRequest, body: Buffer | undefined, onHead: (head: Http1Head) => BodyHandler, signal: AbortSignal | undefined): Promise<Http1Response> {
    const { Pool } = await (this.undici ??= import('undici'));
    const host = isIPv6(req.hostname) ? `[${req.hostname}]` : req.hostname;
    const origin = `${req.tls ? 'https' : 'http'}://${host}:${req.port}`;
    for (let attempt = 0; ; attempt++) {
      if (this.destroyed) throw new Error('the HTTP client was shut down');
      signal?.throwIfAborted();
      let pool = this.pools.get(origin);
      if (!pool) {
        const t = this.opts.timeoutMs;
        pool = new Pool(origin, {
          connections: this.opts.maxSockets,
          pipelining: 1,
          headersTimeout: t,
          bodyTimeout: t,
          connect: { timeout: t },
          keepAliveTimeout: KEEP_ALIVE_MS,
          keepAliveMaxTimeout: KEEP_ALIVE_MS,
        });
        this.pools.set(origin, pool);
      }
      const ex = new Exchange(onHead, signal, this.opts.timeoutMs);
      pool.dispatch({ method: req.method, path: req.path, headers: req.headers, body: body ?? null }, ex);
      try {
        return await ex.done;
      } catch (err) {
        // the hand-written client's rule: a kept-alive connection the server closed before any byte
        // of the answer is replaced once, transparently (GET and HEAD are idempotent)
        if (attempt > 0 || body !== undefined || !ex.stale(err)) throw ex.mapped(err, host);
      }
    }
  }

  destroy(): void {
    this.destroyed = true;
    for (const pool of this.pools.values()) pool.destroy().catch(() => {});
    this.pools.clear();
  }
}

/** One request's handler: undici calls it back per event; `done` settles once. */
class Exchange implements Dispatcher.DispatchHandler {
  readonly done: Promise<Http1Response>;
  private resolve!: (r: Http1Response) => void;
  private reject!: (e: Error) => void;
  private head: Http1Head | undefined;
  private handler: BodyHandler = 'collect';
  private collected: Buffer[] = [];
  private collectedBytes = 0;
  /** the request was written to a connection */
  private started = false;
  /** our own failure (a handler threw, an abort): what the caller sees, not undici's wrapper */
  private failure: Error | undefined;
  private controller: Dispatcher.DispatchController | undefined;
  private onAbort: (() => void) | undefined;

  constructor(private readonly onHead: (head: Http1Head) => BodyHandler, private readonly signal: AbortSignal | undefined, private readonly timeoutMs: number) {
    this.done = new Promise((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    if (signal) {
      // also while the request waits in the pool's queue: it fails at once, and is never sent
      this.onAbort = () => this.fail(Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR', cause: signal.reason }));
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.started = true;
    if (this.failure) controller.abort(this.failure);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, raw: Record<string, string | string[] | undefined>): void {
    if (status < 200) return; // 100 Continue and the like
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    this.head = { status, headers };
    try {
      this.handler = this.onHead(this.head);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  onResponseData(_controller: Dispatcher.DispatchController, piece: Buffer): void {
    if (this.failure) return;
    try {
      if (this.handler !== 'collect') return this.handler(piece);
      this.collectedBytes += piece.length;
      if (this.collectedBytes > COLLECT_CAP_BYTES) throw new Error(`the answer's body is longer than ${COLLECT_CAP_BYTES} bytes`);
      this.collected.push(piece);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  onResponseEnd(): void {
    this.cleanup();
    const head = this.head!;
    this.resolve(this.handler === 'collect' ? { ...head, body: Buffer.concat(this.collected, this.collectedBytes) } : head);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.cleanup();
    this.reject(this.failure ?? err);
  }

  /** A socket closed or reset before the answer began, on a request that reached a connection. */
  stale(err: unknown): boolean {
    const e = err as { code?: string; message?: string };
    const closed = (e?.code === 'UND_ERR_SOCKET' && /^(other side )?closed$/.test(e.message ?? '')) || e?.code === 'ECONNRESET' || e?.code === 'EPIPE';
    return this.started && this.head === undefined && this.failure === undefined && closed;
  }

  /** undici's errors in the hand-written client's shapes (see the top of this file). */
  mapped(err: unknown, host: string): unknown {
    const code = (err as { code?: string })?.code ?? '';
    if (/^UND_ERR_(HEADERS|BODY|CONNECT)_TIMEOUT$/.test(code)) {
      return Object.assign(new Error(`no data from ${host} for ${this.timeoutMs} ms`), { name: 'TimeoutError', code: 'ETIMEDOUT', cause: err });
    }
    if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || (code === 'UND_ERR_SOCKET' && this.head)) {
      return Object.assign(new Error('the connection closed in the middle of the answer'), { code: 'ECONNRESET', cause: err });
    }
    return err;
  }

  /** Fail the request with our own error now; undici closes the connection (or never sends the request). */
  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.controller?.abort(err);
    this.cleanup();
    this.reject(err);
  }

  private cleanup(): void {
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
    this.onAbort = undefined;
  }
}
