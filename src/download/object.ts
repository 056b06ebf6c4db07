// One object to one file. The body goes piece by piece into a part file (part-file.ts) as it arrives (never
// buffered whole, except objects under SMALL_OBJECT_BYTES), is checked (length always, MD5 when
// the ETag is one, the store's checksum when it has one), stamped with the object's LastModified
// and only then renamed into place: a reader never sees a partial file, and a re-run recognises a
// finished one by size + mtime without reading it.
// Objects of at least --range-threshold are fetched as parallel byte ranges (ranged.ts).
import { createHash, hash as oneShotHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { lstat, open, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CREATE_NOFOLLOW } from '../util/keys.js';
import { VerifyError } from '../s3/errors.js';
import { withRetries, type WatchedRetry } from '../s3/retry.js';
import { FileSink, type FileSinkOptions } from './file-sink.js';
import type { ObjectGetter, ObjectHead } from '../s3/object-get.js';
import type { BufferPool } from '../util/buffer-pool.js';
import { OffsetWriter } from './offset-writer.js';
import type { Md5 } from '../s3/md5/offload.js';
import { SMALL_OBJECT_BYTES, SmallFileWriter } from './small-file.js';
import { Preallocator } from './preallocate.js';
import { finish, partPath } from './part-file.js';
import { fetchRanged } from './ranged.js';
import { plainMd5 } from '../s3/verify.js';
import { copyBytes } from '../util/copy-bytes.js';

export interface ObjectMeta {
  bucket: string;
  key: string;
  size: number;
  etag?: string | undefined;
  lastModified?: Date | undefined;
  checksumAlgorithm?: string | undefined;
}

export interface FetchContext {
  /** for GETs that need the SDK's checksum validation; created (and the SDK loaded) on first use */
  sdk: () => Promise<S3Client>;
  /** every other GET and HEAD (see object-get.ts for why) */
  getter: ObjectGetter;
  /** bodies below SMALL_OBJECT_BYTES are gathered in these (a fresh buffer per object doubled the RSS) */
  buffers: BufferPool;
  /** what this run learnt about the local disk: how fast small writes are, whether fallocate(1) is there */
  disk: { smallFiles: SmallFileWriter; preallocator: Preallocator };
  retry: WatchedRetry;
  rangeThreshold: number;
  rangeSize: number;
  rangeConcurrency: number;
  /** the state dir's tmp/, where part files and range journals live (part-file.ts) */
  tmpDir: string;
  /** bytes received (negative: a failed attempt's bytes thrown away) */
  onBytes(n: number): void;
}

/** A download run's own: nothing learnt about one disk carries over to the next run (or test). */
export function localDisk(): FetchContext['disk'] {
  return { smallFiles: new SmallFileWriter(), preallocator: new Preallocator() };
}

export interface FetchResult {
  /** bytes received over the network for this object (the successful attempt) */
  bytes: number;
  /** bytes a resumed part already had on disk */
  resumedBytes: number;
  verified: 'md5' | 'checksum' | 'size';
}

/** True when `target` is a regular file with the object's size and LastModified (to the second). */
export async function isUpToDate(target: string, meta: Pick<ObjectMeta, 'size' | 'lastModified'>): Promise<boolean> {
  try {
    const st = await lstat(target);
    return st.isFile() && st.size === meta.size && meta.lastModified !== undefined &&
      Math.floor(st.mtimeMs / 1000) === Math.floor(meta.lastModified.getTime() / 1000);
  } catch {
    return false;
  }
}

/** Fetched as parallel byte ranges (the caller limits how many such objects run at once). */
export function isLarge(ctx: Pick<FetchContext, 'rangeThreshold'>, meta: Pick<ObjectMeta, 'size'>): boolean {
  return meta.size >= ctx.rangeThreshold;
}

export async function fetchObject(ctx: FetchContext, meta: ObjectMeta, target: string): Promise<FetchResult> {
  if (meta.size === 0) {
    await writeEmpty(partPath(ctx.tmpDir, target), target, meta.lastModified);
    return { bytes: 0, resumedBytes: 0, verified: 'size' };
  }
  if (isLarge(ctx, meta)) return fetchRanged(ctx, meta, target);
  try {
    // a copy: an attempt that finds the object grown past the small-object size corrects it for the next
    const current = { ...meta };
    return await withRetries(ctx.retry, meta.key, () => fetchWhole(ctx, current, target));
  } catch (err) {
    // a whole-object part cannot be resumed: do not leave it behind
    await rm(partPath(ctx.tmpDir, target), { force: true }).catch(() => {});
    throw err;
  }
}

async function writeEmpty(part: string, target: string, lastModified: Date | undefined): Promise<void> {
  await (await open(part, CREATE_NOFOLLOW, 0o644)).close();
  await finish(part, target, lastModified);
}

async function fetchWhole(ctx: FetchContext, meta: ObjectMeta, target: string): Promise<FetchResult> {
  // ask the store for its checksum only when there is one and no MD5 to check instead
  if (meta.checksumAlgorithm !== undefined && plainMd5(meta.etag) === undefined) return fetchWithChecksum(ctx, meta, target);
  const part = partPath(ctx.tmpDir, target);
  const mtime = (head: ObjectHead) => meta.lastModified ?? head.lastModified;
  if (meta.size < SMALL_OBJECT_BYTES) {
    // gathered in memory (a pooled buffer), checked there, then written whole (small-file.ts);
    // progress counts it once it is in place
    let body: Buffer | undefined;
    let bytes = 0;
    try {
      const head = await ctx.getter.get({ bucket: meta.bucket, key: meta.key, size: meta.size }, (h) => {
        ctx.retry.watch.answered();
        const expected = h.contentLength ?? meta.size;
        if (expected >= SMALL_OBJECT_BYTES) {
          meta.size = expected;
          throw new VerifyError(`the object is now ${expected} bytes; it was listed at fewer than ${SMALL_OBJECT_BYTES}`);
        }
        const into = body = ctx.buffers.take(expected);
        return (piece) => {
          if (bytes + piece.length > expected) throw new VerifyError(`long body: more than the ${expected} bytes announced`);
          bytes += copyBytes(piece, into, bytes);
        };
      }, ctx.retry.signal);
      const data = body ? body.subarray(0, bytes) : Buffer.alloc(0);
      const md5 = plainMd5(head.etag);
      checkBody(bytes, head.contentLength ?? meta.size, md5, () => md5 && oneShotHash('md5', data, 'hex'));
      await ctx.disk.smallFiles.write(part, target, [data], bytes, mtime(head));
      ctx.onBytes(bytes);
      return { bytes, resumedBytes: 0, verified: md5 ? 'md5' : 'size' };
    } finally {
      if (body) ctx.buffers.give(body);
    }
  }
  const fh = await open(part, CREATE_NOFOLLOW, 0o644);
  let writer: OffsetWriter | undefined;
  // hashed off the event loop where it can be (md5/offload.ts); dropped if the attempt fails
  let hash: Md5 | undefined;
  try {
    const head = await ctx.getter.get({ bucket: meta.bucket, key: meta.key, size: meta.size }, (h) => {
      ctx.retry.watch.answered();
      hash = plainMd5(h.etag) ? ctx.getter.md5.md5() : undefined;
      const w = writer = new OffsetWriter(fh.fd, 0, { hash, onBytes: ctx.onBytes });
      return (piece) => w.write(piece);
    }, ctx.retry.signal);
    writer!.flush();
    const expectedMd5 = plainMd5(head.etag);
    const digesting = hash?.digest();
    hash = undefined;
    const got = await digesting;
    checkBody(writer!.bytes, head.contentLength ?? meta.size, expectedMd5, () => got);
    await fh.close();
    await finish(part, target, mtime(head));
    return { bytes: writer!.bytes, resumedBytes: 0, verified: expectedMd5 ? 'md5' : 'size' };
  } catch (err) {
    hash?.drop();
    ctx.onBytes(-(writer?.bytes ?? 0));
    await fh.close().catch(() => {});
    throw err;
  }
}

/** GET through the SDK with ChecksumMode: it validates the store's CRC/SHA checksum as the body streams. */
async function fetchWithChecksum(ctx: FetchContext, meta: ObjectMeta, target: string): Promise<FetchResult> {
  const [client, { GetObjectCommand }] = await Promise.all([ctx.sdk(), import('@aws-sdk/client-s3')]);
  const res = await client.send(new GetObjectCommand({ Bucket: meta.bucket, Key: meta.key, ChecksumMode: 'ENABLED' }), { abortSignal: ctx.retry.signal });
  ctx.retry.watch.answered();
  const checksum = Boolean(res.ChecksumCRC32 ?? res.ChecksumCRC32C ?? res.ChecksumSHA1 ?? res.ChecksumSHA256 ?? res.ChecksumCRC64NVME);
  const expected = res.ContentLength ?? meta.size;
  const md5 = plainMd5(res.ETag);
  const part = partPath(ctx.tmpDir, target);
  let received = 0;
  const onBytes = (n: number) => { received += n; ctx.onBytes(n); };
  try {
    const sink = await streamToFile(res.Body as Readable, part, CREATE_NOFOLLOW, { hash: md5 ? createHash('md5') : undefined, onBytes });
    checkBody(sink.bytes, expected, md5, () => sink.digest());
  } catch (err) {
    ctx.onBytes(-received);
    throw err;
  }
  await finish(part, target, meta.lastModified ?? res.LastModified);
  return { bytes: received, resumedBytes: 0, verified: md5 ? 'md5' : checksum ? 'checksum' : 'size' };
}

/** Throws a VerifyError (retried) unless the body has the announced length and, when there is one, the ETag's MD5. */
function checkBody(bytes: number, expected: number, md5: string | undefined, digest: () => string | undefined): void {
  if (bytes !== expected) throw new VerifyError(`short body: got ${bytes} of ${expected} bytes`);
  if (md5) {
    const got = digest();
    if (got !== md5) throw new VerifyError(`MD5 mismatch: body hashes to ${got}, ETag says ${md5}`);
  }
}

/**
 * Pipe a body into a file opened with numeric flags (O_NOFOLLOW: a symlink planted at the part
 * name is refused, never written through). The handle closes with the sink.
 */
export async function streamToFile(body: Readable, path: string, flags: number, opts: FileSinkOptions = {}): Promise<FileSink> {
  let fh;
  try {
    fh = await open(path, flags, 0o644);
  } catch (err) {
    body.destroy();
    throw err;
  }
  const sink = new FileSink(fh, opts);
  await pipeline(body, sink);
  return sink;
}
