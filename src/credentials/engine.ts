// PLACEHOLDER (to be replaced by the credentials engine): static keys from the environment.
// The contract below is what the modes use; keep it when the real engine lands.
import type { Config } from '../config.js';
import { CredentialError, type CredentialHolder, type Credentials } from './types.js';

export interface CredentialsEngine {
  holder: CredentialHolder;
  /** stop the refresh loop, hand-off endpoint and timers */
  stop(): Promise<void>;
}

export interface EngineOptions {
  /** write/serve the configured hand-offs (credentials file, process JSON, env file, endpoint) */
  handoffs: boolean;
  /** keep refreshing in the background (false: fetch once, as download/upload one-shots do... but they still refresh on expiry) */
  loop: boolean;
}

/** Fetch the first credentials (throws CredentialError when none can be had) and start refreshing. */
export async function startCredentialsEngine(_config: Config, _opts: EngineOptions): Promise<CredentialsEngine> {
  const id = process.env.AWS_ACCESS_KEY_ID;
  const secret = process.env.AWS_SECRET_ACCESS_KEY;
  if (!id || !secret) throw new CredentialError('AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY not set (placeholder engine)', 'missing', false);
  const c: Credentials = { accessKeyId: id, secretAccessKey: secret, sessionToken: process.env.AWS_SESSION_TOKEN || undefined, source: 'static' };
  const holder: CredentialHolder = { current: () => c, provider: async () => c, refreshNow: async () => c };
  return { holder, stop: async () => {} };
}
