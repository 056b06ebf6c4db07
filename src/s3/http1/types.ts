// The lean HTTP/1.1 client's public shapes (see pool.ts for what the client is and why).
export interface Http1Request {
  method: 'GET' | 'HEAD';
  /** the address to connect to (an IPv6 literal without brackets) */
  hostname: string;
  port: number;
  tls: boolean;
  /** path and query, encoded */
  path: string;
  headers: Record<string, string>;
  /** the whole exchange, from sending to the last byte, must end within this (default: the pool's) */
  deadlineMs?: number | undefined;
  /** a 'collect'ed body longer than this fails the request (default: the pool's) */
  collectLimit?: number | undefined;
}

export interface Http1Head {
  status: number;
  /** lower-case names; a repeated header's values joined by ", " */
  headers: Record<string, string>;
}

/**
 * What to do with a body: 'collect' keeps it in memory (returned as `body`, at most the request's
 * collectLimit); a function gets it piece by piece, synchronously, in a buffer that is reused as
 * soon as the function returns (unless the buffer's lender was told to keep it, see
 * ReadBufferSource). A function that throws fails the request (the connection is closed).
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
  /** fail a request that has not ended this long after it was sent, bytes or not (default: DEFAULT_DEADLINE_MS) */
  deadlineMs?: number | undefined;
  /** the most a 'collect'ed body may hold (default: DEFAULT_COLLECT_LIMIT) */
  collectLimit?: number | undefined;
  /** each connection's read buffer: big enough for few reads, small enough to stay in cache (default 256 KiB; docs/download.md) */
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

/** Error bodies and other collected answers: more than S3 ever sends for one. */
export const DEFAULT_COLLECT_LIMIT = 1024 * 1024;
/** A part-sized request (16 MiB) at a crawl still ends well within this. */
export const DEFAULT_DEADLINE_MS = 15 * 60_000;
