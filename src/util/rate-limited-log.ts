// A log line the outside world can trigger (a refused endpoint request, a bad UDP packet, a
// job file that is refused) must not let a misbehaving job flood the log: each such message goes
// through a token bucket, and what was held back is counted in the next line that goes out.
import { log } from '../log.js';

export interface RateLimitOptions {
  /** lines allowed at once after a quiet spell */
  burst: number;
  /** lines per minute in a steady flood */
  perMinute: number;
  now?: () => number;
}

export class RateLimitedLog {
  private tokens: number;
  private last: number;
  private suppressed = 0;

  constructor(private readonly o: RateLimitOptions) {
    this.tokens = o.burst;
    this.last = this.now();
  }

  warn(fields: Record<string, unknown>, msg: string): boolean {
    return this.emit('warn', fields, msg);
  }

  info(fields: Record<string, unknown>, msg: string): boolean {
    return this.emit('info', fields, msg);
  }

  /** Lines held back since the last one that went out. */
  get held(): number {
    return this.suppressed;
  }

  private emit(level: 'warn' | 'info', fields: Record<string, unknown>, msg: string): boolean {
    const now = this.now();
    this.tokens = Math.min(this.o.burst, this.tokens + ((now - this.last) * this.o.perMinute) / 60_000);
    this.last = now;
    if (this.tokens < 1) {
      this.suppressed++;
      return false;
    }
    this.tokens -= 1;
    const extra = this.suppressed ? { suppressed: this.suppressed } : {};
    this.suppressed = 0;
    log[level]({ ...fields, ...extra }, msg);
    return true;
  }

  private now(): number {
    return this.o.now ? this.o.now() : performance.now();
  }
}
