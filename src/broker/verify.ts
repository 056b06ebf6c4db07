// Verifying the caller's bearer token (a projected service-account token) with jose: the
// issuer's OIDC discovery document names its JWKS; jose caches the keys and fetches them again
// when a token carries a `kid` it has not seen (key rotation). Signature, iss, aud, exp and nbf
// are checked; the token is never logged.
import { createRemoteJWKSet, customFetch, decodeJwt, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { isLoopbackHost } from '../config/listen-address.js';
import { log } from '../log.js';
import type { IssuerConfig } from './config.js';
import { claimsFrom, type Claims } from './claims.js';

/** A token that cannot be trusted: 401. */
export class TokenError extends Error {
  constructor(message: string, readonly reason: string) {
    super(message);
    this.name = 'TokenError';
  }
}

/** The issuer cannot be reached (discovery or JWKS): 503, the caller retries. */
export class IssuerUnavailableError extends Error {}

const FETCH_TIMEOUT_MS = 5_000;
const MAX_DOC_BYTES = 256 * 1024;
const MAX_TOKEN_CHARS = 16 * 1024;
// projected tokens are RS256 on every distribution seen; the others are there for OIDC issuers
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const CLOCK_TOLERANCE_S = 30;
/** After a failed discovery, try again at most this often (a flood of tokens must not flood the issuer). */
const DISCOVERY_RETRY_MS = 5_000;

interface IssuerState {
  config: IssuerConfig;
  keys?: JWTVerifyGetKey;
  discovering?: Promise<JWTVerifyGetKey>;
  failedAt?: number;
  failure?: string;
}

export interface VerifierOptions {
  allowHttpIssuer: boolean;
}

export class TokenVerifier {
  private readonly byIss = new Map<string, IssuerState>();

  constructor(issuers: readonly IssuerConfig[], private readonly opts: VerifierOptions, previous?: TokenVerifier) {
    for (const config of issuers) {
      // keep what a reload did not change: the discovered keys and jose's JWKS cache
      const old = previous?.byIss.get(config.issuer);
      const same = old && JSON.stringify(old.config) === JSON.stringify(config);
      this.byIss.set(config.issuer, same ? old : { config });
    }
  }

  async verify(token: string): Promise<Claims> {
    if (token.length > MAX_TOKEN_CHARS) throw new TokenError('the bearer token is too long to be a service-account token', 'malformed');
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw new TokenError('the bearer token is not a JWT', 'malformed');
    }
    const state = typeof iss === 'string' ? this.byIss.get(iss) : undefined;
    if (!state) throw new TokenError(`the token's issuer ${typeof iss === 'string' ? `"${iss.slice(0, 200)}" ` : ''}is not trusted by this broker`, 'unknown-issuer');
    const keys = await this.keysFor(state);
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: state.config.issuer,
        audience: state.config.audience,
        algorithms: ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['exp', 'sub'],
      });
      return claimsFrom(state.config.name, payload);
    } catch (err) {
      throw tokenError(err, state.config.name);
    }
  }

  private async keysFor(s: IssuerState): Promise<JWTVerifyGetKey> {
    if (s.keys) return s.keys;
    if (s.failedAt && Date.now() - s.failedAt < DISCOVERY_RETRY_MS) throw new IssuerUnavailableError(`issuer ${s.config.name}: ${s.failure}`);
    s.discovering ??= this.discover(s.config).then((keys) => {
      s.keys = keys;
      s.failedAt = undefined;
      return keys;
    }, (err: unknown) => {
      s.failedAt = Date.now();
      s.failure = (err as Error).message;
      log.warn({ issuer: s.config.name, url: s.config.issuer }, `OIDC discovery failed: ${s.failure}`);
      throw new IssuerUnavailableError(`issuer ${s.config.name}: ${s.failure}`);
    }).finally(() => { s.discovering = undefined; });
    return s.discovering;
  }

  private async discover(c: IssuerConfig): Promise<JWTVerifyGetKey> {
    let jwksUri = c.jwksUri;
    if (!jwksUri) {
      const url = `${c.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
      const doc = JSON.parse(await boundedText(url)) as { issuer?: unknown; jwks_uri?: unknown };
      if (typeof doc.jwks_uri !== 'string') throw new Error(`${url} names no jwks_uri`);
      if (typeof doc.issuer === 'string' && doc.issuer !== c.issuer) throw new Error(`${url} is for issuer ${doc.issuer}, not ${c.issuer}`);
      jwksUri = doc.jwks_uri;
    }
    const u = new URL(jwksUri);
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && (isLoopbackHost(u.hostname.replace(/^\[|\]$/g, '')) || this.opts.allowHttpIssuer))) {
      throw new Error(`jwks_uri ${jwksUri} is not https (plain http only on loopback or with --allow-http-issuer)`);
    }
    log.info({ issuer: c.name, jwksUri }, 'issuer keys located');
    return createRemoteJWKSet(u, {
      timeoutDuration: FETCH_TIMEOUT_MS,
      // an unknown kid refetches at most this often; known keys are re-read every 10 min
      cooldownDuration: 5_000,
      cacheMaxAge: 600_000,
      [customFetch]: boundedFetch,
    });
  }
}

function tokenError(err: unknown, issuer: string): Error {
  // anything but a JOSE verdict on the token (fetch failed, JWKS unreadable) is the issuer's trouble
  if (!(err instanceof joseErrors.JOSEError) || err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid) {
    return new IssuerUnavailableError(`issuer ${issuer}: its keys could not be fetched: ${(err as Error).message}`);
  }
  if (err instanceof joseErrors.JWTExpired) return new TokenError('the token has expired', 'expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) return new TokenError(`the token's ${err.claim} claim is not accepted (${err.reason})`, `bad-${err.claim}`);
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return new TokenError('the token signature does not verify', 'bad-signature');
  if (err instanceof joseErrors.JWKSNoMatchingKey) return new TokenError(`no key of issuer ${issuer} matches the token (unknown kid)`, 'bad-signature');
  return new TokenError(`the token is not valid: ${err.message}`, 'invalid');
}

/** GET with a timeout and a size cap: an issuer must not be able to stall or flood the broker. */
async function boundedText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'error', headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}`);
  return readCapped(res, url);
}

async function readCapped(res: Response, url: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += (chunk as Uint8Array).byteLength;
    if (size > MAX_DOC_BYTES) throw new Error(`${url} sent more than ${MAX_DOC_BYTES} bytes`);
    chunks.push(chunk as Uint8Array);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** jose's JWKS fetch, with the same cap (it passes its own timeout signal). */
const boundedFetch = async (url: string, init: RequestInit): Promise<Response> => {
  const res = await fetch(url, { ...init, redirect: 'error' });
  const body = await readCapped(res, url);
  return new Response(body, { status: res.status, headers: res.headers });
};
