// A lean HTTP/1.1 client for the download's GET and HEAD requests. Each keep-alive connection
// reads into one reused buffer (the `onread` option of net/tls sockets) and hands every piece of
// a body to the caller synchronously, which writes it to the file and hashes it on the spot: no
// stream, no IncomingMessage, no allocation per read.
// Why not node:http: downloading into files through node:http and streams cost several times the
// CPU per GiB (docs/download.md, "Why the code is as it is"), and on a node that shares its CPUs with ODM that
// CPU is the download's speed.
// Scope: what S3 answers to a GET or HEAD. Bodies framed by Content-Length, chunked, or (HTTP/1.0
// style) by the end of the connection; informational 1xx answers skipped; no pipelining, no
// upgrades, no content decoding (S3 sends bodies as stored).
import * as net from 'node:net';
import type * as tls from 'node:tls';

export interface Http1Request {
  method: 'GET' | 'HEAD';
  /** the address to connect to (an IPv6 literal without brackets) */
  hostname: string;
  port: number;
  tls: boolean;
  /** path and query, encoded */
  path: string;
  headers: Record<string, string>;
}

export interface Http1Head {
  status: number;
  /** lower-case names; a repeated header's values joined by ", " */
  headers: Record<string, string>;
}

/**
 * What to do with a body: 'collect' keeps it in memory (returned as `body`); a function gets it
 * piece by piece, synchronously, in a buffer that is reused as soon as the function returns
 * (unless the buffer's lender was told to keep it, see ReadBufferSource).
 * A function that throws fails the request (the connection is closed).
 */
export type BodyHandler = ((piece: Buffer) => void) | 'collect';

export interface Http1Response extends Http1Head {
  body?: Buffer;
}

export interface Http1PoolOptions {
  /** connections per host, busy or idle */
  maxSockets: number;
  /** fail a request after this long without a byte (connecting included) */
  timeoutMs: number;
  /** each connection's read buffer: big enough for few reads, small enough to stay in cache (default 256 KiB) */
  readBufferBytes?: number;
  /** where plain-TCP connections get their read buffers instead (md5/blocks.ts); TLS connections keep their own */
  readBuffers?: ReadBufferSource | undefined;
}

/** Read buffers lent to connections, e.g. in memory a hashing worker shares (md5/blocks.ts). */
export interface ReadBufferSource {
  /** the buffer for the next read: the first (`last` undefined), or after a read into `last` */
  next(last: Buffer | undefined): Buffer;
  /** the connection closed: `last` is not read into again */
  release(last: Buffer): void;
}

const CRLF2 = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);

export class Http1Pool {
  private readonly idle = new Map<string, Connection[]>();
  private readonly open = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();
  private destroyed = false;

  constructor(private readonly opts: Http1PoolOptions) {}

