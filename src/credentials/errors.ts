// Turn whatever a source threw into a CredentialError that says whether retrying can help.
// Retrying a denial only hammers STS; giving up on a throttle loses a 48 h job.
import { scrub } from '../log.js';
import { CredentialError } from './types.js';

/** Codes that will not heal by retrying: fix the role, trust policy, token issuer or policy. */
const FATAL = new Set([
  'AccessDenied', 'AccessDeniedException', 'InvalidIdentityToken', 'IDPRejectedClaim',
  'MalformedPolicyDocument', 'MalformedPolicyDocumentException', 'PackedPolicyTooLarge',
  'PackedPolicyTooLargeException', 'RegionDisabledException', 'ValidationError', 'InvalidParameterValue',
  'InvalidClientTokenId', 'SignatureDoesNotMatch', 'NoSuchEntity',
]);

/** Codes worth another try: throttling, an identity provider hiccup, server trouble. */
const RETRYABLE = new Set([
  'Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException',
  'IDPCommunicationError', 'IDPCommunicationErrorException', 'ServiceUnavailable', 'InternalError',
  'InternalFailure', 'RequestTimeout', 'RequestTimeoutException', 'TimeoutError', 'AbortError',
  // the web identity token (or the base session) ran out; the token file is re-read next time
  'ExpiredTokenException', 'ExpiredToken',
]);

const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET']);

interface SdkLikeError {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
  cause?: unknown;
}

/**
 * Classify an error from `what` (e.g. "AssumeRole on arn:...") into a CredentialError.
 * Ceph RGW's STS answers with bodies the SDK cannot parse (name "Unknown", message
 * "UnknownError"), so the HTTP status decides when the code is unknown.
 */
export function toCredentialError(err: unknown, what: string): CredentialError {
  if (err instanceof CredentialError) return err;
  const e = (err ?? {}) as SdkLikeError;
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  const rawCode = e.Code ?? (e.name && e.name !== 'Error' ? e.name : undefined) ?? e.code;
  const code = rawCode === 'Unknown' || rawCode === 'UnknownError' ? undefined : rawCode;
  const netCode = networkCode(err);

  let reason: string;
  let retryable: boolean;
  if (netCode) {
    reason = 'network';
    retryable = true;
  } else if (code && FATAL.has(code)) {
    reason = code;
    retryable = false;
  } else if (code && RETRYABLE.has(code)) {
    reason = code;
    retryable = true;
  } else if (status !== undefined) {
    reason = status === 401 || status === 403 ? 'AccessDenied' : code ?? `HTTP ${status}`;
    retryable = status >= 500 || status === 429 || status === 408;
  } else {
    reason = code ?? 'unknown';
    retryable = true; // no answer from the server at all: most likely transient
  }
  const detail = netCode ?? [code ?? (status === 401 || status === 403 ? 'AccessDenied' : undefined), status !== undefined ? `HTTP ${status}` : undefined]
    .filter(Boolean).join(', ');
  const msg = usefulMessage(e.message);
  return new CredentialError(`${what} failed${detail ? ` (${detail})` : ''}${msg ? `: ${msg}` : ''}`, reason, retryable, { cause: err });
}

function networkCode(err: unknown): string | undefined {
  for (let e = err as SdkLikeError | undefined, depth = 0; e && depth < 5; e = e.cause as SdkLikeError | undefined, depth++) {
    if (e.code && NETWORK.has(e.code)) return e.code;
  }
  return undefined;
}

/** Drop the SDK's placeholder messages; keep the first line of a real one, shortened. */
function usefulMessage(m: string | undefined): string | undefined {
  if (!m || m === 'UnknownError' || m === 'Unknown') return undefined;
  // scrubbed before it is cut: half a secret no longer matches the log's scrubber
  const line = scrub(m.split('\n')[0]!.trim());
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
