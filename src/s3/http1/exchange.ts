// One request's answer, parsed as its bytes arrive in whatever pieces the socket gives them: the
// head (interim 1xx answers skipped), then the body by its framing (framing.ts), handed to the
// caller's BodyHandler or collected up to a cap. Pure: no socket here, so the fuzz test can feed
// it any bytes split any way.
import { BodyTooLargeError, HttpProtocolError } from './errors.js';
import { bodyFraming, checkTrailerLine, MAX_CHUNK_LINE_BYTES, MAX_HEAD_BYTES, MAX_TRAILER_BYTES, parseChunkSize, parseHead, type BodyMode } from './framing.js';
import { DEFAULT_COLLECT_LIMIT, type BodyHandler, type Http1Head, type Http1Response } from './types.js';

const CRLF2 = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);
/** 100 Continue and the like before the answer: more than this is a server that never answers */
const MAX_INTERIM_ANSWERS = 8;

export class Exchange {
  readonly done: Promise<Http1Response>;
  answered = false;
  settled = false;
  /** the connection may carry another request afterwards */
  reusable = true;
  private resolve!: (r: Http1Response) => void;
  private reject!: (e: Error) => void;
  /** the answer's head while it arrives (copied: the read buffer is reused) */
  private headSoFar: Buffer = EMPTY;
  private interim = 0;
  private head: Http1Head | undefined;
  private mode: BodyMode = 'none';
  private handler: BodyHandler = 'collect';
  private collected: Buffer[] = [];
  private collectedBytes = 0;
  /** bytes left: of the body ('length') or of the current chunk ('chunked') */
  private left = 0;
  /** chunked framing: the line being read (size, the CRLF after data, or a trailer), and what it is */
  private line = '';
  private chunkState: 'size' | 'data' | 'data-end' | 'trailer' = 'size';
  private trailerBytes = 0;

  constructor(private readonly method: string, private readonly onHead: (head: Http1Head) => BodyHandler, private readonly collectLimit = DEFAULT_COLLECT_LIMIT) {
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
    if (at < 0 || at + 4 > MAX_HEAD_BYTES) {
      if (all.length > MAX_HEAD_BYTES) throw new HttpProtocolError(`the answer's head is longer than ${MAX_HEAD_BYTES / 1024} KiB`);
      this.headSoFar = before ? all : Buffer.from(data);
      return undefined;
    }
    this.headSoFar = EMPTY;
    const endInData = at + 4 - before;
    const head = parseHead(all.toString('latin1', 0, at + 4));
    if (head.status < 200) {
      // 100 Continue and the like; 101 would switch protocols, which was never asked for
      if (head.status === 101 || ++this.interim > MAX_INTERIM_ANSWERS) throw new HttpProtocolError(`unexpected ${head.status} answer`);
      return data.subarray(endInData);
    }
    const framing = bodyFraming(this.method, head);
    this.head = { status: head.status, headers: head.headers };
    this.mode = framing.mode;
    this.left = framing.length;
    if (framing.close) this.reusable = false;
    this.handler = this.onHead(this.head);
    if (this.handler === 'collect' && this.mode === 'length' && this.left > this.collectLimit) {
      throw new BodyTooLargeError(`the answer's body (${this.left} bytes) is larger than the ${this.collectLimit} bytes accepted for it`);
    }
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
    if (this.chunkState === 'data') {
      const take = Math.min(this.left, data.length);
      this.deliver(data.subarray(0, take));
      this.left -= take;
      if (this.left === 0) this.chunkState = 'data-end';
      return data.subarray(take);
    }
    // a CRLF-terminated line: a chunk size, the CRLF after a chunk's data, or a trailer
    const nl = data.indexOf(10);
    const limit = this.chunkState === 'trailer' ? MAX_TRAILER_BYTES - this.trailerBytes : MAX_CHUNK_LINE_BYTES;
    if (nl < 0) {
      this.line += data.toString('latin1');
      if (this.line.length > limit) throw new HttpProtocolError(this.chunkState === 'trailer' ? 'the chunked body\'s trailers are too long' : 'a chunk-size line is too long');
      return undefined;
    }
    const line = this.line + data.toString('latin1', 0, nl);
    this.line = '';
    if (line.length > limit) throw new HttpProtocolError(this.chunkState === 'trailer' ? 'the chunked body\'s trailers are too long' : 'a chunk-size line is too long');
    if (!line.endsWith('\r')) throw new HttpProtocolError('malformed chunked encoding: a line ends with LF alone');
    this.onChunkLine(line.slice(0, -1));
    return data.subarray(nl + 1);
  }

  private onChunkLine(line: string): void {
    if (this.chunkState === 'data-end') {
      if (line !== '') throw new HttpProtocolError('malformed chunked encoding: no CRLF after a chunk');
      this.chunkState = 'size';
    } else if (this.chunkState === 'size') {
      const size = parseChunkSize(line);
      if (size === 0) this.chunkState = 'trailer';
      else {
        this.left = size;
        this.chunkState = 'data';
      }
    } else if (line === '') this.finish(); // the blank line after the (usually absent) trailers
    else {
      checkTrailerLine(line);
      this.trailerBytes += line.length + 2;
    }
  }

  private deliver(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.handler === 'collect') {
      this.collectedBytes += piece.length;
      if (this.collectedBytes > this.collectLimit) throw new BodyTooLargeError(`the answer's body is larger than the ${this.collectLimit} bytes accepted for it`);
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
