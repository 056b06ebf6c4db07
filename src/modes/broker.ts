// `s3-sidecar broker`: the control plane. Composes the broker's parts: its own credentials (the
// default chain or web identity, kept fresh by the refresher), the live configuration, the
// issuer (STS + cache), the listener, and the health listener; stops them in order on SIGTERM.
import { optionName, required, type Config } from '../config.js';
import { ConfigError } from '../config/define.js';
import { BrokerConfigError } from '../broker/config.js';
import { CredentialIssuer } from '../broker/issue.js';
import { RateLimiter } from '../broker/rate-limit.js';
import { LiveConfig } from '../broker/reload.js';
import { startBrokerServer } from '../broker/server.js';
import { Refresher } from '../credentials/refresher.js';
import { fromChain } from '../credentials/sources/chain.js';
import { fromWebIdentity } from '../credentials/sources/web-identity.js';
import { createStsClient, sanitizeSessionName } from '../credentials/sts.js';
import { EXIT } from '../exit-codes.js';
import type { CheckResult } from '../health/checks.js';
import { parseListenAddress } from '../config/listen-address.js';
import { startHealthServer } from '../health/server.js';
import { log, registerSecret } from '../log.js';

export async function brokerMode(config: Config): Promise<number> {
  const configFile = required(config, 'brokerConfig');
  const listen = parseListenAddress(config.brokerListen, optionName('brokerListen'));
  if (Boolean(config.tlsCert) !== Boolean(config.tlsKey)) {
    throw new ConfigError(config.tlsCert ? optionName('tlsKey') : optionName('tlsCert'), 'is required with the other of --tls-cert / --tls-key');
  }
  const tls = config.tlsCert && config.tlsKey ? { certFile: config.tlsCert, keyFile: config.tlsKey } : undefined;
  if (!tls && !listen.loopback && !config.allowPlainHttp) {
    throw new ConfigError(optionName('brokerListen'), `${config.brokerListen} is not loopback: serve HTTPS with --tls-cert and --tls-key (or, behind a TLS-terminating mesh only, --allow-plain-http)`);
  }
  if (!tls && !listen.loopback) log.warn({ listen: config.brokerListen }, 'plain HTTP on a non-loopback address (--allow-plain-http): tokens and credentials cross the network unencrypted');

  let live: LiveConfig;
  try {
    live = await LiveConfig.load(configFile, { allowHttpIssuer: config.allowHttpIssuer });
  } catch (err) {
    if (err instanceof BrokerConfigError) throw new ConfigError(optionName('brokerConfig'), `${configFile}: ${err.message}`);
    throw new ConfigError(optionName('brokerConfig'), `cannot read ${configFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const { issuers, rules } = live.snapshot().config;
  log.info({ issuers: issuers.map((i) => `${i.name} ${i.issuer}`), rules: rules.map((r) => r.name) }, 'broker configuration loaded');

  // The broker's own identity: the only long-lived AWS identity in the system lives here.
  registerSecret(process.env.AWS_SECRET_ACCESS_KEY);
  registerSecret(process.env.AWS_SESSION_TOKEN);
  const web = config.roleArn && config.webIdentityTokenFile;
  const base = new Refresher({
    source: web
      ? fromWebIdentity({ sts: createStsClient(config), roleArn: config.roleArn!, tokenFile: config.webIdentityTokenFile!, sessionName: sanitizeSessionName(undefined), durationSeconds: 3600 })
      : fromChain('chain'),
    sourceName: web ? 'web-identity' : 'chain',
    minRemainingMs: config.refreshMinRemaining,
    maxBackoffMs: config.refreshMaxBackoff,
    loop: true,
  });
  await base.start();
  const sts = createStsClient(config, () => base.provider());
  const issuer = new CredentialIssuer({ sts, tagSessions: config.tagSessions, cacheMaxAgeMs: config.cacheMaxAge });
  const stopAll: (() => Promise<void> | void)[] = [() => base.stop(), () => sts.destroy(), () => live.close()];
  const stop = async () => { for (const f of stopAll.splice(0).reverse()) await f(); };
  try {
    const health = await startHealthServer(config, {
      credentials: base,
      checks: {
        // an invalid new file is reported, not fatal: the previous version keeps serving
        config: (): CheckResult => {
          const detail: Record<string, string> = { loadedAt: live.snapshot().loadedAt.toISOString() };
          if (live.invalidSince) detail.fileInvalidSince = live.invalidSince.toISOString();
          return { ok: true, detail };
        },
      },
    });
    stopAll.push(() => health.stop());
    const server = await startBrokerServer({ host: listen.host, port: listen.port, tls, live, issuer, limiter: new RateLimiter(config.rateLimit, config.rateBurst) })
      .catch((err: unknown) => {
        const e = err as NodeJS.ErrnoException;
        if (e.syscall === 'listen') throw new ConfigError(optionName('brokerListen'), `cannot listen on ${config.brokerListen}: ${e.code ?? e.message}`);
        throw new ConfigError(e.path === tls?.keyFile ? optionName('tlsKey') : optionName('tlsCert'), `cannot use the TLS certificate and key: ${e.code === 'ENOENT' ? `${e.path} not found` : e.message}`);
      });
    // stop accepting first, let the requests in flight finish, then the rest
    stopAll.push(() => server.stop());
    live.watch();
  } catch (err) {
    await stop();
    throw err;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info({ signal }, 'broker stopping: no new requests, finishing those in flight');
  await stop();
  log.info('broker stopped');
  return EXIT.OK;
}
