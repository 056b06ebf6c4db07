// A lean HTTP/1.1 client for the download's GET and HEAD requests: keep-alive connections per
// host (connection.ts), each reading into one reused buffer and handing every piece of a body to
// the caller synchronously, which writes it to the file and hashes it on the spot: no stream, no
// IncomingMessage, no allocation per read. Why not node:http: its CPU per GiB, measured in
// docs/download.md. Scope: what S3 answers to a GET or HEAD. Bodies framed by Content-Length,
// chunked, or (HTTP/1.0 style) by the end of the connection; informational 1xx answers skipped;
// no pipelining, no upgrades, no content decoding (S3 sends bodies as stored). What it refuses:
// framing.ts, and "What the transport refuses" in docs/download.md.
import { Connection, StaleConnectionError } from './connection.js';
import { serialiseRequest } from './framing.js';
import { DEFAULT_COLLECT_LIMIT, DEFAULT_DEADLINE_MS, type BodyHandler, type Http1Head, type Http1PoolOptions, type Http1Request, type Http1Response } from './types.js';

export class Http1Pool {
  private readonly idle = new Map<string, Connection[]>();
  private readonly open = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();
  private destroyed = false;

  constructor(private readonly opts: Http1PoolOptions) {}

  /**
   * Send one request. `onHead` sees the status and headers and says what to do with the body.
   * Resolves once the body is complete. A kept-alive connection the server closed in the
   * meantime is replaced once, transparently (GET and HEAD are idempotent). A request that
   * cannot be sent safely (see serialiseRequest) fails before any connection is used.
   */
  async request(req: Http1Request, onHead: (head: Http1Head) => BodyHandler, signal?: AbortSignal): Promise<Http1Response> {
    const head = serialiseRequest(req);
    const limits = {
      timeoutMs: this.opts.timeoutMs,
      deadlineMs: req.deadlineMs ?? this.opts.deadlineMs ?? DEFAULT_DEADLINE_MS,
      collectLimit: req.collectLimit ?? this.opts.collectLimit ?? DEFAULT_COLLECT_LIMIT,
    };
    const key = `${req.tls ? 's' : ''}${req.hostname}:${req.port}`;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const conn = await this.acquire(key, req, signal);
      try {
        const res = await conn.exchange(req.method, head, onHead, limits, signal);
        this.release(key, conn);
        return res;
      } catch (err) {
        this.drop(key, conn);
        if (!(err instanceof StaleConnectionError) || attempt > 0) throw err instanceof StaleConnectionError ? err.cause : err;
      }
    }
  }

  destroy(): void {
    this.destroyed = true;
    for (const list of this.idle.values()) for (const c of list) c.socket.destroy();
    this.idle.clear();
    // requests waiting for a connection find the pool shut and fail
    for (const list of this.waiting.values()) for (const wake of list.splice(0)) wake();
  }

  private async acquire(key: string, req: Http1Request, signal: AbortSignal | undefined): Promise<Connection> {
    for (;;) {
      if (this.destroyed) throw new Error('the HTTP client was shut down');
      signal?.throwIfAborted();
      const idle = this.idle.get(key);
      while (idle?.length) {
        const c = idle.pop()!;
        if (c.reusable()) {
          c.socket.ref();
          return c;
        }
        this.drop(key, c);
      }
      const open = this.open.get(key) ?? 0;
      if (open < this.opts.maxSockets) {
        this.open.set(key, open + 1);
        return new Connection(req, this.opts, () => this.drop(key, undefined, true));
      }
      // wait for a connection to free up, or for an abort (which gives up its place in the queue)
      await new Promise<void>((resolve) => {
        const list = this.waiting.get(key) ?? [];
        const onAbort = () => {
          const i = list.indexOf(wake);
          if (i >= 0) list.splice(i, 1);
          resolve();
        };
        const wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        list.push(wake);
        this.waiting.set(key, list);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }

  private release(key: string, conn: Connection): void {
    if (!conn.reusable() || this.destroyed) return this.drop(key, conn);
    conn.socket.unref();
    const list = this.idle.get(key) ?? [];
    list.push(conn);
    this.idle.set(key, list);
    this.waiting.get(key)?.shift()?.();
  }

  /** Close a connection (if given) and free its slot, once. */
  private drop(key: string, conn: Connection | undefined, closedItself = false): void {
    if (conn && !conn.socket.destroyed) conn.socket.destroy();
    if (conn ? conn.counted : closedItself) {
      if (conn) conn.counted = false;
      this.open.set(key, Math.max(0, (this.open.get(key) ?? 1) - 1));
    }
    this.waiting.get(key)?.shift()?.();
  }
}
