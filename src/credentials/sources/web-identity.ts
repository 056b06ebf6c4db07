// AssumeRoleWithWebIdentity with a projected service-account token (IRSA, OpenShift STS, any
// OIDC issuer the STS trusts). No role chaining, so sessions may last up to the role maximum.
import { readFile } from 'node:fs/promises';
import { AssumeRoleWithWebIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import { registerSecret } from '../../log.js';
import { toCredentialError } from '../errors.js';
import { fromStsCredentials } from '../sts.js';
import { CredentialError, type CredentialSource } from '../types.js';

export interface WebIdentityOptions {
  sts: STSClient;
  roleArn: string;
  tokenFile: string;
  sessionName: string;
  durationSeconds: number;
  /** inline session policy (JSON) */
  policy?: string | undefined;
}

export function fromWebIdentity(opts: WebIdentityOptions): CredentialSource {
  const what = `AssumeRoleWithWebIdentity on ${opts.roleArn}`;
  return async (signal) => {
    const token = await readToken(opts.tokenFile);
    try {
      const r = await opts.sts.send(new AssumeRoleWithWebIdentityCommand({
        RoleArn: opts.roleArn,
        RoleSessionName: opts.sessionName,
        WebIdentityToken: token,
        DurationSeconds: opts.durationSeconds,
        Policy: opts.policy,
      }), { abortSignal: signal });
      return fromStsCredentials(r.Credentials, { source: 'web-identity', identity: r.AssumedRoleUser?.Arn, packedPolicySize: r.PackedPolicySize }, what);
    } catch (err) {
      throw toCredentialError(err, what);
    }
  };
}

/**
 * Read a bearer token file on every call: kubelet rotates projected tokens by swapping a
 * symlink, so a token read once goes stale after about an hour (OpenShift) or a day (EKS).
 */
export async function readToken(file: string): Promise<string> {
  let token: string;
  try {
    token = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    throw new CredentialError(`cannot read token file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'token-file', true, { cause: err });
  }
  if (!token) throw new CredentialError(`token file ${file} is empty`, 'token-file', true);
  registerSecret(token);
  return token;
}
