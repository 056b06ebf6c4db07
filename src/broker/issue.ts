// Issuing credentials for one verified caller under one rule: AssumeRole with the same session
// policy the sidecar builds for itself, cached per (caller, rule, resolved scope) until about
// half the lifetime, one STS call shared by concurrent identical requests, one audit line per
// STS issuance. Never a secret or token in a log line: only the last 4 characters of the key id.
import { createHash } from 'node:crypto';
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import { toCredentialError } from '../credentials/errors.js';
import { buildSessionPolicy } from '../credentials/session-policy.js';
import { fromStsCredentials } from '../credentials/sts.js';
import type { Credentials } from '../credentials/types.js';
import { forgetSecret, keyHint, log, registerSecret } from '../log.js';
import { metrics } from '../metrics.js';
import { callerKey, callerName, fillTemplate, sessionName, sessionTags, TemplateError, type Claims } from './claims.js';
import type { RuleConfig } from './config.js';

export interface Issued {
  credentials: Credentials;
  /** assumed-role ARN STS returned (carries the session name) */
  arn: string | undefined;
  sessionName: string;
  input: string[];
  output: string | undefined;
  readOnly: boolean;
  packedPolicySize: number | undefined;
  /** served from the cache, not from a new STS call */
  cached: boolean;
}

/** STS would not issue: 502 when STS said no (the broker's role setup), 503 when it is unreachable or failing. */
export class StsFailure extends Error {
  constructor(message: string, readonly status: 502 | 503, readonly reason: string) {
    super(message);
    this.name = 'StsFailure';
  }
}

export interface IssuerOptions {
  sts: STSClient;
  /** pass session tags and SourceIdentity (--tag-sessions) */
  tagSessions: boolean;
  /** --cache-max-age in ms; undefined: half the lifetime */
  cacheMaxAgeMs: number | undefined;
  maxEntries?: number;
}

interface Entry { issued: Issued; freshUntil: number }

export class CredentialIssuer {
  private readonly cache = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<Issued>>();

  constructor(private readonly opts: IssuerOptions) {}

  /** Throws TemplateError (the rule cannot apply to this caller) or StsFailure. */
  async issue(caller: Claims, rule: RuleConfig): Promise<Issued> {
    const input = rule.input.map((t) => fillTemplate(t, caller));
    const output = rule.output ? fillTemplate(rule.output, caller) : undefined;
    let policy: string | undefined;
    try {
      policy = buildSessionPolicy({ inputPrefixes: input, outputPrefix: output, readOnly: rule.readOnly, kmsKeyArn: rule.kmsKeyArn });
    } catch (err) {
      // e.g. long names made the policy longer than STS takes
      throw new TemplateError(`the session policy for this caller cannot be built: ${(err as Error).message.replace(/^--\S+ \/ \S+: /, '')}`);
    }
    // the scope is in the key, so a reloaded rule with other prefixes is never answered from the old entry
    const key = createHash('sha256').update(JSON.stringify([callerKey(caller), rule.name, rule.roleArn, rule.durationSeconds, policy, this.opts.tagSessions])).digest('base64url');
    const hit = this.cache.get(key);
    if (hit && Date.now() < hit.freshUntil) {
      metrics.brokerIssuances.inc({ rule: rule.name, result: 'cached' });
      log.debug({ caller: callerName(caller), rule: rule.name, accessKey: keyHint(hit.issued.credentials.accessKeyId) }, 'credentials served from the cache');
      return { ...hit.issued, cached: true };
    }
    let p = this.inFlight.get(key);
    if (p) {
      metrics.brokerIssuances.inc({ rule: rule.name, result: 'shared' });
      return { ...(await p), cached: true };
    }
    p = this.assume(caller, rule, input, output, policy).then((issued) => {
      this.remember(key, issued);
      return issued;
    }).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  private async assume(caller: Claims, rule: RuleConfig, input: string[], output: string | undefined, policy: string | undefined): Promise<Issued> {
    const name = sessionName(caller);
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    let r;
    try {
      r = await this.opts.sts.send(new AssumeRoleCommand({
        RoleArn: rule.roleArn,
        RoleSessionName: name,
        DurationSeconds: rule.durationSeconds,
        Policy: policy,
        ExternalId: rule.externalId,
        Tags: this.opts.tagSessions ? sessionTags(caller) : undefined,
        SourceIdentity: this.opts.tagSessions ? name : undefined,
      }));
    } catch (err) {
      const ce = toCredentialError(err, `AssumeRole on ${rule.roleArn}`);
      metrics.brokerStsCalls.inc({ outcome: 'failure' });
      metrics.brokerStsSeconds.inc(seconds());
      metrics.brokerIssuances.inc({ rule: rule.name, result: 'sts-error' });
      log.warn({ caller: callerName(caller), rule: rule.name, reason: ce.reason, retryable: ce.retryable }, `AssumeRole failed: ${ce.message}`);
      throw new StsFailure(ce.message, ce.retryable ? 503 : 502, ce.reason);
    }
    metrics.brokerStsCalls.inc({ outcome: 'success' });
    metrics.brokerStsSeconds.inc(seconds());
    const credentials = fromStsCredentials(r.Credentials, { source: 'broker', identity: r.AssumedRoleUser?.Arn, packedPolicySize: r.PackedPolicySize }, `AssumeRole on ${rule.roleArn}`);
    guardSecrets(credentials);
    metrics.brokerIssuances.inc({ rule: rule.name, result: 'issued' });
    // the audit line: who got what, for how long; enough to find the session in S3's logs
    log.info({
      audit: true,
      caller: callerName(caller),
      sub: caller.sub,
      podUid: caller.podUid,
      rule: rule.name,
      roleArn: rule.roleArn,
      input,
      output,
      readOnly: rule.readOnly,
      sessionName: name,
      assumedRoleArn: r.AssumedRoleUser?.Arn,
      accessKey: keyHint(credentials.accessKeyId),
      expiration: credentials.expiration?.toISOString(),
      stsSeconds: Math.round(seconds() * 1000) / 1000,
    }, 'credentials issued');
    return { credentials, arn: r.AssumedRoleUser?.Arn, sessionName: name, input, output, readOnly: rule.readOnly, packedPolicySize: r.PackedPolicySize, cached: false };
  }

  private remember(key: string, issued: Issued): void {
    const now = Date.now();
    const life = (issued.credentials.expiration?.getTime() ?? now) - now;
    const maxAge = Math.min(life / 2, this.opts.cacheMaxAgeMs ?? Infinity);
    if (maxAge <= 0) return;
    this.cache.delete(key);
    this.cache.set(key, { issued, freshUntil: now + maxAge });
    const max = this.opts.maxEntries ?? 50_000;
    if (this.cache.size > max) {
      for (const [k, e] of this.cache) {
        if (this.cache.size <= max) break;
        if (e.freshUntil <= now || this.cache.size > max) this.cache.delete(k);
      }
    }
  }
}

/** The log scrubber knows the secrets while they are valid, and forgets them after: a broker issues many. */
function guardSecrets(c: Credentials): void {
  registerSecret(c.secretAccessKey);
  registerSecret(c.sessionToken);
  const ms = Math.min(Math.max((c.expiration?.getTime() ?? 0) - Date.now(), 0), 2 ** 31 - 1);
  setTimeout(() => { forgetSecret(c.secretAccessKey); forgetSecret(c.sessionToken); }, ms).unref();
}
