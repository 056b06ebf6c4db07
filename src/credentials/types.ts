// The credential model shared by sources, the refresher and the sinks.
// Shaped like the AWS SDK v3 AwsCredentialIdentity (so it can be handed to S3Client as-is),
// plus what the logs need.

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** absent only for long-lived static keys (never for STS) */
  expiration?: Date;
  /** which source produced them, e.g. "web-identity" */
  source: string;
  /** assumed-role ARN or similar, when the source knows it (RGW has no GetCallerIdentity) */
  identity?: string;
  /** STS PackedPolicySize (percent of the limit used by the session policy), when returned */
  packedPolicySize?: number;
}

/**
 * One credential source: a typed function that fetches fresh credentials, like the SDK's
 * fromWebToken / fromTemporaryCredentials. It does no caching; the refresher owns timing.
 * It throws CredentialError (retryable or fatal) on failure.
 */
export type CredentialSource = (signal?: AbortSignal) => Promise<Credentials>;

export class CredentialError extends Error {
  constructor(
    message: string,
    /** short machine-readable reason for metrics and logs, e.g. "AccessDenied", "network" */
    readonly reason: string,
    /** false for errors that will not heal by retrying (AccessDenied, InvalidIdentityToken, ...) */
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CredentialError';
  }
}

/** How refreshing is going, for readiness (never secrets). */
export interface RefreshStatus {
  /** consecutive failed fetches since the last success */
  failures: number;
  failingSince?: Date;
  lastError?: { reason: string; message: string; retryable: boolean };
  /**
   * false when the upstream is failing past its retry budget: the error is fatal, or the held
   * credentials have dropped below the lifetime the refresher promises to keep
   * (--refresh-min-remaining) while fetches keep failing. Clients start refreshing in that
   * window (botocore at 15 min left), so the sidecar is degraded before anything expires.
   */
  withinBudget: boolean;
  /** why withinBudget is false although refreshes succeed (they return credentials that run down) */
  warning?: string;
}

/** What the modes and transfer code need from the refresher. */
export interface CredentialHolder {
  /** current credentials if still valid (not expired), else undefined */
  current(): Credentials | undefined;
  /** SDK v3 identity provider: returns valid credentials with `expiration`, refreshing if needed */
  provider(): Promise<Credentials>;
  /** force a refresh now (e.g. after ExpiredToken); concurrent callers share one in-flight call */
  refreshNow(reason: string): Promise<Credentials>;
  /** how refreshing is going (optional: static holders have nothing to report) */
  status?(): RefreshStatus;
}

export function isExpired(c: Credentials | undefined, skewMs = 0, now = Date.now()): boolean {
  if (!c || !c.accessKeyId || !c.secretAccessKey) return true;
  return c.expiration !== undefined && c.expiration.getTime() - skewMs <= now;
}
