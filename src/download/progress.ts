// Transfer progress for people: one pino line every few seconds (files and bytes done/total as
// far as listed, MB/s over the last interval, ETA once the total is known), and a one-line bar on
// stderr when a person is watching a terminal. Used by download and upload alike.
import { log as rootLog, type Logger } from '../log.js';

export interface ProgressOptions {
  /** "download" or "upload": the verb in the lines */
  direction: string;
  intervalMs: number;
  log?: Logger;
  /** draw a bar here (default: stderr, when both stdout and stderr are terminals) */
  tty?: NodeJS.WriteStream | undefined;
}

export interface ProgressSnapshot {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** bytes actually moved over the network (not counting skipped or resumed ones) */
  bytesTransferred: number;
  skipped: number;
  failed: number;
  totalKnown: boolean;
  seconds: number;
}

export class Progress {
  private filesDone = 0;
  private filesTotal = 0;
  private bytesDone = 0;
  private bytesTotal = 0;
  private transferred = 0;
  private skipped = 0;
  private failed = 0;
  private totalKnown = false;
  private readonly started = Date.now();
  private lastTick = { at: Date.now(), transferred: 0 };
  private rate = 0;
  private timer: NodeJS.Timeout | undefined;
  private barTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private readonly tty: NodeJS.WriteStream | undefined;

  constructor(private readonly opts: ProgressOptions) {
    this.log = opts.log ?? rootLog;
    this.tty = 'tty' in opts ? opts.tty : process.stdout.isTTY && process.stderr.isTTY ? process.stderr : undefined;
  }

  start(): this {
    this.timer = setInterval(() => this.report(), this.opts.intervalMs);
    this.timer.unref();
    if (this.tty) {
      this.barTimer = setInterval(() => this.drawBar(), 250);
      this.barTimer.unref();
    }
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.barTimer) clearInterval(this.barTimer);
    if (this.tty) {
      this.drawBar();
      this.tty.write('\n');
    }
  }

  /** a file (and its size) joined the work list */
  add(bytes: number): void {
    this.filesTotal++;
    this.bytesTotal += bytes;
  }

  /** the listing is complete: totals are final and an ETA can be given */
  listed(): void {
    this.totalKnown = true;
  }

  /** bytes moved over the network; negative when a failed attempt's bytes are discarded */
  moved(n: number): void {
    this.transferred += n;
    this.bytesDone += n;
  }

  /** a file finished; `alreadyHad` bytes were on disk before (a resumed part) */
  done(alreadyHad = 0): void {
    this.filesDone++;
    this.bytesDone += alreadyHad;
  }

  /** a file was already complete on disk */
  skip(bytes: number): void {
    this.skipped++;
    this.filesDone++;
    this.bytesDone += bytes;
  }

  /** a file failed; it leaves the totals (its attempts' bytes were already taken back via moved(-n)) */
  fail(bytes: number): void {
    this.failed++;
    this.filesTotal--;
    this.bytesTotal -= bytes;
  }

  snapshot(): ProgressSnapshot {
    return {
      filesDone: this.filesDone, filesTotal: this.filesTotal, bytesDone: this.bytesDone, bytesTotal: this.bytesTotal,
      bytesTransferred: this.transferred, skipped: this.skipped, failed: this.failed, totalKnown: this.totalKnown,
      seconds: (Date.now() - this.started) / 1000,
    };
  }

  private tick(): void {
    const now = Date.now();
    const dt = (now - this.lastTick.at) / 1000;
    if (dt <= 0) return;
    const current = (this.transferred - this.lastTick.transferred) / dt;
    // smooth over a few ticks so one slow interval does not swing the ETA
    this.rate = this.rate === 0 ? current : 0.5 * this.rate + 0.5 * current;
    this.lastTick = { at: now, transferred: this.transferred };
  }

  private etaSeconds(): number | undefined {
    if (!this.totalKnown || this.rate <= 0) return undefined;
    return Math.max(0, Math.round((this.bytesTotal - this.bytesDone) / this.rate));
  }

  report(): void {
    this.tick();
    const s = this.snapshot();
    const eta = this.etaSeconds();
    const of = s.totalKnown ? '' : '+';
    this.log.info({
      progress: this.opts.direction, filesDone: s.filesDone, filesTotal: s.filesTotal, bytesDone: s.bytesDone, bytesTotal: s.bytesTotal,
      totalKnown: s.totalKnown, mbPerSec: round1(this.rate / 1e6), etaSeconds: eta, skipped: s.skipped, failed: s.failed,
    }, `${this.opts.direction}: ${s.filesDone}/${s.filesTotal}${of} files, ${formatBytes(s.bytesDone)}/${formatBytes(s.bytesTotal)}${of}, ` +
      `${round1(this.rate / 1e6)} MB/s, ETA ${eta === undefined ? 'unknown (still listing)' : formatDuration(eta)}` +
      (s.failed ? `, ${s.failed} failed` : ''));
  }

  private drawBar(): void {
    const s = this.snapshot();
    const frac = s.bytesTotal > 0 ? Math.min(1, s.bytesDone / s.bytesTotal) : 0;
    const width = 30;
    const fill = Math.round(frac * width);
    const eta = this.etaSeconds();
    this.tty!.write(`\r\x1b[K[${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${Math.floor(frac * 100)}% ` +
      `${s.filesDone}/${s.filesTotal}${s.totalKnown ? '' : '+'} files ${formatBytes(s.bytesDone)}/${formatBytes(s.bytesTotal)} ` +
      `${round1(this.rate / 1e6)} MB/s${eta === undefined ? '' : ` ETA ${formatDuration(eta)}`}`);
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

/** Decimal units, as MB/s is: 1 MB = 10^6 bytes. */
export function formatBytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  for (const [u, f] of [['TB', 1e12], ['GB', 1e9], ['MB', 1e6], ['kB', 1e3]] as const) {
    if (n >= f) return `${(n / f).toFixed(n / f >= 100 ? 0 : n / f >= 10 ? 1 : 2)} ${u}`;
  }
  return `${n} B`;
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}
