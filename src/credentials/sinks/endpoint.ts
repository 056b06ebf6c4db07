// Hand-off 4: a container-credentials endpoint, what AWS_CONTAINER_CREDENTIALS_FULL_URI +
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE point at. Every SDK re-fetches from it before expiry,
// so it is the hand-off for long-running processes. It answers from memory only (the JS SDK
// gives up after 1 s); STS is never called in the request path.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, optionName } from '../../config.js';
import { assertExposureAllowed, formatAddress, parseListenAddress } from '../../config/listen-address.js';
import { log, registerSecret } from '../../log.js';
import { metrics } from '../../metrics.js';
import { atomicWrite } from '../../util/atomic-write.js';
import type { CredentialHolder, Credentials } from '../types.js';
import type { FileOptions } from './file-options.js';
import { RateLimitedLog } from '../../util/rate-limited-log.js';

export interface EndpointOptions {
  /** host:port; port 0 picks a free one */
  addr: string;
  /** the sidecar writes the token here; clients send it as Authorization */
  tokenFile: string;
  allowRemote: boolean;
  file: FileOptions;
  holder: Pick<CredentialHolder, 'current'>;
}

export interface Endpoint {
  /** e.g. http://127.0.0.1:9911/ (the value for AWS_CONTAINER_CREDENTIALS_FULL_URI) */
  url: string;
  close(): Promise<void>;
}

/** What the endpoint claims for credentials that never expire: clients simply come back hourly. */
const STATIC_CLAIMED_LIFETIME_MS = 3_600_000;

export async function startEndpoint(opts: EndpointOptions): Promise<Endpoint> {
  const name = optionName('endpoint');
  const addr = parseListenAddress(opts.addr, name);
  assertExposureAllowed(addr, opts.allowRemote, name);
  // A fresh token per start. No trailing newline: botocore rejects a token file that ends in one.
  const token = randomBytes(32).toString('base64url');
  registerSecret(token);
  try {
    await atomicWrite(opts.tokenFile, token, opts.file);
  } catch (err) {
    throw new ConfigError(optionName('endpointTokenFile'), `cannot write ${opts.tokenFile}: ${(err as Error).message}`);
  }
  const expected = digest(token);
  const refusals = new RateLimitedLog({ burst: 10, perMinute: 12 });

  const server = createServer((req, res) => {
    const status = answer(req, res, expected, opts.holder);
    metrics.endpointRequests.inc({ status: String(status) });
    const fields = { status, method: req.method, path: req.url, remote: req.socket.remoteAddress };
    if (status === 200) log.debug(fields, 'credentials endpoint request');
    // a job hammering the endpoint with bad tokens must not flood the log (the metric counts all)
    else refusals.warn(fields, 'credentials endpoint refused a request');
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new ConfigError(name, `cannot listen on ${formatAddress(addr)}: ${err.code ?? err.message}`)));
    server.listen(addr.port, addr.host, () => resolve());
  });
  server.on('error', (err) => log.error({ err }, 'credentials endpoint: server error'));
  const bound = server.address() as AddressInfo;
  const url = `http://${formatAddress({ host: bound.address, port: bound.port })}/`;
  log.info({ url, tokenFile: opts.tokenFile }, 'credentials endpoint listening (set AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE in the main container)');
  return {
    url,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function answer(req: IncomingMessage, res: ServerResponse, expected: Buffer, holder: Pick<CredentialHolder, 'current'>): number {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { Code: 'MethodNotAllowed', Message: 'use GET' }, { allow: 'GET, HEAD' });
  const auth = req.headers.authorization;
  if (!auth) return send(res, 401, { Code: 'Unauthorized', Message: 'missing Authorization header (set AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE)' });
  if (!timingSafeEqual(digest(auth), expected)) return send(res, 403, { Code: 'Forbidden', Message: 'Authorization does not match the endpoint token' });
  const c = holder.current();
  if (!c) return send(res, 503, { Code: 'CredentialsUnavailable', Message: 'the sidecar holds no valid credentials right now (refresh failing); retry later' });
  return send(res, 200, containerJson(c));
}

/** The container-credentials shape: the session token travels as `Token`. */
export function containerJson(c: Credentials, now = Date.now()): Record<string, string> {
  return {
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    // the JS SDK insists on four strings; long-lived keys have no token
    Token: c.sessionToken ?? '',
    Expiration: (c.expiration ?? new Date(now + STATIC_CLAIMED_LIFETIME_MS)).toISOString(),
  };
}

function send(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): number {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : text);
  return status;
}

// Compare fixed-length digests so neither the length nor the content leaks through timing.
const digest = (s: string) => createHash('sha256').update(s).digest();
