// One keep-alive connection: it reads into one reused buffer (the `onread` option of net/tls
// sockets) and feeds the current Exchange, which hands the body to the caller synchronously.
// Each exchange is bounded twice: an idle timeout (no byte for `timeoutMs`) and a deadline for
// the whole exchange, so a server that trickles bytes cannot hold the connection forever.
import * as net from 'node:net';
import type * as tls from 'node:tls';
import { DeadlineError } from './errors.js';
import { Exchange } from './exchange.js';
import type { BodyHandler, Http1Head, Http1PoolOptions, Http1Request, Http1Response } from './types.js';

/** A kept-alive connection that failed before any byte of the answer: the server had closed it. */
export class StaleConnectionError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}

export interface ExchangeLimits {
  timeoutMs: number;
  deadlineMs: number;
  collectLimit: number;
}

export class Connection {
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

  /** Send `head` (serialised and checked by framing.ts) and read the answer to it. */
  async exchange(method: string, head: string, onHead: (head: Http1Head) => BodyHandler, limits: ExchangeLimits, signal: AbortSignal | undefined): Promise<Http1Response> {
    const reused = this.exchanges++ > 0;
    const ex = new Exchange(method, onHead, limits.collectLimit);
    this.ex = ex;
    const onAbort = () => ex.fail(Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR', cause: signal?.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });
    // aborted while waiting for a connection: an 'abort' event will not come again
    if (signal?.aborted) onAbort();
    this.timeoutMs = limits.timeoutMs;
    this.socket.setTimeout(limits.timeoutMs);
    const deadline = setTimeout(() => ex.fail(new DeadlineError(`the answer did not end within the request deadline of ${Math.round(limits.deadlineMs / 1000)} s`)), limits.deadlineMs);
    deadline.unref();
    if (!ex.settled) this.socket.write(head, 'latin1');
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
      clearTimeout(deadline);
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
