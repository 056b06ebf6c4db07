// The one retry policy: every S3 call (download, upload, lean transport or SDK) retries through
// withRetries or the SDK strategy built from the same RetryPolicy, and asks classify.ts what a
// failure means. Callers differ only in their budgets (RETRY_POLICIES).
//
// Two budgets, because the two kinds of trouble need different answers:
// - the server answered with a transient error (5xx, SlowDown, a corrupt or short body, a reset
//   while others are being served): retry with backoff, at most `retries` times;
// - nobody is being answered at all (connection refused, timeouts): that is the server, not the
//   object. With a ServerWatch, objects wait without spending their budget, and the watch fails
//   the whole run once the server has answered nothing for `deadlineMs`: a clear message, not
//   30k failures and not a hang.
import { classify } from './classify.js';
import { errorCode, httpStatus, VerifyError } from './errors.js';
import { UnsafePathError } from '../util/keys.js';
import { log } from '../log.js';
import { backoffDelay, sleep } from '../util/backoff.js';

export class ServerUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerUnreachableError';
  }
}

export interface Backoff {
  baseMs: number;
  maxMs: number;
  jitter: 'full' | 'equal';
}

export interface RetryPolicy {
  /** counted failures retried before the last one is thrown */
  retries: number;
  /** default: REQUEST_BACKOFF */
  backoff?: Backoff;
  /** the calls write objects: a 412 means a conditional write lost to another writer, final (classify.ts) */
  write?: boolean;
}

/** Per-request retries: full jitter from 250 ms, at most 10 s. */
export const REQUEST_BACKOFF: Backoff = { baseMs: 250, maxMs: 10_000, jitter: 'full' };

/** Each caller's budget, in one place (the flags that set them are in docs/retries.md). */
export const RETRY_POLICIES = {
  /** an object, a range or a listing page of a download: --download-retries, a silent server waited out */
  download: (retries: number): RetryPolicy => ({ retries, backoff: REQUEST_BACKOFF }),
  /** one request of an upload (a small file's PUT, an SDK call): quick tries, as the SDK's default */
  request: (attempts: number): RetryPolicy => ({ retries: Math.max(attempts - 1, 0), backoff: { baseMs: 100, maxMs: 20_000, jitter: 'full' }, write: true }),
  /** one output file, sent again whole: --upload-retries, patient (equal jitter from 1 s) */
  uploadFile: (retries: number, maxMs = 30_000): RetryPolicy => ({ retries, backoff: { baseMs: 1_000, maxMs, jitter: 'equal' }, write: true }),
  /** the manifest, the last word of an upload: 4 retries from 1 s while the deadline allows */
  manifest: (): RetryPolicy => ({ retries: 4, backoff: { baseMs: 1_000, maxMs: 8_000, jitter: 'equal' }, write: true }),
} as const;

/** The wait before retry number `failures` (1 for the first). */
export function retryDelay(policy: RetryPolicy, failures: number): number {
  const b = policy.backoff ?? REQUEST_BACKOFF;
  return backoffDelay({ failures, baseMs: b.baseMs, maxMs: b.maxMs, jitter: b.jitter });
}

/** One short line for logs and the summary: "503 SlowDown", "ECONNREFUSED", "MD5 mismatch ...". */
export function describe(err: unknown): string {
  if (err instanceof VerifyError || err instanceof UnsafePathError || err instanceof ServerUnreachableError) return err.message;
  const status = httpStatus(err);
  const code = errorCode(err);
  if (status !== undefined) return `${status} ${code}`;
  const e = err as NodeJS.ErrnoException;
  // O_NOFOLLOW met a symlink planted where the part file goes
  if (e?.code === 'ELOOP') return `refused: a symlink is in the way of ${e.path ?? 'the file'} (symlinks are never followed)`;
  return e?.code && e.message && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : (e?.message ?? String(err));
}

/**
 * Tracks when the server last answered. Requests report answers and network failures; a timer
 * aborts the run (through `onDead`) once there were failures and no answer for `deadlineMs`.
 */
