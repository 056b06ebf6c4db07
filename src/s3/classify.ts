// The one reading of a failed S3 call: what to do next, and why. Every retry loop (withRetries in
// retry.ts, the SDK's retry strategy in sdk-client.ts) and the one expired-session path
// (withSession below) ask this, so a code means the same thing for downloads and uploads, for the
// lean transport and the SDK alike. The table is in docs/retries.md.
import type { CredentialHolder, Credentials } from '../credentials/types.js';
import { CredentialError } from '../credentials/types.js';
import { log } from '../log.js';
import { UnsafePathError } from '../util/keys.js';
import { errorCode, httpStatus, InvalidEtagError, ListingError, VerifyError } from './errors.js';
import { RequestHeaderError } from './http1/index.js';

export type RetryAction = 'retry' | 'refresh-and-retry' | 'fatal';

export interface Classification {
  action: RetryAction;
  /** a few words for logs and tests, e.g. "throttled (SlowDown)" */
  reason: string;
  /** no answer from the server at all: the ServerWatch, not this object's budget, decides (retry.ts) */
  network: boolean;
}

export interface ClassifyContext {
  /**
   * A conditional write (If-Match / If-None-Match on a PUT) that fails 412 lost a race to another
   * writer: trying again cannot win it. Everywhere else 412 comes from a download's If-Match GET
   * and means the object changed since it was listed: look again (HEAD) and fetch it again.
   */
  write?: boolean;
  /**
   * The session that signed the request. RGW answers an expired session with 403 AccessDenied:
   * a 403 counts as expiry only if that session was at (or within a minute of) its end, or has
   * been rotated since; without it a 403 is a denial.
   */
  session?: { holder: CredentialHolder; used: Credentials | undefined };
}

const EXPIRED_CODES = new Set(['ExpiredToken', 'ExpiredTokenException', 'InvalidToken', 'TokenRefreshRequired', 'RequestExpired']);
const THROTTLE_CODES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequests', 'TooManyRequestsException', 'RequestLimitExceeded']);
const SERVER_CODES = new Set(['InternalError', 'ServiceUnavailable', 'RequestTimeout', 'RequestTimeoutException', 'RequestTimeTooSkewed', 'TimeoutError']);
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN',
  'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET', 'ECANCELED',
]);
/** Local filesystem trouble: fetching or sending again will not help. */
const LOCAL_CODES = new Set(['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'ELOOP', 'ENAMETOOLONG', 'EEXIST', 'EMFILE', 'ENFILE']);

const retry = (reason: string, network = false): Classification => ({ action: 'retry', reason, network });
const fatal = (reason: string): Classification => ({ action: 'fatal', reason, network: false });
const refresh = (reason: string): Classification => ({ action: 'refresh-and-retry', reason, network: false });

export function classify(err: unknown, ctx: ClassifyContext = {}): Classification {
  if (err instanceof VerifyError) return retry(`body did not verify: ${err.message}`);
  if (err instanceof UnsafePathError) return fatal('unsafe local path');
  // the request or the listing itself is broken: sending it again cannot help
  if (err instanceof RequestHeaderError) return fatal(`request refused before sending: ${err.message}`);
  if (err instanceof InvalidEtagError) return fatal(`listing gave an unusable ETag: ${err.message}`);
  if ((err as NodeJS.ErrnoException)?.code === 'UND_ERR_INVALID_ARG') return fatal(`request refused before sending: ${(err as Error).message}`);
  if (err instanceof ListingError) return fatal(`listing broke S3's ordering or paging: ${err.message}`);
  if (err instanceof CredentialError) return err.retryable ? retry(`credentials: ${err.reason}`) : fatal(`credentials: ${err.reason}`);
  const status = httpStatus(err);
  const code = errorCode(err);
  if (status !== undefined) return classifyAnswer(status, code, ctx);
  if (EXPIRED_CODES.has(code)) return refresh(`session expired (${code})`);
  const errno = (err as NodeJS.ErrnoException)?.code ?? '';
  if (LOCAL_CODES.has(errno)) return fatal(`local filesystem: ${errno}`);
  const name = (err as Error)?.name ?? '';
  if (NETWORK_CODES.has(errno) || name === 'TimeoutError' || /socket hang up|aborted|premature close|ECONNRE/i.test((err as Error)?.message ?? '')) {
    return retry(`no answer (${errno || name || 'connection lost'})`, true);
  }
  // an error without an HTTP answer or a known cause (a parser's, a stream's): one more try is cheap
  return retry(`unexpected: ${(err as Error)?.message ?? String(err)}`);
}

/** The server answered with an error (or an SDK error named by its code). */
function classifyAnswer(status: number, code: string, ctx: ClassifyContext): Classification {
  if (EXPIRED_CODES.has(code)) return refresh(`session expired (${code})`);
  if (code === 'PreconditionFailed' || status === 412) {
    return ctx.write ? fatal('conditional write lost to another writer (412)') : retry('object changed since it was listed (412 on If-Match)');
  }
  if (THROTTLE_CODES.has(code) || status === 429 || status === 503) return retry(`throttled (${code})`);
  if (SERVER_CODES.has(code) || status === 408 || status >= 500) return retry(`server error (${status} ${code})`);
  if (code === 'AccessDenied' || status === 403) {
    const s = ctx.session;
    if (s && (s.used === undefined || s.holder.current() !== s.used || nearEnd(s.used))) return refresh(`403 ${code} from a session at its end`);
    return fatal(`denied (${status} ${code})`);
  }
  return fatal(`${status} ${code}`);
}

function nearEnd(used: Credentials): boolean {
  return used.expiration !== undefined && used.expiration.getTime() - 60_000 <= Date.now();
}

/**
 * The one expired-session path: run `attempt`; if the answer says the session expired, refresh
 * the credentials once (unless another request already did) and run it once more. What fails
 * after that goes to the caller's retry loop like any other error.
 */
export async function withSession<T>(holder: CredentialHolder, attempt: () => Promise<T>, opts: { write?: boolean } = {}): Promise<T> {
  const used = holder.current();
  try {
    return await attempt();
  } catch (err) {
    const c = classify(err, { ...opts, session: { holder, used } });
    if (c.action !== 'refresh-and-retry') throw err;
    log.info({ reason: errorCode(err) }, 'S3 rejected the session as expired; refreshing credentials and retrying once');
    if (holder.current() === used) await holder.refreshNow('expired-token');
    return attempt();
  }
}
