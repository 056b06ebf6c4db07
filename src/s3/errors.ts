// How S3 errors are read, for the SDK's errors and the lean requests' (s3-http.ts) alike. Kept
// apart from s3-client.ts so that the lean paths do not load the SDK just to classify an error.
import type { CredentialHolder, Credentials } from '../credentials/types.js';

export function errorCode(err: unknown): string {
  const e = err as { name?: string; Code?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  return e?.Code ?? e?.name ?? e?.code ?? 'Unknown';
}

export function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

const EXPIRED_CODES = new Set(['ExpiredToken', 'ExpiredTokenException', 'InvalidToken', 'TokenRefreshRequired', 'RequestExpired']);

/**
 * AWS answers 400 ExpiredToken; Ceph RGW answers 403 AccessDenied for an expired session. A 403
 * is only taken for expiry when the session used for the request was at (or within a minute
 * of) its end, or has been rotated since, so a real policy denial is not retried.
 */
export function isExpiredSessionError(err: unknown, holder: CredentialHolder, used: Credentials | undefined): boolean {
  const code = errorCode(err);
  if (EXPIRED_CODES.has(code)) return true;
  if (code === 'AccessDenied' || httpStatus(err) === 403) {
    if (used === undefined || holder.current() !== used) return true;
    return used.expiration !== undefined && used.expiration.getTime() - 60_000 <= Date.now();
  }
  return false;
}