export class ServerWatch {
  /** incremented on every answer: a retry loop compares it to see whether others got through */
  answers = 0;
  private lastAnswerAt = Date.now();
  private lastFailure: unknown;
  private failuresSinceAnswer = 0;
  private timer: NodeJS.Timeout | undefined;
  private warned = false;

  constructor(private readonly endpoint: string, readonly deadlineMs: number, private readonly onDead: (err: ServerUnreachableError) => void) {}

  start(): void {
    this.timer = setInterval(() => this.check(), Math.min(1000, Math.max(100, this.deadlineMs / 10)));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  answered(): void {
    this.answers++;
    this.lastAnswerAt = Date.now();
    this.failuresSinceAnswer = 0;
    if (this.warned) {
      this.warned = false;
      log.info({ endpoint: this.endpoint }, `the S3 endpoint ${this.endpoint} is answering again`);
    }
  }

  networkFailure(err: unknown): void {
    this.failuresSinceAnswer++;
    this.lastFailure = err;
  }

  private check(): void {
    const silent = Date.now() - this.lastAnswerAt;
    if (this.failuresSinceAnswer === 0) return;
    if (!this.warned && silent >= Math.min(5000, this.deadlineMs / 4)) {
      this.warned = true;
      log.warn({ endpoint: this.endpoint, reason: describe(this.lastFailure) },
        `the S3 endpoint ${this.endpoint} is not answering (${describe(this.lastFailure)}); waiting up to --server-deadline ${Math.round(this.deadlineMs / 1000)}s before giving up`);
    }
    if (silent < this.deadlineMs) return;
    this.stop();
    this.onDead(new ServerUnreachableError(
      `no answer from the S3 endpoint ${this.endpoint} for ${Math.round(silent / 1000)}s (--server-deadline ${Math.round(this.deadlineMs / 1000)}s); last error: ${describe(this.lastFailure)}`,
    ));
  }
}

export interface RetryContext extends RetryPolicy {
  signal: AbortSignal;
  /** network failures count only when the server answered meanwhile; without a watch every failure counts */
  watch?: ServerWatch | undefined;
  /** errors the caller handles itself: thrown at once, never retried (e.g. a local file that changed) */
  isFinal?: (err: unknown) => boolean;
  /**
   * called before each wait, for logging; `what` names the object or request, `counted` says
   * whether this failure spent the budget (false while the whole server is silent)
   */
  onRetry?: (err: unknown, attempt: number, delayMs: number, what: string, counted: boolean) => void;
}

/** A download's retries: a silent server is waited out, not counted. */
export type WatchedRetry = RetryContext & { watch: ServerWatch };

/**
 * Run `fn` until it succeeds, a fatal error, `retries` counted failures, or the run is aborted
 * (then the abort reason is thrown, e.g. ServerUnreachableError). A session rejected as expired
 * was already refreshed once by the transport (withSession in classify.ts): if that was not
 * enough, it is retried here like any other transient failure, against the budget.
 */
export async function withRetries<T>(ctx: RetryContext, what: string, fn: (attempt: number) => Promise<T>): Promise<T> {
  let counted = 0;
  for (let attempt = 0; ; attempt++) {
    const answersBefore = ctx.watch?.answers ?? 0;
    try {
      const result = await fn(attempt);
      ctx.watch?.answered();
      return result;
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (ctx.isFinal?.(err)) throw err;
      if (httpStatus(err) !== undefined) ctx.watch?.answered();
      const c = classify(err, { write: ctx.write });
      if (c.action === 'fatal') throw err;
      // a network failure counts against this object only when the server answered meanwhile
      // (this request's own headers, or others'): otherwise it is the server, and the watch decides
      const counts = !c.network || !ctx.watch || ctx.watch.answers !== answersBefore;
      if (c.network) ctx.watch?.networkFailure(err);
      if (counts) counted++;
      if (counted > ctx.retries) throw err;
      const delay = retryDelay(ctx, Math.min(attempt, 6) + 1);
      ctx.onRetry?.(err, attempt + 1, delay, what, counts);
      if (!(await sleep(delay, ctx.signal))) throw ctx.signal.reason;
    }
  }
}
