// The SDK default chain: env (AWS_ACCESS_KEY_ID / SECRET / SESSION_TOKEN / CREDENTIAL_EXPIRATION),
// shared files, credential_process, container endpoint, IMDS. Empty env keys fall through to
// the next link (Kubernetes manifests often carry `value: ""`), they do not fail.
// When the environment holds keys, the chain's first link answers and the chain itself (with
// @aws-sdk/core, a large part of a download's start-up) is not loaded (docs/download.md, "Why the code is as it is").
import type { defaultProvider } from '@aws-sdk/credential-provider-node';
import { registerSecret } from '../../log.js';
import { toCredentialError } from '../errors.js';
import { CredentialError, type CredentialSource, type Credentials } from '../types.js';

/**
 * What the chain's first link (@aws-sdk/credential-provider-env) returns, read the same way:
 * both keys non-empty, the optional session token and expiration. The SDK skips this link when
 * AWS_PROFILE is set (a profile was asked for), and so does this.
 */
export function envCredentials(env: NodeJS.ProcessEnv, source: string): Credentials | undefined {
  const { AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: token, AWS_CREDENTIAL_EXPIRATION: exp } = env;
  if (!id || !secret || env.AWS_PROFILE) return undefined;
  const expiration = exp ? new Date(exp) : undefined;
  return { accessKeyId: id, secretAccessKey: secret, sessionToken: token || undefined, expiration: expiration && !Number.isNaN(expiration.getTime()) ? expiration : undefined, source };
}

export function fromChain(source = 'chain'): CredentialSource {
  return async () => {
    const fromEnv = envCredentials(process.env, source);
    if (fromEnv) return fromEnv;
    let c;
    try {
      const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
      // A new chain per call (and no file cache) so rotated shared files and expiring
      // container/IMDS credentials are read afresh; the refresher owns caching.
      c = await defaultProvider({ ignoreCache: true })();
    } catch (err) {
      if ((err as Error).name === 'CredentialsProviderError') {
        throw new CredentialError(
          `the default credential chain found no credentials (AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, shared files, container endpoint, IMDS): ${(err as Error).message.split('\n')[0]}`,
          'no-credentials', true, { cause: err });
      }
      throw toCredentialError(err, 'the default credential chain');
    }
    const creds: Credentials = {
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.secretAccessKey,
      sessionToken: c.sessionToken || undefined,
      expiration: c.expiration,
      source,
    };
    return creds;
  };
}

/**
 * Base credentials for AssumeRole, in the shape the STS client wants (no caching of our own).
 * Whatever link of the chain answers (env, shared file, IMDS), its secret is registered so that
 * no log line or printed error can carry it.
 */
export async function chainProvider(): Promise<ReturnType<typeof defaultProvider>> {
  const provider = (await import('@aws-sdk/credential-provider-node')).defaultProvider();
  return async () => {
    const c = await provider();
    registerSecret(c.secretAccessKey);
    registerSecret(c.sessionToken);
    return c;
  };
}
