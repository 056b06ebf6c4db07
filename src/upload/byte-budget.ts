// A counting semaphore over bytes: uploads reserve the memory they will hold (a small file's
// whole body, or partSize × (queue + 1) for a multipart one) and wait, in order, while the
// budget is spent. A request larger than the whole budget runs alone rather than never.

export class ByteBudget {
  private used = 0;
  private readonly waiting: { n: number; go: () => void }[] = [];

  constructor(readonly total: number) {}

  async acquire(bytes: number): Promise<() => void> {
    const n = Math.min(bytes, this.total);
    if (this.waiting.length === 0 && this.used + n <= this.total) {
      this.used += n;
    } else {
      await new Promise<void>((go) => this.waiting.push({ n, go }));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= n;
      this.wake();
    };
  }

  private wake(): void {
    while (this.waiting.length && this.used + this.waiting[0]!.n <= this.total) {
      const w = this.waiting.shift()!;
      this.used += w.n;
      w.go();
    }
  }
}
