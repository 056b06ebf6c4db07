// The SDK default chain: env (AWS_ACCESS_KEY_ID / SECRET / SESSION_TOKEN / CREDENTIAL_EXPIRATION),
// shared files, credential_process, container endpoint, IMDS. Empty env keys fall through to
// the next link (Kubernetes manifests often carry `value: ""`), they do not fail.
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { toCredentialError } from '../errors.js';
import { CredentialError, type CredentialSource, type Credentials } from '../types.js';

export function fromChain(source = 'chain'): CredentialSource {
  return async () => {
    let c;
    try {
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

/** Base credentials for AssumeRole, in the shape the STS client wants (no caching of our own). */
export function chainProvider() {
  return defaultProvider();
}
