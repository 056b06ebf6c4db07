// A token bucket per caller: `burst` requests at once, then `perMinute` on average. Buckets
// that have refilled are forgotten, so the map stays as small as the set of busy callers.
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;

  constructor(perMinute: number, private readonly burst: number, private readonly maxKeys = 100_000) {
    this.perMs = perMinute / 60_000;
  }

  /** 0 when the request may go ahead (and is counted), else the seconds to wait. */
  take(key: string, now = Date.now()): number {
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.perMs);
    b.at = now;
    if (b.tokens < 1) {
      this.buckets.set(key, b);
      return Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000));
    }
    b.tokens -= 1;
    this.buckets.delete(key); // re-insert: the map's order is least recently used first
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxKeys) this.sweep(now);
    return 0;
  }

  private sweep(now: number): void {
    for (const [k, b] of this.buckets) {
      if (this.buckets.size <= this.maxKeys / 2) break;
      // the oldest first; a full bucket loses nothing by being forgotten, and past the cap neither does an old one
      if (b.tokens + (now - b.at) * this.perMs >= this.burst || this.buckets.size > this.maxKeys) this.buckets.delete(k);
    }
  }
}
