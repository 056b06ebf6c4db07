// The end of a lean download (http1.ts hands over each piece of a body synchronously): write it
// at its offset in an open file, hash it, count it, right away. Synchronous writes land in the
// page cache and cost less CPU than thread-pool writes (docs/download.md, "Why the code is as it is"), and the body's
// bytes are read into a buffer that is reused as soon as this returns.
// Pieces come from the socket's read buffer: about 256 KiB over plain TCP, but one TLS record
// (at most 16 KiB) over https. Small pieces are gathered and written 256 KiB at a time.
import { writeSync, writevSync } from 'node:fs';
import { copyBytes } from '../util/copy-bytes.js';

export interface OffsetWriterOptions {
  /** given every piece (an MD5 from md5/offload.ts, or a node:crypto Hash) */
  hash?: { update(piece: Buffer): unknown } | undefined;
  /** called for every piece received (progress) */
  onBytes?: ((n: number) => void) | undefined;
}

const STAGE_BYTES = 256 * 1024;

export class OffsetWriter {
  /** bytes received so far */
  bytes = 0;
  private stage: Buffer | undefined;
  private staged = 0;

  constructor(private readonly fd: number, private position: number, private readonly opts: OffsetWriterOptions = {}) {}

  write(piece: Buffer): void {
    this.bytes += piece.length;
    this.opts.hash?.update(piece);
    this.opts.onBytes?.(piece.length);
    // a large piece is written where it lies, after what is gathered (one writev): copying it
    // would cost more than the call it saves (on loopback, reads of a few KiB come between large ones)
    if (piece.length >= STAGE_BYTES / 4) return this.staged === 0 ? this.writeAll(piece) : this.flush(piece);
    this.stage ??= Buffer.allocUnsafe(STAGE_BYTES);
    let from = 0;
    while (from < piece.length) {
      const n = copyBytes(piece.subarray(from), this.stage, this.staged);
      this.staged += n;
      from += n;
      if (this.staged === STAGE_BYTES) this.flush();
    }
  }

  /** Write what is gathered (and `then`, in the same call); call before closing the file. */
  flush(then?: Buffer): void {
    if (this.staged === 0) return;
    const gathered = this.stage!.subarray(0, this.staged);
    this.staged = 0;
    if (!then) return this.writeAll(gathered);
    const n = writevSync(this.fd, [gathered, then], this.position);
    if (n === gathered.length + then.length) {
      this.position += n;
      return;
    }
    // writev may write less than asked (rare, e.g. near ENOSPC): finish the rest
    const all = Buffer.concat([gathered, then]).subarray(n);
    this.position += n;
    this.writeAll(all);
  }

  private writeAll(buf: Buffer): void {
    let done = 0;
    // write may write less than asked (rare, e.g. near ENOSPC): finish the rest
    while (done < buf.length) {
      const n = writeSync(this.fd, buf, done, buf.length - done, this.position);
      if (n === 0) throw new Error('write made no progress');
      done += n;
      this.position += n;
    }
  }
}
