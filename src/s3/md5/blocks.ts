// The shared blocks as the event loop sees them: who holds which (the reference counts of
// ring.ts), and handing them to sockets as read buffers, so that a body the socket read can be
// hashed by the worker where it lies, without a copy.
import type { ReadBufferSource } from '../http1/index.js';
import { BLOCK_BYTES, countIndex } from './ring.js';

export class SharedBlocks implements ReadBufferSource {
  readonly bytes: Buffer;
  /** blocks sockets read into; at most half, so that the other half always serves queued jobs and part-filled copies */
  private socketHolds = 0;

  /**
   * @param memory the blocks, from its start (the MD5 module's memory)
   * @param waitForFree blocks until the worker frees a block; false when it will not (the worker is gone)
   */
  constructor(private readonly ctl: Int32Array, readonly count: number, readonly memory: SharedArrayBuffer, private readonly waitForFree: () => boolean) {
    this.bytes = Buffer.from(memory, 0, count * BLOCK_BYTES);
  }

  /** The block a piece lies in, or -1 when it is not in shared memory. */
  blockOf(piece: Buffer): number {
    return piece.buffer === this.memory ? Math.floor(piece.byteOffset / BLOCK_BYTES) : -1;
  }

  /** A free block, now held by the caller (count 1); -1 when the worker cannot free one. */
  take(): number {
    do {
      // the lowest free block: the fewer blocks in use, the more of them are still in the CPU's cache
      for (let b = 0; b < this.count; b++) {
        // a block at 0 is touched by nobody else: the worker only drops references jobs hold
        if (Atomics.load(this.ctl, countIndex(b)) === 0) {
          Atomics.store(this.ctl, countIndex(b), 1);
          return b;
        }
      }
    } while (this.waitForFree());
    return -1;
  }

  ref(block: number): void {
    Atomics.add(this.ctl, countIndex(block), 1);
  }

  unref(block: number): void {
    Atomics.sub(this.ctl, countIndex(block), 1);
  }

  // A socket reads into one block again and again while nobody else holds it; once a job names
  // it, the socket lets go and reads into another. With no block to spare, a socket reads into a
  // buffer of its own, and what it reads is copied for hashing.
  next(last: Buffer | undefined): Buffer {
    if (last !== undefined) {
      const b = this.blockOf(last);
      if (b < 0 || Atomics.load(this.ctl, countIndex(b)) === 1) return last;
      this.unref(b);
      this.socketHolds--;
    }
    const b = this.socketHolds < this.count / 2 ? this.take() : -1;
    if (b < 0) return Buffer.allocUnsafe(BLOCK_BYTES);
    this.socketHolds++;
    return this.bytes.subarray(b * BLOCK_BYTES, (b + 1) * BLOCK_BYTES);
  }

  release(last: Buffer): void {
    const b = this.blockOf(last);
    if (b < 0) return;
    this.unref(b);
    this.socketHolds--;
  }
}
