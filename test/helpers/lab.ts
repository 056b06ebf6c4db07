// Access to the real S3 + STS server the tests run against (see test/run.mjs, test/lab/start).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

export interface Lab {
  endpoint: string;
  region: string;
  accessKey: string;
  secretKey: string;
  /** role that trusts the lab user (AssumeRole), s3:* on all buckets */
  roleArn: string;
  /** role that trusts the lab OIDC issuer (AssumeRoleWithWebIdentity), s3:* on all buckets */
  webRoleArn?: string;
  webIdentityTokenFile?: string;
  oidcIssuer?: string;
  dir?: string;
}

let cached: Lab | undefined;

function fromEnv(env: NodeJS.ProcessEnv): Lab | undefined {
  if (!env.S3LAB_ENDPOINT || !env.S3LAB_ACCESS_KEY || !env.S3LAB_SECRET_KEY) return undefined;
  return {
    endpoint: env.S3LAB_ENDPOINT,
    region: env.S3LAB_REGION ?? 'us-east-1',
    accessKey: env.S3LAB_ACCESS_KEY,
    secretKey: env.S3LAB_SECRET_KEY,
    roleArn: env.S3LAB_ROLE_ARN ?? 'arn:aws:iam:::role/s3lab-full',
    webRoleArn: env.S3LAB_WEB_ROLE_ARN,
    webIdentityTokenFile: env.S3LAB_WEB_IDENTITY_TOKEN_FILE,
    oidcIssuer: env.S3LAB_OIDC_ISSUER,
    dir: env.S3LAB_DIR,
  };
}

/**
 * The lab, started on demand when a test file runs on its own. Throws under CI=true when there
 * is no server (tests must fail, not skip); elsewhere returns undefined so the test can skip.
 */
export function getLab(): Lab | undefined {
  if (cached) return cached;
  cached = fromEnv(process.env);
  if (cached) return cached;
  try {
    const out = execFileSync(new URL('../lab/start', import.meta.url).pathname, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const env: NodeJS.ProcessEnv = {};
    for (const m of out.matchAll(/^export (\w+)=(.*)$/gm)) env[m[1]!] = m[2]!.replace(/^'(.*)'$/, '$1');
    Object.assign(process.env, env);
    cached = fromEnv(env);
  } catch (err) {
    if (process.env.CI === 'true') throw new Error(`no S3 + STS server under CI=true: ${(err as Error).message}`);
  }
  return cached;
}

/** The lab, or skip this test (locally only: under CI=true getLab throws instead). */
export function requireLab(t: TestContext): Lab {
  const lab = getLab();
  if (!lab) {
    t.skip('no S3 server (run via npm test, or test/lab/start)');
    throw new SkipTest();
  }
  return lab;
}

export class SkipTest extends Error {}

/** An S3 client with the lab's admin (static) keys. */
export function adminS3(lab: Lab): S3Client {
  return new S3Client({
    endpoint: lab.endpoint,
    region: lab.region,
    forcePathStyle: true,
    credentials: { accessKeyId: lab.accessKey, secretAccessKey: lab.secretKey },
  });
}

/** A fresh bucket with a unique name; removed (with its objects) by `t.after`. */
export async function tempBucket(t: TestContext, lab: Lab, stem = 'test'): Promise<string> {
  const name = `${stem}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`.toLowerCase().slice(0, 63);
  const s3 = adminS3(lab);
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  t.after(async () => {
    try {
      await emptyBucket(s3, name);
      await s3.send(new DeleteBucketCommand({ Bucket: name }));
    } catch {
      // best effort: the lab is wiped on its next cold start anyway
    }
    s3.destroy();
  });
  return name;
}

export async function emptyBucket(s3: S3Client, bucket: string): Promise<void> {
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    token = page.NextContinuationToken;
  } while (token);
}

/** Env for a sidecar child process that points at the lab, with no inherited AWS settings. */
export function labEnv(lab: Lab, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_REGION: lab.region,
    AWS_ENDPOINT_URL: lab.endpoint,
    // keep the SDK away from the developer's ~/.aws
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_EC2_METADATA_DISABLED: 'true',
    // the transport and MD5 variants a test run was started with reach the CLI it spawns
    SIDECAR_HTTP_CLIENT: process.env.SIDECAR_HTTP_CLIENT,
    SIDECAR_MD5: process.env.SIDECAR_MD5,
  };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}
