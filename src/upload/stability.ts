// When is a file ready? When its size AND mtime have not changed for the stable window.
// chokidar's awaitWriteFinish only watches the size, so it misses ODM's in-place passes that
// keep the size (rasterio 'r+' tag edits) and pauses longer than its threshold; here every
// check compares the full signature, and any event restarts the window.
import type { FileSig, LocalFile } from './output-tree.js';
import { sameSig } from './output-tree.js';

interface Pending {
  sig: FileSig;
  since: number;
  timer: NodeJS.Timeout;
}

export interface StabilityOptions {
  windowMs: number;
  /** stat one candidate (undefined: gone or not wanted) */
  stat: (rel: string) => Promise<LocalFile | undefined>;
  /** the file has settled */
  onStable: (rel: string) => void;
  now?: () => number;
}

export class StabilityTracker {
  private readonly pending = new Map<string, Pending>();
  private stopped = false;

  constructor(private readonly o: StabilityOptions) {}

  get size(): number {
    return this.pending.size;
  }

  /** Something happened to `rel` (added, changed, renamed into place): (re)start its window. */
  async touch(rel: string): Promise<void> {
    if (this.stopped) return;
    const f = await this.o.stat(rel);
    if (!f) return this.forget(rel);
    const p = this.pending.get(rel);
    if (p && sameSig(p.sig, f.sig)) return; // an event without a change (e.g. atime, chmod)
    this.arm(rel, f.sig, this.now());
  }

  /**
   * ODM said these products are final: hand them over without waiting out the window. (The
   * uploader still re-checks the signature after the upload, so a late write is not lost.)
   */
  settleNow(rels: string[]): void {
    for (const rel of rels) {
      if (this.stopped) return;
      const p = this.pending.get(rel);
      if (p) clearTimeout(p.timer);
      this.pending.delete(rel);
      this.o.onStable(rel);
    }
  }

  forget(rel: string): void {
    const p = this.pending.get(rel);
    if (p) clearTimeout(p.timer);
    this.pending.delete(rel);
  }

  stop(): void {
    this.stopped = true;
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }

  private now(): number {
    return this.o.now ? this.o.now() : performance.now();
  }

  private arm(rel: string, sig: FileSig, since: number): void {
    const old = this.pending.get(rel);
    if (old) clearTimeout(old.timer);
    const due = Math.max(0, since + this.o.windowMs - this.now());
    const timer = setTimeout(() => void this.check(rel), due);
    this.pending.set(rel, { sig, since, timer });
  }

  private async check(rel: string): Promise<void> {
    const p = this.pending.get(rel);
    if (!p || this.stopped) return;
    const f = await this.o.stat(rel);
    if (this.pending.get(rel) !== p) return; // touched meanwhile
    if (!f) return this.forget(rel);
    if (!sameSig(p.sig, f.sig)) return this.arm(rel, f.sig, this.now());
    if (this.now() - p.since < this.o.windowMs) return this.arm(rel, p.sig, p.since);
    this.pending.delete(rel);
    this.o.onStable(rel);
  }
}
