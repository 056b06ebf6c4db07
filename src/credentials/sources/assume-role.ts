// AssumeRole on a role, signed with base credentials from the SDK default chain. Use it when
// session tags, SourceIdentity or an external ID are needed; remember that assuming a role from
// role credentials is chaining, which STS caps at 1 h.
import { AssumeRoleCommand, type STSClient, type Tag } from '@aws-sdk/client-sts';
import { toCredentialError } from '../errors.js';
import { fromStsCredentials } from '../sts.js';
import type { CredentialSource } from '../types.js';

export interface AssumeRoleOptions {
  /** an STS client whose credentials are the base (chain) credentials */
  sts: STSClient;
  roleArn: string;
  sessionName: string;
  durationSeconds: number;
  policy?: string | undefined;
  externalId?: string | undefined;
  tags?: Tag[] | undefined;
  sourceIdentity?: string | undefined;
}

export function fromAssumeRole(opts: AssumeRoleOptions): CredentialSource {
  const what = `AssumeRole on ${opts.roleArn}`;
  return async (signal) => {
    try {
      const r = await opts.sts.send(new AssumeRoleCommand({
        RoleArn: opts.roleArn,
        RoleSessionName: opts.sessionName,
        DurationSeconds: opts.durationSeconds,
        Policy: opts.policy,
        ExternalId: opts.externalId,
        Tags: opts.tags?.length ? opts.tags : undefined,
        SourceIdentity: opts.sourceIdentity,
      }), { abortSignal: signal });
      // RGW has no GetCallerIdentity: the identity comes from the AssumeRole answer itself.
      return fromStsCredentials(r.Credentials, { source: 'assume-role', identity: r.AssumedRoleUser?.Arn, packedPolicySize: r.PackedPolicySize }, what);
    } catch (err) {
      throw toCredentialError(err, what);
    }
  };
}
