// What the two STS sources share: the client, the session name and the response mapping.
import { hostname } from 'node:os';
import { STSClient, type Credentials as StsCredentials, type STSClientConfig } from '@aws-sdk/client-sts';
import type { Config } from '../config.js';
import { CredentialError, type Credentials } from './types.js';

export type StsSettings = Pick<Config, 'region' | 'stsEndpointUrl' | 'stsRetries'>;

/** Region and endpoint are always explicit: the SDK's default STS region guess is us-east-1. */
export function createStsClient(config: StsSettings, credentials?: STSClientConfig['credentials']): STSClient {
  return new STSClient({
    region: config.region,
    endpoint: config.stsEndpointUrl,
    maxAttempts: config.stsRetries + 1,
    ...(credentials ? { credentials } : {}),
  });
}

/** RoleSessionName / SourceIdentity: 2-64 characters of [\w+=,.@-]. */
export function sanitizeSessionName(raw: string | undefined): string {
  const base = raw ?? `s3-sidecar-${hostname()}`;
  let name = base.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  if (name.length < 2) name = `${name}--`.slice(0, 2);
  return name;
}

/** Map an STS Credentials block; STS always returns an Expiration, and we insist on it. */
export function fromStsCredentials(
  c: StsCredentials | undefined,
  extra: { source: string; identity?: string | undefined; packedPolicySize?: number | undefined },
  what: string,
): Credentials {
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.Expiration) {
    throw new CredentialError(`${what} returned no usable credentials`, 'bad-response', true);
  }
  return {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    sessionToken: c.SessionToken,
    expiration: new Date(c.Expiration),
    source: extra.source,
    identity: extra.identity,
    packedPolicySize: extra.packedPolicySize,
  };
}