  /**
   * Send one request. `onHead` sees the status and headers and says what to do with the body.
   * Resolves once the body is complete. A kept-alive connection the server closed in the
   * meantime is replaced once, transparently (GET and HEAD are idempotent).
   */
  async request(req: Http1Request, onHead: (head: Http1Head) => BodyHandler, signal?: AbortSignal): Promise<Http1Response> {
    const key = `${req.tls ? 's' : ''}${req.hostname}:${req.port}`;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const conn = await this.acquire(key, req, signal);
      try {
        const res = await conn.exchange(req, onHead, this.opts.timeoutMs, signal);
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

/** A kept-alive connection that failed before any byte of the answer: the server had closed it. */
class StaleConnectionError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}

type BodyMode = 'length' | 'chunked' | 'until-close' | 'none';

class Connection {
  readonly socket: net.Socket;
  /** still holds a slot in the pool's count */
  counted = true;
  private exchanges = 0;
  private keepAlive = true;
  private timeoutMs = 0;
  private ex: Exchange | undefined;

  constructor(req: Http1Request, opts: Http1PoolOptions, onClose: () => void) {
    // TLS reads one record (at most 16 KiB) at a time: a lent buffer per read would be mostly empty
    const lender = req.tls ? undefined : opts.readBuffers;
    let last: Buffer | undefined;
    const buffer = lender ? () => (last = lender.next(last)) : Buffer.allocUnsafe(opts.readBufferBytes ?? 256 * 1024);
    const onread: net.OnReadOpts = { buffer, callback: (n, buf) => { this.onRead((buf as Buffer).subarray(0, n)); return true; } };
    const host = req.hostname;
    // tls.connect takes `onread` too (since Node 14.18; each read is then one TLS record); @types/node does not list it
    this.socket = req.tls
      ? (process.getBuiltinModule('node:tls') as typeof tls).connect({ host, port: req.port, ...(net.isIP(host) ? {} : { servername: host }), ALPNProtocols: ['http/1.1'], onread } as tls.ConnectionOptions)
      : net.connect({ host, port: req.port, onread, noDelay: true });
    this.socket.on('error', (err) => this.ex?.fail(err));
    // one listener for the connection's life: setTimeout(ms, callback) per request would add one each time
    this.socket.on('timeout', () => this.ex?.fail(Object.assign(new Error(`no data from ${host} for ${this.timeoutMs} ms`), { name: 'TimeoutError', code: 'ETIMEDOUT' })));
    this.socket.on('close', () => {
      if (lender && last) lender.release(last);
      last = undefined;
      const ex = this.ex;
      if (ex) ex.closed();
      if (this.counted) {
        this.counted = false;
        onClose();
      }
    });
  }

  reusable(): boolean {
    return this.keepAlive && !this.socket.destroyed && this.socket.readyState === 'open' && this.ex === undefined;
  }

  async exchange(req: Http1Request, onHead: (head: Http1Head) => BodyHandler, timeoutMs: number, signal: AbortSignal | undefined): Promise<Http1Response> {
    const reused = this.exchanges++ > 0;
    const ex = new Exchange(req.method, onHead);
    this.ex = ex;
    const onAbort = () => ex.fail(Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR', cause: signal?.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });
    // aborted while waiting for a connection: an 'abort' event will not come again
    if (signal?.aborted) onAbort();
    this.timeoutMs = timeoutMs;
    this.socket.setTimeout(timeoutMs);
    let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(req.headers)) head += `${k}: ${v}\r\n`;
    if (!ex.settled) this.socket.write(`${head}\r\n`);
    try {
      const res = await ex.done;
      if (!ex.reusable) this.keepAlive = false;
      return res;
    } catch (err) {
      this.keepAlive = false;
      // nothing came back on a connection that had served before: it was closed while idle
      if (reused && !ex.answered && !(err as Error).name.endsWith('AbortError') && (err as Error).name !== 'TimeoutError') throw new StaleConnectionError(err as Error);
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.socket.setTimeout(0);
      this.ex = undefined;
    }
  }

  private onRead(data: Buffer): void {
    if (!this.ex) {
      // bytes nobody asked for (the server misbehaves): this connection cannot be trusted again
      this.keepAlive = false;
      this.socket.destroy();
      return;
    }
    this.ex.feed(data);
    if (this.ex?.settled && !this.ex.reusable) this.socket.destroy();
  }
}

/** One request's answer being parsed. */
class Exchange {
  readonly done: Promise<Http1Response>;
  answered = false;
  settled = false;
  /** the connection may carry another request afterwards */
  reusable = true;
  private resolve!: (r: Http1Response) => void;
  private reject!: (e: Error) => void;
  /** the answer's head while it arrives (copied: the read buffer is reused) */
  private headSoFar: Buffer = EMPTY;
  private head: Http1Head | undefined;
  private mode: BodyMode = 'none';
  private handler: BodyHandler = 'collect';
  private collected: Buffer[] = [];
  /** bytes left: of the body ('length') or of the current chunk ('chunked') */
  private left = 0;
  /** chunked framing: the line being read (size or trailer), and what it is */
  private line = '';
  private chunkState: 'size' | 'data' | 'data-end' | 'trailer' = 'size';

  constructor(private readonly method: string, private readonly onHead: (head: Http1Head) => BodyHandler) {
    this.done = new Promise((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
  }

  fail(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.reusable = false;
    this.reject(err);
  }

  /** The connection closed. */
  closed(): void {
    if (this.head && this.mode === 'until-close') return this.finish();
    this.fail(Object.assign(new Error(this.answered ? 'the connection closed in the middle of the answer' : 'socket hang up'), { code: 'ECONNRESET' }));
  }

  feed(data: Buffer): void {
    if (this.settled) {
      if (data.length) this.reusable = false;
      return;
    }
    this.answered = true;
    try {
      let rest: Buffer | undefined = data;
      while (rest?.length && !this.settled) rest = this.head ? this.readBody(rest) : this.readHead(rest);
      if (rest?.length) this.reusable = false; // bytes past the answer: never reuse
    } catch (err) {
      this.fail(err as Error);
    }
  }

  /** Gathers the status line and headers (copied: the read buffer is reused); returns the bytes after them. */
  private readHead(data: Buffer): Buffer | undefined {
    const before = this.headSoFar.length;
    // the blank line may straddle reads: search from just before the new bytes
    const all = before ? Buffer.concat([this.headSoFar, data]) : data;
    const at = all.indexOf(CRLF2, Math.max(0, before - 3));
    if (at < 0) {
      if (all.length > 64 * 1024) throw new Error('the answer\'s headers are longer than 64 KiB');
      this.headSoFar = before ? all : Buffer.from(data);
      return undefined;
    }
    this.headSoFar = EMPTY;
    const endInData = at + 4 - before;
    const head = parseHead(all.toString('latin1', 0, at + 4));
    if (head.status >= 100 && head.status < 200) return data.subarray(endInData); // 100 Continue and the like
    this.head = head;
    this.mode = bodyMode(this.method, head);
    if (this.mode === 'length') this.left = Number(head.headers['content-length']);
    if (head.headers.connection?.toLowerCase().includes('close') || this.mode === 'until-close') this.reusable = false;
    this.handler = this.onHead(head);
    if (this.mode === 'none' || (this.mode === 'length' && this.left === 0)) this.finish();
    return data.subarray(endInData);
  }

  /** Consumes body bytes; returns what is left of `data` past this step. */
  private readBody(data: Buffer): Buffer | undefined {
    switch (this.mode) {
      case 'none':
        return data;
      case 'until-close':
        this.deliver(data);
        return undefined;
      case 'length': {
        const take = Math.min(this.left, data.length);
        this.deliver(data.subarray(0, take));
        this.left -= take;
        if (this.left === 0) this.finish();
        return data.subarray(take);
      }
      case 'chunked':
        return this.readChunked(data);
    }
  }

  private readChunked(data: Buffer): Buffer | undefined {
    switch (this.chunkState) {
      case 'data': {
        const take = Math.min(this.left, data.length);
        this.deliver(data.subarray(0, take));
        this.left -= take;
        if (this.left === 0) this.chunkState = 'data-end';
        return data.subarray(take);
      }
      default: {
        // a CRLF-terminated line: a chunk size, the CRLF after a chunk's data, or a trailer
        const nl = data.indexOf(10);
        if (nl < 0) {
          this.line += data.toString('latin1');
          if (this.line.length > 8192) throw new Error('a chunked-encoding line is too long');
          return undefined;
        }
        const line = (this.line + data.toString('latin1', 0, nl)).replace(/\r$/, '');
        this.line = '';
        this.onChunkLine(line);
        return data.subarray(nl + 1);
      }
    }
  }

  private onChunkLine(line: string): void {
    if (this.chunkState === 'data-end') {
      if (line !== '') throw new Error('malformed chunked encoding: no CRLF after a chunk');
      this.chunkState = 'size';
    } else if (this.chunkState === 'size') {
      const size = parseInt(line.split(';')[0]!.trim(), 16);
      if (!Number.isFinite(size) || size < 0 || !/^[0-9a-fA-F]+/.test(line.trim())) throw new Error(`malformed chunk size "${line.slice(0, 20)}"`);
      if (size === 0) this.chunkState = 'trailer';
      else {
        this.left = size;
        this.chunkState = 'data';
      }
    } else if (line === '') this.finish(); // the blank line after the (usually absent) trailers
  }

  private deliver(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.handler === 'collect') {
      this.collected.push(Buffer.from(piece));
      return;
    }
    this.handler(piece);
  }

  private finish(): void {
    if (this.settled) return;
    this.settled = true;
    const head = this.head!;
    this.resolve(this.handler === 'collect' ? { ...head, body: Buffer.concat(this.collected) } : head);
  }
}

function bodyMode(method: string, head: Http1Head): BodyMode {
  if (method === 'HEAD' || head.status === 204 || head.status === 304) return 'none';
  if (head.headers['transfer-encoding']?.toLowerCase().includes('chunked')) return 'chunked';
  const length = head.headers['content-length'];
  if (length !== undefined) {
    if (!/^\d+$/.test(length)) throw new Error(`bad Content-Length "${length}"`);
    return 'length';
  }
  return 'until-close';
}

function parseHead(text: string): Http1Head {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) throw new Error(`not an HTTP/1.1 answer: "${(lines[0] ?? '').slice(0, 40)}"`);
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (l === '') continue;
    const colon = l.indexOf(':');
    if (colon <= 0) throw new Error(`malformed header line "${l.slice(0, 40)}"`);
    const name = l.slice(0, colon).trim().toLowerCase();
    const value = l.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  if (/^HTTP\/1\.0/.test(lines[0]!) && !headers.connection?.toLowerCase().includes('keep-alive')) headers.connection ??= 'close';
  return { status: Number(m[1]), headers };
}
