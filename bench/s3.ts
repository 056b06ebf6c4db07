// The harness's own S3 access (seeding, listing, checking, cleaning): plain SDK v3 with the lab's
// static keys, never s3-sidecar's code, so a bug there cannot hide a wrong result.
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { chunksOf, MiB, bytesOf, type Dataset } from './data.js';
import type { BenchLab } from './lab.js';

export function benchClient(lab: BenchLab): S3Client {
  return new S3Client({
    endpoint: lab.endpoint,
    region: lab.region,
    forcePathStyle: true,
    credentials: { accessKeyId: lab.accessKey, secretAccessKey: lab.secretKey },
  });
}

export async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if ((err as { name?: string }).name !== 'BucketAlreadyOwnedByYou') throw err;
  }
}

/** key (relative to the prefix) → size, of every object below the prefix */
export async function listPrefix(s3: S3Client, bucket: string, prefix: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) found.set(o.Key!.slice(prefix.length), o.Size ?? 0);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return found;
}

/** Delete every object and abort every multipart upload below the prefix. */
export async function emptyPrefix(s3: S3Client, bucket: string, prefix: string): Promise<void> {
  const keys = [...(await listPrefix(s3, bucket, prefix)).keys()].map((k) => prefix + k);
  for (let i = 0; i < keys.length; i += 1000) {
    const Objects = keys.slice(i, i + 1000).map((Key) => ({ Key }));
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects, Quiet: true } }));
  }
  const mpus = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  for (const u of mpus.Uploads ?? []) {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
  }
}

/** Upload the dataset below the prefix, 16 objects at a time (large ones as 16 MiB multipart). */
export async function seedPrefix(s3: S3Client, bucket: string, prefix: string, ds: Dataset): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ds.files.length) {
      const f = ds.files[next++]!;
      const Key = prefix + f.rel;
      if (f.size <= 64 * MiB) {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: bytesOf(f, 0, f.size) }));
      } else {
        const Body = Readable.from(chunksOf(f));
        await new Upload({ client: s3, params: { Bucket: bucket, Key, Body }, partSize: 16 * MiB, queueSize: 4 }).done();
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

export async function getRange(s3: S3Client, bucket: string, key: string, pos: number, len: number): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${pos}-${pos + len - 1}` }));
  return Buffer.from(await res.Body!.transformToByteArray());
}
