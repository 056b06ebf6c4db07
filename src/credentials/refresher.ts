// The refresher owns timing: it fetches from one source, keeps the last good credentials,
// refreshes them at about half their lifetime, backs off on failure and shares one in-flight
// call between everybody who asks at once. It is the CredentialHolder the modes and S3 clients use.
import { keyHint, log, registerSecret } from '../log.js';
import { metrics } from '../metrics.js';
import { toCredentialError } from './errors.js';
import { backoffDelay } from '../util/backoff.js';
import { refreshDelay } from './refresh-timing.js';
import { CredentialError, isExpired, type CredentialHolder, type CredentialSource, type Credentials, type RefreshStatus } from './types.js';

export interface RefresherOptions {
  source: CredentialSource;
  /** source name for logs, e.g. "web-identity" */
  sourceName: string;
  /** --refresh-min-remaining */
  minRemainingMs: number;
  /** --refresh-max-backoff */
  maxBackoffMs: number;
  /**
   * true: timers refresh in the background (daemon). false: refresh only when a caller asks
   * and the credentials are due (one-shot modes), so no timer keeps the process alive.
   */
  loop: boolean;
  /** hand out keys that never expire with a rolling expiry and read them again (see STATIC_KEY_LIFETIME_MS) */
  rollStaticKeys?: boolean;
  /** hand-offs; awaited on the first fetch (errors propagate), later errors are logged */
  onUpdate?: (c: Credentials) => Promise<void>;
  random?: () => number;
}

/** provider() refreshes in the caller's path when this little is left. */
const BLOCKING_MARGIN_MS = 10_000;
/** Never hand out credentials this close to expiry (clock skew, request duration). */
const ACCEPT_MARGIN_MS = 5_000;
/**
 * A key that never expires (a static key mounted into the sidecar, for a store without STS) is
 * handed out as if it lasted this long from each read, and read again at half of it like any
 * credentials: the endpoint and credential_process need an Expiration for SDKs to come back, and
 * a rotated key file reaches the job within the hour.
 */
export const STATIC_KEY_LIFETIME_MS = 3_600_000;

/**
 * Refuse credentials that claim to live longer than this: STS sessions last 12 h at most (36 h
 * for GetSessionToken), so a longer claim is a unit mix-up or a broken control plane, and a job
 * SDK given it would cache the credentials past their real end and never refresh them.
 */
export const MAX_PLAUSIBLE_LIFETIME_MS = 7 * 24 * 3_600_000;

export class Refresher implements CredentialHolder {
  private good: Credentials | undefined;
  private inFlight: Promise<Credentials> | undefined;
  /** when the next attempt is due: the scheduled refresh, or the retry after a failure */
  private dueAt = 0;
  private failures = 0;
  private failingSince: Date | undefined;
  private lastError: CredentialError | undefined;
  /** the last successful refresh returned credentials that expire no later than those held */
  private notRenewed = false;
  private timer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;
  private readonly random: () => number;

  constructor(private readonly opts: RefresherOptions) {
    this.random = opts.random ?? Math.random;
  }

  /** First fetch and first hand-off write; throws CredentialError (or the hand-off's error). */
  async start(): Promise<Credentials> {
    const c = await this.attempt('initial');
    this.started = true;
    this.schedule();
    return c;
  }

  current(): Credentials | undefined {
    return isExpired(this.good) ? undefined : this.good;
  }

  async provider(): Promise<Credentials> {
    const c = this.current();
    if (c && !isExpired(c, BLOCKING_MARGIN_MS)) {
      // One-shot modes have no timer: a caller that finds the refresh due starts it in the background.
      if (!this.opts.loop && Date.now() >= this.dueAt && !this.inFlight) this.attempt('due').catch(() => {});
      return c;
    }
    try {
      return await this.refreshNow('expiring');
    } catch (err) {
      const still = this.current();
      if (still) return still;
      throw err;
    }
  }

