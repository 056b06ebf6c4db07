// Small fixtures the credentials tests share: temp dirs, an STS client with the lab user's keys,
// real AssumeRole credentials, and a bucket seeded with objects (removed after the test).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { fromAssumeRole } from '../../../src/credentials/sources/assume-role.js';
import type { Credentials } from '../../../src/credentials/types.js';
import { adminS3, tempBucket, type Lab } from '../../helpers/lab.js';

export const tmpDir = (stem: string) => mkdtempSync(join(tmpdir(), `s3-sidecar-${stem}-`));

/** STS signed with the lab user's keys (or a wrong secret), no SDK retries; destroyed after the test. */
export function adminSts(t: TestContext, lab: Lab, secret = lab.secretKey): STSClient {
  const sts = new STSClient({ region: lab.region, endpoint: lab.endpoint, maxAttempts: 1, credentials: { accessKeyId: lab.accessKey, secretAccessKey: secret } });
  t.after(() => sts.destroy());
  return sts;
}

/** Real 15-minute AssumeRole credentials on the lab's full-access role. */
export async function assumedCredentials(t: TestContext, lab: Lab, sessionName: string): Promise<Credentials> {
  return fromAssumeRole({ sts: adminSts(t, lab), roleArn: lab.roleArn, sessionName, durationSeconds: 900 })();
}

/** A temp bucket holding `keys`, each with the body `body of <key>`. */
export async function bucketWith(t: TestContext, lab: Lab, stem: string, keys: string[]): Promise<string> {
  const bucket = await tempBucket(t, lab, stem);
  const s3 = adminS3(lab);
  try {
    for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: `body of ${k}` }));
  } finally {
    s3.destroy();
  }
  return bucket;
}
