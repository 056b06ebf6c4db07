// Token issuers for the broker tests.
// - The lab's OIDC stub (test/lab/oidc.mjs, the issuer RGW trusts) mints tokens through its own
//   `token` command, with Kubernetes' claims and the broker's audience.
// - testIssuer(): a stand-in for a Kubernetes API server's service-account issuer, which cannot
//   run here: an RSA key (jose), /.well-known/openid-configuration and the JWKS on 127.0.0.1,
//   and tokens with any claims, audience, lifetime or signing key — for a second "cluster",
//   wrong signatures, rotated keys and expired tokens.
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { Lab } from '../../helpers/lab.js';

export const AUDIENCE = 's3-sidecar-broker';

export interface PodIdentity {
  namespace: string;
  serviceAccount: string;
  pod: string;
  podUid?: string;
}

/** The claims of a projected service-account token for this pod. */
export function podClaims(p: PodIdentity): Record<string, unknown> {
  return {
    sub: `system:serviceaccount:${p.namespace}:${p.serviceAccount}`,
    'kubernetes.io': {
      namespace: p.namespace,
      pod: { name: p.pod, uid: p.podUid ?? `uid-${p.pod}` },
      serviceaccount: { name: p.serviceAccount, uid: `uid-${p.serviceAccount}` },
    },
  };
}

/** A token minted by the lab's OIDC stub (its key, its issuer URL). */
export function labToken(lab: Lab, p: PodIdentity, opts: { audience?: string; ttlSec?: number } = {}): string {
  const issuer = new URL(lab.oidcIssuer!);
  const { sub, ...extra } = podClaims(p);
  return execFileSync(process.execPath, [new URL('../../lab/oidc.mjs', import.meta.url).pathname, 'token', String(sub), String(opts.ttlSec ?? 3600), opts.audience ?? AUDIENCE, JSON.stringify(extra)], {
    env: { ...process.env, OIDC_PORT: issuer.port, OIDC_DIR: `${lab.dir}/oidc` },
    encoding: 'utf8',
  }).trim();
}

export interface TestIssuer {
  url: string;
  /** discovery and JWKS requests served */
  requests: number;
  mint(claims: Record<string, unknown>, opts?: { audience?: string; expiresInSec?: number; notBeforeSec?: number; key?: CryptoKey; kid?: string; issuer?: string }): Promise<string>;
  /** a new signing key, published alongside the old one under a new kid (rotation) */
  rotate(): Promise<void>;
  close(): Promise<void>;
}

export async function testIssuer(t: TestContext): Promise<TestIssuer> {
  const keys: { kid: string; priv: CryptoKey; jwk: JWK }[] = [];
  const addKey = async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const kid = `k${keys.length + 1}`;
    keys.push({ kid, priv: privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } });
  };
  await addKey();
  let published = 1;
  const server: Server = createServer((req, res) => {
    issuer.requests++;
    const body = req.url === '/.well-known/openid-configuration'
      ? { issuer: issuer.url, jwks_uri: `${issuer.url}/openid/v1/jwks`, id_token_signing_alg_values_supported: ['RS256'], response_types_supported: ['id_token'], subject_types_supported: ['public'] }
      : req.url === '/openid/v1/jwks' ? { keys: keys.slice(0, published).map((k) => k.jwk) } : undefined;
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? { error: 'not found' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer: TestIssuer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: 0,
    async mint(claims, opts = {}) {
      const k = keys[keys.length - 1]!;
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? k.kid, typ: 'JWT' })
        .setIssuer(opts.issuer ?? issuer.url)
        .setAudience(opts.audience ?? AUDIENCE)
        .setIssuedAt(now)
        .setNotBefore(now + (opts.notBeforeSec ?? 0))
        .setExpirationTime(now + (opts.expiresInSec ?? 3600))
        .sign(opts.key ?? k.priv);
    },
    async rotate() {
      await addKey();
      published = keys.length;
    },
    close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
  t.after(() => issuer.close());
  return issuer;
}

/** A key no trusted issuer publishes (for forged tokens). */
export async function strangerKey(): Promise<CryptoKey> {
  return (await generateKeyPair('RS256')).privateKey;
}
