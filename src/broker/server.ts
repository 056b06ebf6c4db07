// The broker's listener: GET /v1/credentials answers the contract the sidecar's control-plane
// source speaks (README "Control-plane contract"). Errors are JSON {"error", "reason"}, with
// the statuses that source maps to fatal (401, 403) or retry (429, 502, 503).
import { watchFile, unwatchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { log } from '../log.js';
import { metrics } from '../metrics.js';
import { callerKey, callerName, matchRule, TemplateError } from './claims.js';
import { StsFailure, type CredentialIssuer, type Issued } from './issue.js';
import type { RateLimiter } from './rate-limit.js';
import type { LiveConfig } from './reload.js';
import { IssuerUnavailableError, TokenError } from './verify.js';

export const CREDENTIALS_PATH = '/v1/credentials';
const CERT_POLL_MS = 10_000;

export interface BrokerServerOptions {
  host: string;
  port: number;
  tls?: { certFile: string; keyFile: string } | undefined;
  live: LiveConfig;
  issuer: CredentialIssuer;
  limiter: RateLimiter;
}

export interface BrokerServer {
  /** host:port actually bound */
  address: string;
  url: string;
  /** stop accepting, let requests in flight finish (up to graceMs), then close */
  stop(graceMs?: number): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

export async function startBrokerServer(opts: BrokerServerOptions): Promise<BrokerServer> {
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    void handle(req, opts).then(
      (issued) => send(res, 200, answer(issued)),
      (err: unknown) => {
        const e = err instanceof HttpError ? err : internal(err);
        for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
        send(res, e.status, { error: e.message, reason: e.reason });
      },
    );
  };
  let server: Server | HttpsServer;
  let stopCertWatch = () => {};
  if (opts.tls) {
    const { certFile, keyFile } = opts.tls;
    const read = async () => ({ cert: await readFile(certFile), key: await readFile(keyFile) });
    const https = createHttpsServer({ ...(await read()), minVersion: 'TLSv1.2' }, handler);
    // cert-manager and kubelet replace the files (a symlink swap): pick the new pair up
    const onChange = () => void read().then((pair) => {
      https.setSecureContext({ ...pair, minVersion: 'TLSv1.2' });
      log.info({ certFile }, 'TLS certificate reloaded');
    }, (err: unknown) => log.error({ err, certFile }, 'cannot reload the TLS certificate; keeping the current one'));
    watchFile(certFile, { interval: CERT_POLL_MS }, onChange);
    watchFile(keyFile, { interval: CERT_POLL_MS }, onChange);
    stopCertWatch = () => { unwatchFile(certFile, onChange); unwatchFile(keyFile, onChange); };
    server = https;
  } else {
    server = createHttpServer(handler);
  }
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
  }).catch((err: unknown) => { stopCertWatch(); throw err; });
  const bound = server.address() as AddressInfo;
  const address = bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;
  const url = `${opts.tls ? 'https' : 'http'}://${address}${CREDENTIALS_PATH}`;
  log.info({ url }, `broker listening on ${url}`);

  return {
    address,
    url,
    async stop(graceMs = 10_000) {
      stopCertWatch();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}

async function handle(req: IncomingMessage, opts: BrokerServerOptions): Promise<Issued> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== CREDENTIALS_PATH) throw new HttpError(404, 'not-found', `no such path; credentials are at ${CREDENTIALS_PATH}`);
  if (req.method !== 'GET') throw new HttpError(405, 'method', `${req.method} not allowed`, { allow: 'GET' });
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  const challenge = { 'www-authenticate': 'Bearer' };
  if (!m) throw new HttpError(401, 'no-token', 'an Authorization: Bearer <service-account token> header is required', challenge);
  const { config, verifier } = opts.live.snapshot();
  let caller;
  try {
    caller = await verifier.verify(m[1]!);
  } catch (err) {
    if (err instanceof TokenError) {
      log.warn({ remote: req.socket.remoteAddress, reason: err.reason }, `token refused: ${err.message}`);
      throw new HttpError(401, err.reason, err.message, challenge);
    }
    if (err instanceof IssuerUnavailableError) throw new HttpError(503, 'issuer-unavailable', err.message, { 'retry-after': '5' });
    throw err;
  }
  const wait = opts.limiter.take(callerKey(caller));
  if (wait > 0) {
    log.warn({ caller: callerName(caller), retryAfter: wait }, 'caller over its rate limit');
    throw new HttpError(429, 'rate-limited', `too many requests from ${callerName(caller)}; retry in ${wait} s`, { 'retry-after': String(wait) });
  }
  const rule = matchRule(config.rules, caller);
  if (!rule) {
    log.warn({ caller: callerName(caller), sub: caller.sub }, 'no rule matches the caller');
    throw new HttpError(403, 'no-rule', `no rule of this broker matches ${callerName(caller)}`);
  }
  try {
    return await opts.issuer.issue(caller, rule);
  } catch (err) {
    if (err instanceof TemplateError) {
      log.warn({ caller: callerName(caller), rule: rule.name }, `rule does not apply: ${err.message}`);
      throw new HttpError(403, 'rule-does-not-apply', `rule ${rule.name}: ${err.message}`);
    }
    if (err instanceof StsFailure) throw new HttpError(err.status, err.status === 503 ? 'sts-unavailable' : 'sts-refused', `STS did not issue credentials: ${err.message}`, err.status === 503 ? { 'retry-after': '5' } : {});
    throw err;
  }
}

/** The STS shape the control-plane source reads (a Go service would pass its AssumeRoleOutput through). */
function answer(i: Issued): object {
  const c = i.credentials;
  return {
    Credentials: { AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, SessionToken: c.sessionToken, Expiration: c.expiration?.toISOString() },
    AssumedRoleUser: { Arn: i.arn },
    PackedPolicySize: i.packedPolicySize,
    SessionName: i.sessionName,
    Scope: { input: i.input, output: i.output, readOnly: i.readOnly },
  };
}

function internal(err: unknown): HttpError {
  log.error({ err }, 'broker: request failed');
  return new HttpError(500, 'internal', 'internal error');
}

function send(res: ServerResponse, status: number, body: object): void {
  metrics.brokerRequests.inc({ status: String(status) });
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(`${JSON.stringify(body)}\n`);
}
