// Upload one local file to one key, and prove it landed.
// - Small files: one lean signed PUT (object-put.ts) from a Buffer; we compute the CRC32 once
//   and send it, and the server (AWS, MinIO) verifies it.
// - Large files: @aws-sdk/lib-storage Upload from a bounded file stream (exactly the size we
//   stat'ed), parts sized to stay within --max-parts; the SDK sends a CRC32 per part.
// - Afterwards a multipart object is checked with HeadObject (size, part count, checksum when
//   the store reports one): Ceph RGW answers CompleteMultipartUpload with an empty ETag.
// - A failed or cancelled multipart upload is aborted (lib-storage >= 3.1169 does this itself;
//   we make sure its in-flight requests are cut first, so nothing is left to strand parts).
// - Bytes are read, hashed and sent from one descriptor, proven unchanged before the object is
//   made (local-read.ts): a file rewritten meanwhile leaves no torn object.
import type { FileHandle } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import mime from 'mime-types';
import { log } from '../log.js';
import type { BufferPool } from '../util/buffer-pool.js';
import type { ObjectPutter } from '../s3/object-put.js';
import { VerifyError } from '../s3/errors.js';
import type { FileSig } from './output-tree.js';
import { FileChangedError, guardedClient, LocalFileError, LocalRead, type MultipartHooks } from './local-read.js';

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
  open?: () => Promise<FileHandle>;
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
  /** multipart progress, for debug logs */
  onPart?: (part: number, loaded: number, total: number) => void;
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
    let off = 0;
    while (off < t.size) {
      const { bytesRead } = await local.fh.read(body, off, t.size - off, off).catch((err: NodeJS.ErrnoException) => {
        throw new LocalFileError(t.path, err);
      });
      if (bytesRead === 0) throw new FileChangedError(t.path, `${off} of ${t.size} bytes left`);
      off += bytesRead;
    }
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

/** Counts and CRCs the bytes on their way from the file to lib-storage (one pass, no copy). */
class Crc32Tap extends Transform {
  crc = 0;
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.crc = crc32(chunk, this.crc);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

async function uploadMultipart(client: S3Client, t: UploadTarget, s: UploadSettings, hooks: UploadHooks): Promise<UploadOutcome> {
  const partSize = partSizeFor(t.size, s.partSize, s.maxParts);
  const local = await LocalRead.open(t.path, t.sig, t.open);
  // autoClose off: the descriptor outlives the stream, for the fstat before the object is made
  const file = local.fh.createReadStream({ start: 0, end: t.size - 1, highWaterMark: 1024 * 1024, autoClose: false });
  const tap = new Crc32Tap();
  file.on('error', (err) => tap.destroy(new LocalFileError(t.path, err)));
  file.pipe(tap);
  // Destroy the tap with the reason, not only the file: lib-storage may be waiting on the tap
  // for the next part, and a tap that just stops would leave done() pending forever.
  const onAbort = () => {
    file.destroy();
    tap.destroy(hooks.signal?.reason instanceof Error ? hooks.signal.reason : new Error('upload cancelled'));
  };
  hooks.signal?.addEventListener('abort', onAbort, { once: true });

  const upload = new Upload({
    client: guardedClient(client, hooks.signal, async () => {
      // every byte read, none changed: only then may the parts become an object
      if (tap.bytes !== t.size) throw new FileChangedError(t.path, `read ${tap.bytes} of ${t.size} bytes`);
      await local.assertUnchanged();
    }, hooks),
    params: { Bucket: t.bucket, Key: t.key, Body: tap, ContentLength: t.size, ContentType: contentTypeFor(t.key) },
    partSize,
    queueSize: s.partConcurrency,
    leavePartsOnError: false,
  });
  if (hooks.onPart) {
    const onPart = hooks.onPart;
    upload.on('httpUploadProgress', (p) => onPart(p.part ?? 0, p.loaded ?? 0, p.total ?? t.size));
  }
  try {
    await upload.done();
  } catch (err) {
    // lib-storage aborted the upload before rejecting; if that abort itself failed (server
    // unreachable), the session's sweep of incomplete uploads retries it later.
    if (upload.uploadId) log.debug({ key: t.key, uploadId: upload.uploadId }, 'multipart upload failed and was aborted');
    if (hooks.signal?.aborted) throw hooks.signal.reason ?? err;
    // the file ended early (truncated): its own error, whichever check of lib-storage or ours saw it first
    if (tap.bytes < t.size && file.readableEnded) throw new FileChangedError(t.path, `read ${tap.bytes} of ${t.size} bytes`);
    throw err;
  } finally {
    hooks.signal?.removeEventListener('abort', onAbort);
    file.destroy();
    await local.close();
  }
  if (tap.bytes !== t.size) throw new FileChangedError(t.path, `read ${tap.bytes} of ${t.size} bytes`);
  const crc = crc32Base64(tap.crc);
  const parts = Math.ceil(t.size / partSize);
  const etag = await verify(client, t, parts, crc, hooks.signal);
  // the descriptor matched `sig` at open and did not move until the object was made
  return { etag, crc32: crc, parts, sigChecked: t.sig !== undefined };
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
