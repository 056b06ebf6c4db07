// The manifest (`_manifest.json` below the output prefix), uploaded last: it tells a finished
// output from a partial one. Streaming makes products visible while the job runs, possibly in
// an intermediate version; only the keys listed here, with these sizes and checksums, are the
// job's final output. At its start a sidecar replaces the manifest with an in-progress marker
// ("status": "in-progress", "complete": false), so a manifest from an earlier run never vouches
// for a prefix that is being rewritten.
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { crc32 } from 'node:zlib';
import { crc32Base64 } from './file-upload.js';

export interface ManifestFile {
  /** full S3 key */
  key: string;
  /** path relative to the output dir (= key below the prefix) */
  path: string;
  size: number;
  /** full-object CRC32, base64 (as S3's x-amz-checksum-crc32) */
  crc32: string;
  etag: string;
  /** local modification time, ISO 8601 */
  mtime: string;
}

export interface Manifest {
  version: 1;
  generator: string;
  bucket: string;
  prefix: string;
  startedAt: string;
  endedAt: string;
  /** "complete" exactly when `complete` is true; an in-progress marker says "in-progress" */
  status: 'complete' | 'incomplete';
  /** every file of the output dir (minus excludes) is listed and landed unchanged */
  complete: boolean;
  /** the job's own verdict when known (ODM log.json "success", or the done file), else null */
  jobSuccess: boolean | null;
  /** why the sidecar finished: "log.json", "done-file", "signal", "upload" */
  endedBy: string;
  files: ManifestFile[];
  /** files that were still waiting or in flight when the sidecar had to stop */
  pending: string[];
  /** files that could not be uploaded, with the last error */
  failed: { path: string; error: string }[];
}

export function mtimeIso(mtimeNs: string): string {
  return new Date(Number(BigInt(mtimeNs) / 1_000_000n)).toISOString();
}

export async function putManifest(client: S3Client, bucket: string, key: string, m: Manifest, signal?: AbortSignal): Promise<void> {
  const body = Buffer.from(JSON.stringify(m, null, 1) + '\n');
  await client.send(new PutObjectCommand({
    Bucket: bucket, Key: key, Body: body, ContentType: 'application/json', ChecksumCRC32: crc32Base64(crc32(body)),
  }), { abortSignal: signal });
}

/** What `_manifest.json` holds while a sidecar is writing the prefix. */
export interface InProgressMarker {
  version: 1;
  generator: string;
  bucket: string;
  prefix: string;
  status: 'in-progress';
  complete: false;
  startedAt: string;
  /** this sidecar's start (startedAt survives restarts) */
  markedAt: string;
  files: [];
}

export async function putInProgress(client: S3Client, bucket: string, key: string, m: Omit<InProgressMarker, 'version' | 'generator' | 'status' | 'complete' | 'files'>, signal?: AbortSignal): Promise<void> {
  const marker: InProgressMarker = { version: 1, generator: 's3-sidecar', status: 'in-progress', complete: false, files: [], ...m };
  const body = Buffer.from(JSON.stringify(marker, null, 1) + '\n');
  await client.send(new PutObjectCommand({
    Bucket: bucket, Key: key, Body: body, ContentType: 'application/json', ChecksumCRC32: crc32Base64(crc32(body)),
  }), { abortSignal: signal });
}
