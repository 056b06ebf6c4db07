// What the upload tests look at in S3: the objects below a prefix and their bytes, incomplete
// multipart uploads, and the sidecar's environment pointing at the lab (or a proxy in front).
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { adminS3, labEnv, requireLab, tempBucket, type Lab } from '../../helpers/lab.js';

/** A temp dir removed after the test. */
export function tmpDir(t: TestContext, stem: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${stem}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** What most upload tests start with: the lab, an admin client, a fresh bucket, a temp dir (all cleaned up). */
export async function labFixture(t: TestContext, stem: string): Promise<{ lab: Lab; s3: S3Client; bucket: string; dir: string }> {
  const lab = requireLab(t);
  const s3 = adminS3(lab);
  t.after(() => s3.destroy());
  const bucket = await tempBucket(t, lab, stem);
  return { lab, s3, bucket, dir: tmpDir(t, stem) };
}

export interface ObjectInfo {
  size: number;
  lastModified: Date;
}

export async function listPrefix(s3: S3Client, bucket: string, prefix: string): Promise<Map<string, ObjectInfo>> {
  const out = new Map<string, ObjectInfo>();
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.set(o.Key!.slice(prefix.length), { size: o.Size ?? 0, lastModified: o.LastModified! });
    token = page.NextContinuationToken;
  } while (token);
  return out;
}

export async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

export async function incompleteUploads(s3: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const r = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  return (r.Uploads ?? []).map((u) => u.Key!);
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Every regular file below dir (relative paths), optionally only those `keep` accepts. */
export function localFiles(dir: string, keep: (rel: string) => boolean = () => true): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, r));
      if (st.isDirectory()) walk(r);
      else if (st.isFile() && keep(r)) out.push(r);
    }
  };
  walk('');
  return out.sort();
}

/** Differences between local files and the objects below prefix (empty when byte-identical). */
export async function mirrorDiff(s3: S3Client, bucket: string, prefix: string, dir: string, files: string[], ignoreKeys: string[] = ['_manifest.json']): Promise<string[]> {
  const objects = await listPrefix(s3, bucket, prefix);
  const problems: string[] = [];
  for (const rel of files) {
    const o = objects.get(rel);
    if (!o) { problems.push(`missing in S3: ${rel}`); continue; }
    const local = readFileSync(join(dir, rel));
    if (o.size !== local.length) { problems.push(`size differs: ${rel} (S3 ${o.size}, local ${local.length})`); continue; }
    if (sha256(await getBytes(s3, bucket, prefix + rel)) !== sha256(local)) problems.push(`content differs: ${rel}`);
  }
  for (const key of objects.keys()) if (!files.includes(key) && !ignoreKeys.includes(key)) problems.push(`extra in S3: ${key}`);
  return problems;
}

/** Env for a sidecar child: the lab (or `endpoint`, e.g. a proxy) with the lab's static keys. */
export function sidecarEnv(lab: Lab, extra: Record<string, string | undefined> = {}, endpoint = lab.endpoint): NodeJS.ProcessEnv {
  return labEnv(lab, {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: lab.accessKey,
    AWS_SECRET_ACCESS_KEY: lab.secretKey,
    SIDECAR_CREDENTIALS_SOURCE: 'static',
    ...extra,
  });
}

