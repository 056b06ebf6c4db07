// The checkpoint prefix as the run side sees it: what is already stored (objects, manifests),
// the newest manifest, commits, garbage collection, and deleting it all after a finished job.
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { CHECKPOINTS, MAX_MANIFEST_BYTES, OBJECTS, objectKey, parseManifest, seqOf, type CheckpointManifest } from './layout.js';

export interface Listed {
  key: string;
  size: number;
}

export async function listAll(client: S3Client, bucket: string, prefix: string, signal?: AbortSignal): Promise<Listed[]> {
  const out: Listed[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: signal });
    for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/** Stored objects (sha256 -> size) and committed manifests (newest last). */
export async function inventory(client: S3Client, bucket: string, prefix: string): Promise<{ known: Map<string, number>; manifests: { key: string; seq: number }[] }> {
  const known = new Map<string, number>();
  for (const o of await listAll(client, bucket, prefix + OBJECTS)) {
    const sha = o.key.slice(prefix.length + OBJECTS.length);
    if (/^[0-9a-f]{64}$/.test(sha)) known.set(sha, o.size);
  }
  const manifests = (await listAll(client, bucket, prefix + CHECKPOINTS))
    .flatMap((o) => { const seq = seqOf(prefix, o.key); return seq === undefined ? [] : [{ key: o.key, seq }]; })
    .sort((a, b) => a.seq - b.seq);
  return { known, manifests };
}

export async function readManifest(client: S3Client, bucket: string, key: string): Promise<CheckpointManifest> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if ((res.ContentLength ?? 0) > MAX_MANIFEST_BYTES) throw new Error(`checkpoint manifest ${key} is larger than ${MAX_MANIFEST_BYTES} bytes`);
  return parseManifest(await res.Body!.transformToString(), key);
}

export async function putManifest(client: S3Client, bucket: string, key: string, m: CheckpointManifest, signal?: AbortSignal): Promise<void> {
  const body = Buffer.from(JSON.stringify(m));
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json', ContentLength: body.length }), { abortSignal: signal });
}

/**
 * After `committed` was written: older manifests go first (so no manifest ever names a deleted
 * object), then every stored object the committed one does not reference. Returns objects deleted.
 */
export async function collectGarbage(client: S3Client, bucket: string, prefix: string, committed: CheckpointManifest, known: Map<string, number>): Promise<number> {
  const limit = pLimit(16);
  const older = (await listAll(client, bucket, prefix + CHECKPOINTS)).filter((o) => (seqOf(prefix, o.key) ?? Infinity) < committed.seq);
  await Promise.all(older.map((o) => limit(() => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.key })))));
  const referenced = new Set(committed.files.map((f) => f.sha256));
  const garbage = [...known.keys()].filter((sha) => !referenced.has(sha));
  await Promise.all(garbage.map((sha) => limit(async () => {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(prefix, sha) }));
    known.delete(sha);
  })));
  return garbage.length;
}

/** Delete everything below the checkpoint prefix (after a finished job). Returns the number of keys. */
export async function deleteAll(client: S3Client, bucket: string, prefix: string): Promise<number> {
  const limit = pLimit(16);
  // manifests first: a half-deleted prefix must not leave a manifest naming deleted objects
  const manifests = await listAll(client, bucket, prefix + CHECKPOINTS);
  await Promise.all(manifests.map((o) => limit(() => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.key })))));
  const rest = await listAll(client, bucket, prefix);
  await Promise.all(rest.map((o) => limit(() => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.key })))));
  return manifests.length + rest.length;
}
