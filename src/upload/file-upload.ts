// Upload one local file to one key, and prove it landed.
// - Small files: one lean signed PUT (object-put.ts) from a Buffer; we compute the CRC32 once
//   and send it, and the server (AWS, MinIO) verifies it.
// - Large files: a multipart upload read part by part from the descriptor (multipart.ts), parts
//   sized to stay within --max-parts; the SDK sends a CRC32 per part.
// - Afterwards a multipart object is checked with HeadObject (size, part count, checksum when
//   the store reports one): Ceph RGW answers CompleteMultipartUpload with an empty ETag.
// - A failed or cancelled multipart upload is aborted once its parts in flight are cut, so
//   nothing is left to strand parts.
// - Bytes are read, hashed and sent from one descriptor, proven unchanged before the object is
//   made (local-read.ts): a file rewritten meanwhile leaves no torn object.
import { crc32 } from 'node:zlib';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import mime from 'mime-types';
import type { BufferPool } from '../util/buffer-pool.js';
import type { RegularFile } from '../util/open-beneath.js';
import type { ObjectPutter } from '../s3/object-put.js';
import { VerifyError } from '../s3/errors.js';
import type { FileSig } from './output-tree.js';
import { FileChangedError, LocalFileError, LocalRead, readExactly } from './local-read.js';
import { putMultipart, type MultipartHooks, type MultipartResult } from './multipart.js';

export { FileChangedError, LocalFileError };

/** Small files go through the lean putter; multipart uploads and HeadObject through the SDK. */
export interface UploadClients {
  client: S3Client;
  putter: ObjectPutter;
}

export interface UploadTarget {
  bucket: string;
  key: string;
  /** local path to read */
  path: string;
  /** bytes to send: the size the caller stat'ed (a file that shrinks fails, one that grows is cut here) */
  size: number;
  /**
   * The signature the caller stat'ed. A single-request upload holds the whole body in memory, so
   * an fstat right after the read proves the bytes sent are this version (else FileChangedError,
   * before anything is sent) and no stat after the upload is needed.
   */
  sig?: FileSig;
  /** how to open `path` (the output tree's walk that never leaves the dir); default: the path, no symlink */
  open?: () => Promise<RegularFile>;
}

export interface UploadSettings {
  /** smallest part size; raised so the part count stays within maxParts */
  partSize: number;
  maxParts: number;
  /** files at least this large use multipart */
  multipartThreshold: number;
  /** parts of one file in flight */
  partConcurrency: number;
  /** HeadObject after every upload ('all') or only after multipart ones (a PutObject's 200 already carries the server's ETag and checksum verdict) */
  verify: 'multipart' | 'all';
}

export interface UploadOutcome {
  etag: string;
  /** full-object CRC32, base64 (the format of S3's x-amz-checksum-crc32) */
  crc32: string;
  /** 0 for a single PutObject */
  parts: number;
  /** the bytes sent were proven to be `sig`'s version (see UploadTarget.sig) */
  sigChecked: boolean;
}

const MIN_PART = 5 * 1024 * 1024;
const MAX_PART = 5 * 1024 ** 3;

/** Part size for a file: at least `minPart` (and S3's 5 MiB), large enough for `maxParts` parts to hold the file. */
export function partSizeFor(size: number, minPart: number, maxParts: number): number {
  const need = Math.ceil(size / maxParts);
  // round up to a whole MiB: tidy part sizes, and still within maxParts
  const part = Math.max(minPart, MIN_PART, Math.ceil(need / 1024 ** 2) * 1024 ** 2);
  if (part > MAX_PART) throw new Error(`a file of ${size} bytes needs parts over 5 GiB with --max-parts ${maxParts}`);
  return part;
}

// Geospatial types mime-types does not know; the rest come from its database.
const EXTRA_TYPES: Record<string, string> = {
  laz: 'application/vnd.laszip', las: 'application/vnd.las', gpkg: 'application/geopackage+sqlite3',
  tfw: 'text/plain', ply: 'application/ply', b3dm: 'application/octet-stream', pnts: 'application/octet-stream',
};

export function contentTypeFor(path: string): string {
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  return EXTRA_TYPES[ext] ?? (mime.lookup(path) || 'application/octet-stream');
}

export function crc32Base64(crc: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc >>> 0);
  return b.toString('base64');
}

export interface UploadHooks extends MultipartHooks {
  signal?: AbortSignal;
  /** where small-file bodies come from (and go back to) */
  buffers?: BufferPool;
}

