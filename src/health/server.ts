// The health listener (--http-addr / SIDECAR_HTTP_ADDR, off by default): /healthz (alive, loop
// not wedged), /readyz (every registered readiness check ok) and /metrics (prom-client).
// Loopback by default: probes run in the pod via `node dist/health/probe.js` (see probe.ts);
// a Prometheus scrape from outside needs a non-loopback address and --endpoint-allow-remote.
//
// Modes use it like this:
//   const health = await startHealthForEngine(config, engine);
//   health.setCheck('watcher', () => ({ ok: watcher.running, reason: 'watcher stopped' }));
//   ...
//   await health.stop();
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, optionName, type Config } from '../config.js';
import type { CredentialHolder } from '../credentials/types.js';
import { log, scrub } from '../log.js';
import { loadRegistry, metrics } from '../metrics.js';
import { credentialsCheck, runChecks, type ReadinessCheck } from './checks.js';
import { startHeartbeat } from './heartbeat.js';
import { assertExposureAllowed, formatAddress, parseListenAddress } from '../config/listen-address.js';

export interface HealthServer {
  /** `host:port` it listens on; undefined when the listener is off */
  readonly address: string | undefined;
  /** add, replace (same name) or with `undefined` remove a readiness check */
  setCheck(name: string, check: ReadinessCheck | undefined): void;
  /** readiness check "credentials" + the expiry gauge kept current at every scrape */
  watchCredentials(holder: CredentialHolder): void;
  stop(): Promise<void>;
}

export interface HealthOptions {
  credentials?: CredentialHolder;
  checks?: Record<string, ReadinessCheck>;
  /** /healthz fails when the event loop was held this long (default 10 s) */
  wedgedAfterMs?: number;
  heartbeatMs?: number;
  /** a readiness check slower than this counts as failed (default 2 s) */
  checkTimeoutMs?: number;
}

const OFF: HealthServer = { address: undefined, setCheck() {}, watchCredentials() {}, stop: async () => {} };

export async function startHealthServer(config: Pick<Config, 'httpAddr' | 'endpointAllowRemote'>, opts: HealthOptions = {}): Promise<HealthServer> {
  if (!config.httpAddr) return OFF;
  const name = optionName('httpAddr', config);
  const addr = parseListenAddress(config.httpAddr, name);
  assertExposureAllowed(addr, config.endpointAllowRemote, name);

  // /metrics will be read: load prom-client now, so the process's default metrics start here
  const registry = await loadRegistry();
  const checks = new Map<string, ReadinessCheck>(Object.entries(opts.checks ?? {}));
  let holder: CredentialHolder | undefined;
  let lastExpiration: Date | undefined;
  const heartbeat = startHeartbeat({ intervalMs: opts.heartbeatMs, wedgedAfterMs: opts.wedgedAfterMs });
  const started = Date.now();

  const refreshExpiryGauge = () => {
    const exp = holder?.current()?.expiration;
    if (exp) lastExpiration = exp;
    // keep reporting the last known expiry after it passed: a negative value is the alert
    if (lastExpiration) metrics.credentialsExpirySeconds.set((lastExpiration.getTime() - Date.now()) / 1000);
  };

  const routes: Record<string, (res: ServerResponse) => Promise<void>> = {
    '/healthz': async (res) => {
      const beat = heartbeat.status();
      json(res, beat.ok ? 200 : 503, {
        ok: beat.ok,
        ...(beat.ok ? {} : { reason: `event loop was blocked for ${beat.lagMs} ms` }),
        eventLoopLagMs: beat.lagMs,
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
      });
    },
    '/readyz': async (res) => {
      const readiness = await runChecks(checks, opts.checkTimeoutMs ?? 2000);
      json(res, readiness.ready ? 200 : 503, readiness);
    },
    '/metrics': async (res) => {
      refreshExpiryGauge();
      const body = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(body);
    },
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = routes[path];
    if (!route) return json(res, 404, { error: `no such path ${path}; try /healthz, /readyz or /metrics` });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return json(res, 405, { error: `${req.method} not allowed` });
    }
    route(res).catch((err: unknown) => {
      log.error({ err, path }, 'health listener: request failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(addr.port, addr.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    heartbeat.stop();
    throw new ConfigError(name, `cannot listen on ${formatAddress(addr)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  // the listener serves the process; it must never be what keeps the process running
  server.unref();
  const bound = server.address() as AddressInfo;
  const address = formatAddress({ host: bound.address, port: bound.port });
  if (addr.loopback) {
    log.info({ address }, `health listener on http://${address} (/healthz, /readyz, /metrics)`);
  } else {
    log.warn({ address }, `health listener on http://${address} is NOT loopback: /healthz, /readyz and /metrics are reachable from outside the pod (allowed by --endpoint-allow-remote)`);
  }

  const api: HealthServer = {
    address,
    setCheck(checkName, check) {
      if (check) checks.set(checkName, check);
      else checks.delete(checkName);
    },
    watchCredentials(h) {
      holder = h;
      checks.set('credentials', credentialsCheck(h));
    },
    async stop() {
      heartbeat.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  if (opts.credentials) api.watchCredentials(opts.credentials);
  return api;
}

/**
 * The listener for a mode whose credentials engine is already running: readiness follows the
 * engine's credentials, and if the listener cannot start (bad or busy --http-addr) the engine is
 * stopped before the error propagates — its endpoint and timers would keep the process alive.
 */
export async function startHealthForEngine(config: Pick<Config, 'httpAddr' | 'endpointAllowRemote'>, engine: { holder: CredentialHolder; stop(): Promise<void> }, opts: Omit<HealthOptions, 'credentials'> = {}): Promise<HealthServer> {
  try {
    return await startHealthServer(config, { ...opts, credentials: engine.holder });
  } catch (err) {
    await engine.stop();
    throw err;
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  // scrubbed like the log: readiness reasons quote refresh errors, which quote servers
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(scrub(`${JSON.stringify(body)}\n`));
}