  /**
   * Refresh now (e.g. after S3 rejected the session). Shares an in-flight call; while a failed
   * refresh is backing off it does not call the source again, it answers with what it has.
   */
  async refreshNow(reason: string): Promise<Credentials> {
    if (this.inFlight) return this.inFlight;
    if (this.lastError && Date.now() < this.dueAt) {
      const c = this.current();
      if (c) return c;
      throw this.lastError;
    }
    return this.attempt(reason);
  }

  status(): RefreshStatus {
    const s: RefreshStatus = { failures: this.failures, withinBudget: true };
    if (this.failures === 0 || !this.lastError) {
      const warning = this.staleWarning();
      if (warning) Object.assign(s, { withinBudget: false, warning });
      return s;
    }
    s.failingSince = this.failingSince;
    s.lastError = { reason: this.lastError.reason, message: this.lastError.message, retryable: this.lastError.retryable };
    const exp = this.good?.expiration;
    const belowMinimum = exp !== undefined && exp.getTime() - Date.now() < this.opts.minRemainingMs;
    s.withinBudget = this.lastError.retryable && !belowMinimum;
    return s;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.expiryTimer);
  }

  private attempt(reason: string): Promise<Credentials> {
    if (this.stopped) return Promise.reject(new CredentialError('credentials engine stopped', 'stopped', false));
    this.inFlight ??= this.fetch(reason).finally(() => { this.inFlight = undefined; });
    return this.inFlight;
  }

  private async fetch(reason: string): Promise<Credentials> {
    let c: Credentials;
    try {
      c = await this.opts.source();
      if (!c.accessKeyId || !c.secretAccessKey) throw new CredentialError(`${this.opts.sourceName} returned empty credentials`, 'empty', true);
      if (isExpired(c, ACCEPT_MARGIN_MS)) throw new CredentialError(`${this.opts.sourceName} returned credentials that expire at ${c.expiration?.toISOString()}, already past or within seconds`, 'expired', true);
      if (c.expiration && c.expiration.getTime() - Date.now() > MAX_PLAUSIBLE_LIFETIME_MS) {
        throw new CredentialError(`${this.opts.sourceName} returned credentials that claim to expire at ${c.expiration.toISOString()}, more than 7 days ahead: refused as a bad answer (an Expiration in the wrong unit?)`, 'implausible-expiration', true);
      }
    } catch (err) {
      throw this.failed(toCredentialError(err, this.opts.sourceName), reason);
    }
    return this.accept(c, reason);
  }

  private async accept(c: Credentials, reason: string): Promise<Credentials> {
    // modes that end before the job hand a static key out as it is: nobody would renew an expiry
    const staticKey = c.expiration === undefined && this.opts.rollStaticKeys === true;
    if (staticKey) c = { ...c, expiration: new Date(Date.now() + STATIC_KEY_LIFETIME_MS) };
    registerSecret(c.secretAccessKey);
    registerSecret(c.sessionToken);
    const previous = this.good;
    const wasRenewed = !this.notRenewed;
    this.notRenewed = previous?.expiration !== undefined && c.expiration !== undefined && c.expiration.getTime() <= previous.expiration.getTime();
    if (this.notRenewed && wasRenewed) {
      log.warn({ source: c.source, accessKey: keyHint(c.accessKeyId), expiration: c.expiration?.toISOString() },
        `${this.opts.sourceName} answered the refresh with credentials that expire no later than those held (a cache in front of it?): they run down; readiness fails once less than --refresh-min-remaining is left`);
    }
    this.good = c;
    this.failures = 0;
    this.failingSince = undefined;
    this.lastError = undefined;
    const now = Date.now();
    const remainingMs = c.expiration ? c.expiration.getTime() - now : undefined;
    this.dueAt = remainingMs === undefined ? Infinity : now + refreshDelay({ remainingMs, minRemainingMs: this.opts.minRemainingMs, random: this.random() });
    metrics.refreshTotal.inc({ outcome: 'success', reason });
    if (c.expiration) metrics.credentialsExpirySeconds.set(remainingMs! / 1000); // the health listener keeps it current at each scrape
    log.info({
      source: c.source,
      identity: c.identity,
      accessKey: keyHint(c.accessKeyId),
      expiration: c.expiration?.toISOString() ?? 'never',
      ...(staticKey ? { staticKey: 'expiration claimed for an hour, key read again at each refresh' } : {}),
      nextRefresh: Number.isFinite(this.dueAt) ? new Date(this.dueAt).toISOString() : 'never',
      packedPolicySize: c.packedPolicySize,
      reason,
    }, reason === 'initial' ? 'credentials obtained' : 'credentials refreshed');
    if (this.started) this.schedule();
    if (!this.opts.onUpdate || this.stopped) return c;
    if (!this.started) {
      await this.opts.onUpdate(c); // first write: let the caller see a failure
      return c;
    }
    // Not awaited: the new credentials are already held (and served by the endpoint); a hand-off
    // write stuck on a hung volume must not keep this refresh in flight, which would block every
    // caller of refreshNow() and the timer's next attempt.
    this.opts.onUpdate(c).catch((err: unknown) => log.error({ err }, 'writing the credential hand-offs failed; they are retried at the next refresh'));
    return c;
  }

  /** Why readiness should fail although refreshes succeed: they keep returning credentials that run down. */
  private staleWarning(): string | undefined {
    const exp = this.good?.expiration;
    if (!this.notRenewed || !exp) return undefined;
    const left = exp.getTime() - Date.now();
    if (left >= this.opts.minRemainingMs) return undefined;
    return `${this.opts.sourceName} keeps answering with credentials that are not renewed (a cache in front of it?): ${Math.max(0, Math.round(left / 1000))} s left, below --refresh-min-remaining`;
  }

  private failed(err: CredentialError, reason: string): CredentialError {
    if (this.failures === 0) this.failingSince = new Date();
    this.failures++;
    this.lastError = err;
    const delay = err.retryable ? backoffDelay({ failures: this.failures, maxMs: this.opts.maxBackoffMs, random: this.random() }) : this.opts.maxBackoffMs;
    this.dueAt = Date.now() + delay;
    metrics.refreshTotal.inc({ outcome: 'failure', reason: err.reason });
    if (this.started) {
      const valid = this.current();
      const fields = { reason: err.reason, failures: this.failures, retryInMs: delay, validUntil: valid?.expiration?.toISOString() ?? 'nothing valid held', trigger: reason };
      if (err.retryable) log.warn(fields, `credential refresh failed, keeping the last good credentials: ${err.message}`);
      else log.error({ ...fields, fatal: true }, `credential refresh failed with an error retrying will not fix (still retrying slowly): ${err.message}`);
      this.schedule();
    }
    return err;
  }

  /** Daemon mode: one timer for the next attempt, one to report when the held credentials lapse. */
  private schedule(): void {
    if (!this.opts.loop || this.stopped) return;
    clearTimeout(this.timer);
    if (Number.isFinite(this.dueAt)) {
      // setTimeout overflows above ~24.8 days; re-arm in steps
      const delay = Math.min(Math.max(this.dueAt - Date.now(), 0), 2 ** 31 - 1);
      this.timer = setTimeout(() => {
        if (Date.now() < this.dueAt) return this.schedule();
        this.attempt('scheduled').catch(() => {}); // failed() reschedules
      }, delay);
    }
    clearTimeout(this.expiryTimer);
    const exp = this.good?.expiration;
    if (exp && !isExpired(this.good)) {
      const held = this.good;
      this.expiryTimer = setTimeout(() => {
        if (this.good !== held) return;
        log.error({ expiredAt: exp.toISOString(), lastError: this.lastError?.message }, 'credentials expired and no refresh has succeeded: no valid credentials to hand out (the endpoint answers 503) until one does');
      }, Math.min(exp.getTime() - Date.now() + 1, 2 ** 31 - 1));
    }
  }
}
