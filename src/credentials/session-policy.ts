// The inline session policy passed to AssumeRole / AssumeRoleWithWebIdentity. The effective
// permission is the intersection of the role's policy and this one, so even a broad role
// yields credentials that can only read the job's input and write the job's output.
import { ConfigError } from '../config/define.js';
import { parseS3Uri, type S3Location } from '../config/s3-uri.js';

export interface SessionPolicyInput {
  /** s3://bucket/prefix/ locations read (and listed) by the job */
  inputPrefixes: string[];
  /** s3://bucket/prefix/ the job writes to */
  outputPrefix?: string | undefined;
  /** s3://bucket/prefix/ of the checkpoints: read, list, write and delete, as the output */
  checkpointPrefix?: string | undefined;
  /** drop every write action */
  readOnly: boolean;
  /** SSE-KMS key used by the buckets */
  kmsKeyArn?: string | undefined;
  /** how errors name the two prefix options: what the user set */
  names?: { input: string; output: string; checkpoint?: string } | undefined;
}

/** STS rejects inline session policies longer than this (before its own packed-size check). */
export const MAX_POLICY_CHARS = 2048;

const READ = ['s3:GetObject'];
// Multipart uploads need the part-level actions too; AbortMultipartUpload lets a sidecar clean
// up after itself on SIGTERM; DeleteObject lets the final pass remove renamed intermediates it
// uploaded itself (--delete-removed). All of it only below the output prefix.
const WRITE = ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 's3:DeleteObject'];
const LIST = ['s3:ListBucket'];
const LIST_UPLOADS = ['s3:ListBucketMultipartUploads'];

interface Statement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string[]>>;
}

/**
 * Build the policy, or undefined when there is nothing to scope (no prefixes and not read-only).
 * The output prefix is also readable and listable: the sidecar checks what it uploaded
 * (HeadObject) and reconciles against what is already there.
 */
export function buildSessionPolicy(input: SessionPolicyInput): string | undefined {
  const names = input.names ?? { input: '--input-prefix / S3_INPUT_PREFIX', output: '--output-prefix / S3_OUTPUT_PREFIX' };
  const inputs = input.inputPrefixes.map((u) => location(u, names.input));
  const output = input.outputPrefix ? location(input.outputPrefix, names.output) : undefined;
  const checkpoint = input.checkpointPrefix ? location(input.checkpointPrefix, names.checkpoint ?? '--checkpoint-prefix / SIDECAR_CHECKPOINT_PREFIX') : undefined;
  const writable = [output, checkpoint].filter((l): l is S3Location => l !== undefined);
  const statements: Statement[] = [];

  if (inputs.length === 0 && writable.length === 0) {
    if (!input.readOnly) return undefined;
    statements.push({ Sid: 'ReadOnly', Effect: 'Allow', Action: [...READ, ...LIST], Resource: '*' });
  }
  const readable = [...inputs, ...writable];
  if (readable.length > 0) {
    statements.push({ Sid: 'Read', Effect: 'Allow', Action: READ, Resource: unique(readable.map(objectArn)) });
    statements.push(...listStatements(readable));
  }
  if (writable.length > 0 && !input.readOnly) {
    const one = (xs: string[]) => (xs.length === 1 ? xs[0]! : xs);
    statements.push({ Sid: 'Write', Effect: 'Allow', Action: WRITE, Resource: one(unique(writable.map(objectArn))) });
    statements.push({ Sid: 'Uploads', Effect: 'Allow', Action: LIST_UPLOADS, Resource: one(unique(writable.map(bucketArn))) });
  }
  if (input.kmsKeyArn) {
    const kms = input.readOnly || writable.length === 0 ? ['kms:Decrypt'] : ['kms:Decrypt', 'kms:GenerateDataKey'];
    statements.push({ Sid: 'Kms', Effect: 'Allow', Action: kms, Resource: input.kmsKeyArn });
  }
  const policy = JSON.stringify({ Version: '2012-10-17', Statement: statements });
  if (policy.length > MAX_POLICY_CHARS) {
    throw new ConfigError('--input-prefix / S3_INPUT_PREFIX', `the session policy for these prefixes is ${policy.length} characters; STS allows ${MAX_POLICY_CHARS} (use fewer or shorter prefixes, or --no-session-policy)`);
  }
  return policy;
}

/** One ListBucket statement per bucket, limited to the prefixes in it by an s3:prefix condition. */
function listStatements(locs: S3Location[]): Statement[] {
  const byBucket = new Map<string, Set<string>>();
  for (const l of locs) byBucket.set(l.bucket, (byBucket.get(l.bucket) ?? new Set()).add(l.prefix));
  return [...byBucket].map(([bucket, prefixes], i) => {
    const s: Statement = { Sid: `List${i}`, Effect: 'Allow', Action: LIST, Resource: `arn:aws:s3:::${bucket}` };
    // An empty prefix means the whole bucket: no condition at all.
    if (!prefixes.has('')) s.Condition = { StringLike: { 's3:prefix': [...prefixes].flatMap((p) => [p, `${p}*`]) } };
    return s;
  });
}

function location(uri: string, name: string): S3Location {
  const loc = parseS3Uri(uri, name);
  // In a policy these characters are wildcards or variables and would widen the grant.
  if (/[*?$]/.test(loc.prefix)) throw new ConfigError(name, `prefix must not contain *, ? or $ when it scopes a session policy (got "${uri}")`);
  return loc;
}

const objectArn = (l: S3Location) => `arn:aws:s3:::${l.bucket}/${l.prefix}*`;
const bucketArn = (l: S3Location) => `arn:aws:s3:::${l.bucket}`;
const unique = (xs: string[]) => [...new Set(xs)];
