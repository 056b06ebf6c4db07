// A test control plane. It stands in for ScaleODM's API: a small HTTP server that, on every
// authorised GET, calls the REAL STS on the lab (AssumeRole) and hands the credentials out.
// It can report a shorter Expiration than STS gave (STS's minimum is 900 s) so refreshes can be
// watched within a minute, and it can go down (connection refused) to simulate an outage.
// It can also misbehave the ways a real control plane does: Expiration as epoch seconds or
// milliseconds or weeks ahead, the same cached credentials every time, an error echoing secrets.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { Lab } from '../../helpers/lab.js';

export interface StubOptions {
  /** Expiration reported to the sidecar, seconds from now (default: what STS says) */
  lifetimeSec?: number;
  /** answer in container-credentials JSON (default) or STS JSON */
  shape?: 'container' | 'sts';
  /** inline session policy passed to AssumeRole */
  policy?: string;
  /** serve https with this key + certificate (PEM) */
  tls?: { key: string; cert: string };
  dir: string;
}

export interface StubControlPlane {
  url: string;
  tokenFile: string;
  /** the bearer token (a secret: must never appear in the sidecar's logs) */
  token: string;
  /** authorised GETs answered */
  calls: number;
  /** every secret handed out so far (secret keys and session tokens) */
  issuedSecrets: string[];
  lifetimeSec: number | undefined;
  /** answer this status instead of credentials (e.g. 500, 401) */
  failWith: number | undefined;
  /** hand out this many credentials with a wrong secret (S3 rejects them with 403) */
  corruptNext: number;
  /** the message of a failWith answer (default: says it was configured to fail) */
  errorMessage: string | undefined;
  /** how Expiration is written: RFC 3339 (default), or epoch seconds / milliseconds as a JSON number */
  expirationAs: 'iso' | 'epoch-s' | 'epoch-ms';
  /** claim this Expiration instead of the real one (e.g. weeks ahead) */
  expirationOverride: Date | undefined;
  /** a caching control plane: answer the first credentials handed out, with their Expiration, every time */
  cache: boolean;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startControlPlane(t: TestContext, lab: Lab, opts: StubOptions): Promise<StubControlPlane> {
  const sts = new STSClient({ region: lab.region, endpoint: lab.endpoint, credentials: { accessKeyId: lab.accessKey, secretAccessKey: lab.secretKey } });
  const token = randomBytes(24).toString('hex');
  const tokenFile = join(opts.dir, 'control-plane-token');
  writeFileSync(tokenFile, `${token}\n`); // projected tokens may end in a newline; the sidecar trims
  let server: Server | undefined;
  let port = 0;

  const stub: StubControlPlane = {
    url: '',
    tokenFile,
    token,
    calls: 0,
    issuedSecrets: [],
    lifetimeSec: opts.lifetimeSec,
    failWith: undefined,
    corruptNext: 0,
    errorMessage: undefined,
    expirationAs: 'iso',
    expirationOverride: undefined,
    cache: false,
    down: async () => {
      const s = server;
      server = undefined;
      if (s) await new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections(); });
    },
    up: async () => {
      if (server) return;
      const listener: RequestListener = (req, res) => {
        void handle(req.headers.authorization).then(({ status, body }) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        });
      };
      server = opts.tls ? createTlsServer(opts.tls, listener) : createServer(listener);
      await new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
      port = (server.address() as AddressInfo).port;
      stub.url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}/v1/jobs/job-1/credentials`;
    },
    close: async () => { await stub.down(); sts.destroy(); },
  };

  let cached: { status: number; body: object } | undefined;
  async function handle(auth: string | undefined): Promise<{ status: number; body: object }> {
    if (auth !== `Bearer ${token}`) return { status: 401, body: { message: 'bad token' } };
    if (stub.failWith) return { status: stub.failWith, body: { message: stub.errorMessage ?? `configured to fail with ${stub.failWith}` } };
    if (stub.cache && cached) {
      stub.calls++;
      return cached;
    }
    cached = await issue();
    return cached;
  }

  async function issue(): Promise<{ status: number; body: object }> {
    const r = await sts.send(new AssumeRoleCommand({ RoleArn: lab.roleArn, RoleSessionName: 'control-plane-stub', DurationSeconds: 900, Policy: opts.policy }));
    const c = r.Credentials!;
    if (stub.corruptNext > 0) {
      stub.corruptNext--;
      c.SecretAccessKey = `${c.SecretAccessKey!.slice(0, -4)}XXXX`;
    }
    stub.calls++;
    stub.issuedSecrets.push(c.SecretAccessKey!, c.SessionToken!);
    const exp = stub.expirationOverride ?? (stub.lifetimeSec ? new Date(Date.now() + stub.lifetimeSec * 1000) : c.Expiration!);
    const expiration = stub.expirationAs === 'epoch-ms' ? exp.getTime() : stub.expirationAs === 'epoch-s' ? Math.floor(exp.getTime() / 1000) : exp.toISOString();
    if (opts.shape === 'sts') {
      return { status: 200, body: { Credentials: { AccessKeyId: c.AccessKeyId, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken, Expiration: expiration }, AssumedRoleUser: r.AssumedRoleUser } };
    }
    return { status: 200, body: { AccessKeyId: c.AccessKeyId, SecretAccessKey: c.SecretAccessKey, Token: c.SessionToken, Expiration: expiration } };
  }

  await stub.up();
  t.after(() => stub.close());
  return stub;
}
