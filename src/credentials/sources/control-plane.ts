// Credentials from the job's control plane (ScaleODM's API or any service that implements the
// contract in docs/credentials.md): GET <url> with `Authorization: Bearer <token>`, the token
// re-read from its file on every call. The answer may be container-credentials JSON or STS JSON.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFile } from 'node:fs/promises';
import { isLoopbackHost } from '../../config/listen-address.js';
import { backoffDelay, sleep } from '../../util/backoff.js';
import { log, scrub } from '../../log.js';
import { toCredentialError } from '../errors.js';
import { CredentialError, type CredentialSource, type Credentials } from '../types.js';
import { readToken } from './web-identity.js';

export interface ControlPlaneOptions {
  url: string;
  tokenFile?: string | undefined;
  /** PEM bundle for a private TLS certificate */
  caFile?: string | undefined;
  /** extra attempts after a retryable failure, a few hundred ms apart */
  retries: number;
  timeoutMs?: number;
}

const MAX_BODY = 64 * 1024;

export function fromControlPlane(opts: ControlPlaneOptions): CredentialSource {
  const url = new URL(opts.url);
  if (url.protocol === 'http:' && opts.tokenFile && !isLoopbackHost(url.hostname.replace(/^\[|\]$/g, ''))) {
    log.warn({ host: url.hostname }, 'control plane URL is plain http: the bearer token and the credentials cross the network unencrypted');
  }
  return async (signal) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fetchOnce(url, opts, signal);
      } catch (err) {
        const ce = toCredentialError(err, `GET ${url.origin}${url.pathname}`);
        if (!ce.retryable || attempt >= opts.retries || signal?.aborted) throw ce;
        if (!(await sleep(backoffDelay({ failures: attempt + 1, baseMs: 200, maxMs: 5_000 }), signal))) throw ce;
      }
    }
  };
}

async function fetchOnce(url: URL, opts: ControlPlaneOptions, signal?: AbortSignal): Promise<Credentials> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.tokenFile) headers.authorization = `Bearer ${await readToken(opts.tokenFile)}`;
  const ca = opts.caFile ? await readFile(opts.caFile) : undefined;
  const { status, body } = await get(url, headers, ca, opts.timeoutMs ?? 10_000, signal);
  const what = `GET ${url.origin}${url.pathname}`;
  if (status !== 200) {
    const e = Object.assign(new Error(errorText(body)), { $metadata: { httpStatusCode: status } });
    throw toCredentialError(e, what);
  }
  return parseControlPlaneBody(body, what);
}

/**
 * Accept both shapes a control plane is likely to have at hand:
 * container credentials `{AccessKeyId, SecretAccessKey, Token, Expiration}` and STS
 * `{Credentials: {AccessKeyId, SecretAccessKey, SessionToken, Expiration}}`.
 */
export function parseControlPlaneBody(body: string, what = 'control plane'): Credentials {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(body) as Record<string, unknown>;
  } catch {
    throw new CredentialError(`${what} answered 200 with a body that is not JSON`, 'bad-response', true);
  }
  const sts = (doc.Credentials ?? undefined) as Record<string, unknown> | undefined;
  const c = sts && typeof sts === 'object' ? sts : doc;
  const accessKeyId = c.AccessKeyId;
  const secretAccessKey = c.SecretAccessKey;
  const sessionToken = c.SessionToken ?? c.Token;
  const expiration = c.Expiration;
  const missing = [
    typeof accessKeyId === 'string' && accessKeyId ? '' : 'AccessKeyId',
    typeof secretAccessKey === 'string' && secretAccessKey ? '' : 'SecretAccessKey',
    typeof expiration === 'string' || typeof expiration === 'number' ? '' : 'Expiration',
  ].filter(Boolean);
  if (missing.length) throw new CredentialError(`${what} answered without ${missing.join(', ')}`, 'bad-response', true);
  const exp = parseExpiration(expiration as string | number);
  if (Number.isNaN(exp.getTime())) throw new CredentialError(`${what} answered with an unreadable Expiration`, 'bad-response', true);
  const user = (doc.AssumedRoleUser ?? undefined) as { Arn?: unknown } | undefined;
  return {
    accessKeyId: accessKeyId as string,
    secretAccessKey: secretAccessKey as string,
    sessionToken: typeof sessionToken === 'string' && sessionToken ? sessionToken : undefined,
    expiration: exp,
    source: 'control-plane',
    identity: typeof user?.Arn === 'string' ? user.Arn : typeof doc.RoleArn === 'string' ? doc.RoleArn : undefined,
    packedPolicySize: typeof doc.PackedPolicySize === 'number' ? doc.PackedPolicySize : undefined,
  };
}

/**
 * RFC 3339, or a number: some STS JSON encodings carry epoch seconds, and services written in
 * JavaScript often send Date.now()'s epoch milliseconds. Seconds past 1e11 would be the year
 * 5138, so a number that large is milliseconds (read as seconds it would claim a lifetime of
 * millennia, which the job's SDK would cache and never refresh).
 */
export function parseExpiration(v: string | number): Date {
  const n = typeof v === 'number' ? v : /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : undefined;
  if (n === undefined) return new Date(v as string);
  return new Date(n >= EPOCH_MS_FROM ? n : n * 1000);
}
const EPOCH_MS_FROM = 1e11;

function get(url: URL, headers: Record<string, string>, ca: Buffer | undefined, timeoutMs: number, signal?: AbortSignal): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method: 'GET', headers, ca, signal, timeout: timeoutMs }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > MAX_BODY) { req.destroy(new Error(`control plane answer larger than ${MAX_BODY} bytes`)); return; }
        chunks.push(d);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end();
  });
}

/** A short reason from an error body, without echoing anything secret-looking back into logs. */
function errorText(body: string): string {
  try {
    const d = JSON.parse(body) as Record<string, unknown>;
    const m = d.Message ?? d.message ?? d.error ?? d.Code ?? d.code;
    // scrubbed before it is cut: half a secret no longer matches the log's scrubber
    if (typeof m === 'string') return scrub(m).slice(0, 200);
  } catch {
    // not JSON: say nothing rather than log an arbitrary body
  }
  return '';
}