/** Multipart from the threshold on (and never for what fits in S3's smallest part). */
export function isMultipart(size: number, s: Pick<UploadSettings, 'multipartThreshold'>): boolean {
  return size >= s.multipartThreshold && size > MIN_PART;
}

export async function uploadFile(c: UploadClients, t: UploadTarget, s: UploadSettings, hooks: UploadHooks = {}): Promise<UploadOutcome> {
  return isMultipart(t.size, s) ? uploadMultipart(c.client, t, s, hooks) : uploadSingle(c, t, s, hooks);
}

async function uploadSingle(c: UploadClients, t: UploadTarget, s: UploadSettings, hooks: UploadHooks): Promise<UploadOutcome> {
  const buf = hooks.buffers ? hooks.buffers.take(t.size) : Buffer.allocUnsafe(t.size);
  try {
    return await putFromBuffer(c, t, s, hooks, buf.subarray(0, t.size));
  } finally {
    hooks.buffers?.give(buf);
  }
}

async function putFromBuffer(c: UploadClients, t: UploadTarget, s: UploadSettings, hooks: UploadHooks, body: Buffer): Promise<UploadOutcome> {
  const local = await LocalRead.open(t.path, t.sig, t.open);
  try {
    await readExactly(local.fh, t.path, body, 0);
    await local.assertUnchanged();
  } finally {
    await local.close();
  }
  const crc = crc32Base64(crc32(body));
  const res = await c.putter.put({ bucket: t.bucket, key: t.key, body, contentType: contentTypeFor(t.key), crc32: crc }, hooks.signal);
  if (res.crc32 && res.crc32 !== crc) throw new VerifyError(landed(t.key, `checksum ${res.crc32}, sent ${crc}`));
  let etag = res.etag ?? '';
  if (s.verify === 'all' || !etag) etag = await verify(c.client, t, 0, crc, hooks.signal);
  return { etag, crc32: crc, parts: 0, sigChecked: t.sig !== undefined };
}

async function uploadMultipart(client: S3Client, t: UploadTarget, s: UploadSettings, hooks: UploadHooks): Promise<UploadOutcome> {
  const partSize = partSizeFor(t.size, s.partSize, s.maxParts);
  const local = await LocalRead.open(t.path, t.sig, t.open);
  let sent: MultipartResult;
  try {
    sent = await putMultipart({ fh: local.fh, size: t.size, path: t.path }, {
      client, bucket: t.bucket, key: t.key, contentType: contentTypeFor(t.key), partSize, concurrency: s.partConcurrency, ...hooks,
      // every byte read (putMultipart's reads are exact), none changed: only then may the parts become an object
      beforeComplete: () => local.assertUnchanged(),
    });
  } finally {
    await local.close();
  }
  const crc = crc32Base64(sent.crc32);
  const etag = await verify(client, t, sent.parts, crc, hooks.signal);
  // the descriptor matched `sig` at open and did not move until the object was made
  return { etag, crc32: crc, parts: sent.parts, sigChecked: t.sig !== undefined };
}

/** HeadObject: the size must match, a multipart ETag must name the part count, a full-object CRC32 (when reported) must match. */
async function verify(client: S3Client, t: UploadTarget, parts: number, crc: string, signal: AbortSignal | undefined): Promise<string> {
  const head = await client.send(new HeadObjectCommand({ Bucket: t.bucket, Key: t.key, ChecksumMode: 'ENABLED' }), { abortSignal: signal });
  if (head.ContentLength !== t.size) throw new VerifyError(landed(t.key, `size ${head.ContentLength}, sent ${t.size}`));
  const etag = head.ETag ?? '';
  const m = /-(\d+)"?$/.exec(etag);
  if (parts > 0 && m && Number(m[1]) !== parts) throw new VerifyError(landed(t.key, `ETag ${etag} names ${m[1]} parts, sent ${parts}`));
  const full = head.ChecksumCRC32 && !head.ChecksumCRC32.includes('-') && head.ChecksumType !== 'COMPOSITE';
  if (full && head.ChecksumCRC32 !== crc) throw new VerifyError(landed(t.key, `checksum ${head.ChecksumCRC32}, sent ${crc}`));
  return etag;
}

/** The object in S3 does not match what was sent. */
function landed(key: string, detail: string): string {
  return `s3 object ${key} does not match the upload: ${detail}`;
}
