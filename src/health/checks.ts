// Readiness: named checks that the modes register (credentials held? watcher running? upstream
// within its retry budget?). /readyz is 200 only when every check says ok; otherwise 503 with
// each check's reason, so `kubectl describe` and the probe's output say what is wrong.
import { isExpired, type CredentialHolder, type Credentials } from '../credentials/types.js';

export interface CheckResult {
  ok: boolean;
  /** why not ok, in words an operator can act on */
  reason?: string;
  /** extra facts shown in the /readyz body (never secrets) */
  detail?: Record<string, string | number | boolean>;
}

export type ReadinessCheck = () => CheckResult | Promise<CheckResult>;

export interface Readiness {
  ready: boolean;
  checks: Record<string, CheckResult>;
}

/** Ready while the holder has unexpired credentials (the refresher keeps the last good ones). */
export function credentialsCheck(holder: CredentialHolder): ReadinessCheck {
  let last: Credentials | undefined;
  return () => {
    const c = holder.current();
    if (c) last = c;
    if (c && !isExpired(c)) {
      const detail: Record<string, string | number> = { source: c.source };
      if (c.expiration) {
        detail.expiresAt = c.expiration.toISOString();
        detail.expiresInSeconds = Math.round((c.expiration.getTime() - Date.now()) / 1000);
      }
      const status = holder.status?.();
      if (status && status.failures > 0) {
        detail.refreshFailures = status.failures;
        if (status.failingSince) detail.refreshFailingSince = status.failingSince.toISOString();
        if (status.lastError) detail.lastRefreshError = status.lastError.reason;
      }
      if (status?.warning && !status.withinBudget) {
        return { ok: false, reason: `${status.warning}; the held credentials still work until ${detail.expiresAt ?? 'they expire'}`, detail };
      }
      if (status && !status.withinBudget) {
        const why = status.lastError?.retryable === false ? 'with an error retrying will not fix' : 'past its retry budget';
        return { ok: false, reason: `credential refresh failing ${why} (${status.failures} attempts, last: ${status.lastError?.message ?? 'unknown'}); the held credentials still work until ${detail.expiresAt ?? 'they expire'}`, detail };
      }
      return { ok: true, detail };
    }
    const reason = last?.expiration
      ? `credentials expired at ${last.expiration.toISOString()} and no fresh ones could be fetched`
      : 'no valid credentials held yet';
    return { ok: false, reason };
  };
}

/** Run every check; one that throws or hangs past `timeoutMs` counts as failed, never as ready. */
export async function runChecks(checks: ReadonlyMap<string, ReadinessCheck>, timeoutMs: number): Promise<Readiness> {
  const entries = await Promise.all([...checks].map(async ([name, check]): Promise<[string, CheckResult]> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<CheckResult>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, reason: `check did not answer within ${timeoutMs} ms` }), timeoutMs);
    });
    try {
      return [name, await Promise.race([Promise.resolve().then(check), timeout])];
    } catch (err) {
      return [name, { ok: false, reason: `check failed: ${(err as Error).message}` }];
    } finally {
      clearTimeout(timer);
    }
  }));
  return { ready: entries.every(([, r]) => r.ok), checks: Object.fromEntries(entries) };
}
