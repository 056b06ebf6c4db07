// The end of a streamed body (archive entries, and GETs through the SDK for checksum validation;
// lean GETs write with offset-writer.ts instead): a Writable into an open file that counts, optionally hashes,
// and gathers the body's ~64 KiB socket chunks into ~1 MiB writev calls. fs.WriteStream issues
// one thread-pool write per chunk; gathering cuts the syscalls and the per-chunk promise work by
// an order of magnitude (the CPU saved: docs/download.md, "Why the code is as it is"), and
// it saves a stream hop compared with a separate hashing Transform.
import type { Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

export interface FileSinkOptions {
  /** byte offset of the first write (ranged downloads write into a preallocated file) */
  start?: number;
  hash?: Hash | undefined;
  /** called for every chunk received (progress); not called for bytes already flushed twice */
  onBytes?: (n: number) => void;
  /** flush once this much is gathered */
  batchBytes?: number;
}

export class FileSink extends Writable {
  /** bytes received so far */
  bytes = 0;
  private position: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly batchBytes: number;
  private closing: Promise<void> | undefined;

  constructor(private readonly fh: FileHandle, private readonly opts: FileSinkOptions = {}) {
    super({ highWaterMark: opts.batchBytes ?? 1024 * 1024 });
    this.position = opts.start ?? 0;
    this.batchBytes = opts.batchBytes ?? 1024 * 1024;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.bytes += chunk.length;
    this.opts.hash?.update(chunk);
    this.opts.onBytes?.(chunk.length);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < this.batchBytes) {
      cb();
      return;
    }
    this.flush().then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.flush().then(() => this.close()).then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.close().then(() => cb(err), () => cb(err));
  }

  private close(): Promise<void> {
    this.closing ??= this.fh.close();
    return this.closing;
  }

  digest(): string | undefined {
    return this.opts.hash?.digest('hex');
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const buffers = this.pending;
    const length = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    let written = 0;
    // writev may write less than asked (rare, e.g. near ENOSPC): finish the rest
    while (written < length) {
      const { bytesWritten } = await this.fh.writev(written === 0 ? buffers : [Buffer.concat(buffers).subarray(written)], this.position + written);
      if (bytesWritten === 0) throw new Error('write made no progress');
      written += bytesWritten;
    }
    this.position += length;
  }
}
