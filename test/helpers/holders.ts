// Credential holders for tests that drive a client directly (no credentials engine): the lab's
// static keys (or any fixed ones), or keys at the end of their life that the server refuses until refreshNow().
import type { CredentialHolder, Credentials } from '../../src/credentials/types.js';
import type { Lab } from './lab.js';

/** Always these credentials (a refresh gives them again). */
export function fixedHolder(c: Credentials): CredentialHolder {
  return { current: () => c, provider: async () => c, refreshNow: async () => c };
}

export function staticHolder(lab: Lab): CredentialHolder {
  return fixedHolder({ accessKeyId: lab.accessKey, secretAccessKey: lab.secretKey, source: 'static' });
}

/** Held keys expire within a minute and carry a wrong secret (403 from the server); a refresh gives good ones. */
export function expiringHolder(lab: Lab): CredentialHolder & { refreshes: number } {
  let current: Credentials = { accessKeyId: lab.accessKey, secretAccessKey: 'expired-secret-000000000000000000000000', source: 'test', expiration: new Date(Date.now() + 20_000) };
  const holder = {
    refreshes: 0,
    current: () => current,
    provider: async () => current,
    refreshNow: async () => {
      holder.refreshes++;
      current = { accessKeyId: lab.accessKey, secretAccessKey: lab.secretKey, source: 'test' };
      return current;
    },
  };
  return holder;
}
