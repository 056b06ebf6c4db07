// Retries for transfers, and the watch that turns "the server is gone" into one bounded failure.
//
// Two budgets, because the two kinds of trouble need different answers:
// - the server answered with a transient error (5xx, SlowDown, a corrupt or short body, a reset
//   while others are being served): retry this object with backoff, at most `retries` times;
// - nobody is being answered at all (connection refused, timeouts): that is the server, not the
//   object. Objects wait without spending their budget, and the ServerWatch fails the whole run
//   once the server has answered nothing for `deadlineMs`: a clear message, not 30k failures and
//   not a hang.
import { setTimeout as sleep } from 'node:timers/promises';
import { errorCode, httpStatus } from './errors.js';
import { UnsafePathError } from '../util/keys.js';
import { log } from '../log.js';
import { backoffMs } from '../util/backoff.js';

export type ErrorClass = 'network' | 'transient' | 'fatal';

/** The body did not match what the server promised (length, MD5, checksum): fetch again. */
export class VerifyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VerifyError';
  }
}

export class ServerUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerUnreachableError';
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN',
  'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET', 'ECANCELED',
]);
/** Local filesystem trouble: retrying the download will not help. */
const LOCAL_CODES = new Set(['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'ELOOP', 'ENAMETOOLONG', 'EEXIST', 'EMFILE', 'ENFILE']);
const TRANSIENT_CODES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'RequestTimeTooSkewed', 'InternalError', 'ServiceUnavailable', 'PreconditionFailed']);

export function classify(err: unknown): ErrorClass {
  if (err instanceof VerifyError) return 'transient';
  if (err instanceof UnsafePathError) return 'fatal';
  const status = httpStatus(err);
  if (status !== undefined) {
    if (status >= 500 || status === 429 || status === 408 || status === 412) return 'transient';
    return TRANSIENT_CODES.has(errorCode(err)) ? 'transient' : 'fatal';
  }
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  if (LOCAL_CODES.has(code)) return 'fatal';
  const name = (err as Error)?.name ?? '';
  if (NETWORK_CODES.has(code) || name === 'TimeoutError' || /socket hang up|aborted|premature close|ECONNRE/i.test((err as Error)?.message ?? '')) return 'network';
  return 'transient';
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

export interface RetryContext {
  retries: number;
  watch: ServerWatch;
  signal: AbortSignal;
  /**
   * called before each wait, for logging; `what` names the object or request, `counted` says
   * whether this failure spent the object's budget (false while the whole server is silent)
   */
  onRetry?: (err: unknown, attempt: number, delayMs: number, what: string, counted: boolean) => void;
}

/**
 * Run `fn` until it succeeds, a fatal error, `retries` counted failures, or the run is aborted
 * (then the abort reason is thrown, e.g. ServerUnreachableError).
 */
export async function withRetries<T>(ctx: RetryContext, what: string, fn: (attempt: number) => Promise<T>): Promise<T> {
  let counted = 0;
  for (let attempt = 0; ; attempt++) {
    const answersBefore = ctx.watch.answers;
    try {
      const result = await fn(attempt);
      ctx.watch.answered();
      return result;
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (httpStatus(err) !== undefined) ctx.watch.answered();
      const cls = classify(err);
      if (cls === 'fatal') throw err;
      // a network failure counts against this object only when the server answered meanwhile
      // (this request's own headers, or others'): otherwise it is the server, and the watch decides
      const counts = cls !== 'network' || ctx.watch.answers !== answersBefore;
      if (cls === 'network') ctx.watch.networkFailure(err);
      if (counts) counted++;
      if (counted > ctx.retries) throw err;
      const delay = backoffMs(Math.min(attempt, 6));
      ctx.onRetry?.(err, attempt + 1, delay, what, counts);
      await sleep(delay, undefined, { signal: ctx.signal }).catch(() => {
        throw ctx.signal.reason;
      });
    }
  }
}
