// Reusable buffers for small-file bodies. Allocating a fresh Buffer per file leaves the
// garbage to V8, which only collects external memory every ~64 MB: with a few dozen 4 MiB
// textures in flight the process grew 2.5× past its memory budget. Buffers come in
// power-of-two sizes (64 KiB and up) and go back to the pool after the PutObject. Buffers in
// use plus idle ones stay within `limit` (the upload memory budget): idle buffers of another
// size are dropped when a new size is needed.

const MIN_CLASS = 64 * 1024;

export class BufferPool {
  private readonly idle = new Map<number, Buffer[]>();
  private idleBytes = 0;
  private inUse = 0;

  constructor(readonly limit: number) {}

  /** The capacity a body of `size` bytes occupies (what the memory budget should count). */
  static capacityFor(size: number): number {
    let c = MIN_CLASS;
    while (c < size) c *= 2;
    return c;
  }

  /** A buffer of at least `size` bytes (contents undefined); give it back when done. */
  take(size: number): Buffer {
    const cap = BufferPool.capacityFor(size);
    this.inUse += cap;
    const b = this.idle.get(cap)?.pop();
    if (b) {
      this.idleBytes -= cap;
      return b;
    }
    this.dropIdle(this.limit - this.inUse);
    return Buffer.allocUnsafeSlow(cap);
  }

  give(b: Buffer): void {
    const cap = b.length;
    this.inUse -= cap;
    if (this.inUse + this.idleBytes + cap > this.limit) return; // let it go
    const list = this.idle.get(cap) ?? [];
    list.push(b);
    this.idle.set(cap, list);
    this.idleBytes += cap;
  }

  /** bytes held idle (for tests) */
  get idleTotal(): number {
    return this.idleBytes;
  }

  /** Drop idle buffers, largest first, until at most `keep` bytes stay idle. */
  private dropIdle(keep: number): void {
    for (const cap of [...this.idle.keys()].sort((a, b) => b - a)) {
      const list = this.idle.get(cap)!;
      while (this.idleBytes > Math.max(0, keep) && list.length) {
        list.pop();
        this.idleBytes -= cap;
      }
    }
  }
}
