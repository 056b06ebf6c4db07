// The credentials engine: one source (select.ts), one refresher (the CredentialHolder), and the
// hand-offs (files + endpoint). Modes start it first and stop it last.
import type { Config } from '../config.js';
import { registerSecret } from '../log.js';
import { startHandoffs, type Handoffs } from './handoffs.js';
import { Refresher } from './refresher.js';
import { selectSource } from './select.js';
import type { CredentialHolder } from './types.js';

export interface CredentialsEngine {
  holder: CredentialHolder;
  /** stop the refresh loop, hand-off endpoint and timers */
  stop(): Promise<void>;
}

export interface EngineOptions {
  /** write/serve the configured hand-offs (credentials file, process JSON, env file, endpoint) */
  handoffs: boolean;
  /** keep refreshing in the background (false: refresh only when a caller finds the credentials due, as one-shot modes do) */
  loop: boolean;
  /** the process serves the job for its whole life (run, credentials): static keys get a rolling expiry */
  servesJob?: boolean;
}

/** Fetch the first credentials (throws CredentialError when none can be had) and start refreshing. */
export async function startCredentialsEngine(config: Config, opts: EngineOptions): Promise<CredentialsEngine> {
  // Base credentials the SDK chain may read from the environment must never reach a log line either.
  registerSecret(process.env.AWS_SECRET_ACCESS_KEY);
  registerSecret(process.env.AWS_SESSION_TOKEN);
  const { name, source } = await selectSource(config);
  let handoffs: Handoffs | undefined;
  const refresher = new Refresher({
    source,
    sourceName: name,
    minRemainingMs: config.refreshMinRemaining,
    maxBackoffMs: config.refreshMaxBackoff,
    loop: opts.loop,
    rollStaticKeys: opts.servesJob === true && opts.loop,
    onUpdate: (c) => handoffs?.write(c) ?? Promise.resolve(),
  });
  try {
    // Endpoint first: a port or token-file problem fails before STS is called, and clients that
    // start early get 503 (retry) rather than connection refused.
    if (opts.handoffs) handoffs = await startHandoffs(config, refresher);
    await refresher.start();
  } catch (err) {
    refresher.stop();
    await handoffs?.close();
    throw err;
  }
  return {
    holder: refresher,
    async stop() {
      refresher.stop();
      await handoffs?.close();
    },
  };
}
