// One file to one key as a multipart upload, read straight from an open descriptor.
// Each part is read at its offset into one of `concurrency + 1` buffers that are reused for the
// whole file (and come from the uploader's pool), so the memory a file holds is exactly its
// reservation and no part leaves garbage behind; a file that fits in one part goes as one
// PutObject. lib-storage's Upload re-slices a stream instead: every part is copied once and both
// copies wait for V8's next collection of external memory (docs/upload.md, "Large files").
// Kept from lib-storage: the CRC32 per part (the SDK computes it when the store takes checksums),
// part ETags and checksums echoed into CompleteMultipartUpload, an abort of the upload on any
// failure. Added: a check before the object is made (`beforeComplete`), the UploadId reported
// before any part goes out and when it is no longer anyone's to clean up, and one abort signal
// that cuts the parts in flight at once.
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import {
  AbortMultipartUploadCommand, ChecksumAlgorithm, CompleteMultipartUploadCommand, CreateMultipartUploadCommand,
  PutObjectCommand, UploadPartCommand, type CompletedPart, type S3Client,
} from '@aws-sdk/client-s3';
import { log } from '../log.js';
import { errorCode } from '../s3/errors.js';
import { BufferPool } from '../util/buffer-pool.js';
import { readExactly } from './local-read.js';

export interface MultipartHooks {
  /** a multipart upload was started: resolved before any part goes out */
  onStarted?: (uploadId: string, key: string) => Promise<void>;
  /** completed or aborted: no longer anyone's to clean up */
  onEnded?: (uploadId: string) => void;
  /** a part landed: bytes of the file sent so far */
  onPart?: (part: number, loaded: number, total: number) => void;
}

export interface MultipartRequest extends MultipartHooks {
  client: S3Client;
  bucket: string;
  key: string;
  contentType?: string;
  /** every part but the last has this size */
  partSize: number;
  /** parts in flight at once */
  concurrency: number;
  signal?: AbortSignal;
  /** where part buffers come from and go back to */
  buffers?: BufferPool;
  /** after the last part, before CompleteMultipartUpload: throw and the upload is aborted instead */
  beforeComplete?: () => Promise<void>;
}

/** The bytes to send: the first `size` bytes of `fh` (a file that ends sooner fails the upload). */
export interface MultipartSource {
  fh: FileHandle;
  size: number;
  /** for errors */
  path: string;
}

export interface MultipartResult {
  /** 0: it fit in one part and went as one PutObject */
  parts: number;
  /** CRC32 of all `size` bytes, in order */
  crc32: number;
}

/** The most part buffers one upload holds: what the uploader reserves of its memory budget. */
export function multipartMemory(size: number, partSize: number, concurrency: number): number {
  return BufferPool.capacityFor(partSize) * Math.min(Math.ceil(size / partSize), concurrency + 1);
}

export async function putMultipart(src: MultipartSource, req: MultipartRequest): Promise<MultipartResult> {
  const { client, bucket, key, partSize } = req;
  const parts = Math.max(1, Math.ceil(src.size / partSize));
  const checksums = (await client.config.requestChecksumCalculation()) === 'WHEN_SUPPORTED';
  // cut the parts in flight on the caller's abort or on the first failure
  const cut = new AbortController();
  const onAbort = () => cut.abort(req.signal?.reason);
  if (req.signal?.aborted) throw req.signal.reason;
  req.signal?.addEventListener('abort', onAbort, { once: true });
  const opts = { abortSignal: cut.signal };

  let uploadId: string | undefined;
  const buffers: Buffer[] = [];
  try {
    if (parts === 1) return await putWhole(src, req, checksums, take(req.buffers, partSize, buffers));
    const created = await client.send(new CreateMultipartUploadCommand({
      Bucket: bucket, Key: key, ContentType: req.contentType, ...(checksums ? { ChecksumAlgorithm: ChecksumAlgorithm.CRC32 } : {}),
    }), opts);
    uploadId = created.UploadId;
    if (!uploadId) throw new Error(`CreateMultipartUpload for ${key} returned no UploadId`);
    await req.onStarted?.(uploadId, key);
    const id = uploadId;

    const done: CompletedPart[] = [];
    const free: Buffer[] = [];
    const inFlight = new Set<Promise<void>>();
    let failure: { err: unknown } | undefined;
    let crc = 0;
    let sent = 0;
    const fail = (err: unknown) => {
      failure ??= { err };
      cut.abort(err);
    };
    const send = async (n: number, body: Buffer) => {
      const out = await client.send(new UploadPartCommand({
        Bucket: bucket, Key: key, UploadId: id, PartNumber: n, Body: body, ContentLength: body.length,
        ...(checksums ? { ChecksumAlgorithm: ChecksumAlgorithm.CRC32 } : {}),
      }), opts);
      if (!out.ETag) throw new Error(`UploadPart ${n} of ${key} returned no ETag`);
      done.push({ PartNumber: n, ETag: out.ETag, ...(out.ChecksumCRC32 ? { ChecksumCRC32: out.ChecksumCRC32 } : {}) });
      sent += body.length;
      req.onPart?.(n, sent, src.size);
    };

    for (let n = 1; n <= parts && !failure; n++) {
      // the next part is read while at most `concurrency` are sent: a buffer of those that came
      // back, or a new one (so at most concurrency + 1)
      const buf = free.pop() ?? take(req.buffers, partSize, buffers);
      const offset = (n - 1) * partSize;
      const body = buf.subarray(0, Math.min(partSize, src.size - offset));
      try {
        await readExactly(src.fh, src.path, body, offset);
      } catch (err) {
        fail(err);
        break;
      }
      crc = crc32(body, crc);
      while (inFlight.size >= req.concurrency && !failure) await Promise.race(inFlight);
      if (failure) break;
      const p: Promise<void> = send(n, body).catch(fail).finally(() => {
        inFlight.delete(p);
        free.push(buf);
      });
      inFlight.add(p);
    }
    await Promise.allSettled(inFlight);
    if (failure) throw failure.err;
    if (req.signal?.aborted) throw req.signal.reason;

    await req.beforeComplete?.();
    done.sort((a, b) => a.PartNumber! - b.PartNumber!);
    await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id, MultipartUpload: { Parts: done } }), opts);
    uploadId = undefined;
    req.onEnded?.(id);
    return { parts, crc32: crc };
  } catch (err) {
    if (uploadId) await abortUpload(req, uploadId);
    throw req.signal?.aborted ? req.signal.reason : err;
  } finally {
    req.signal?.removeEventListener('abort', onAbort);
    for (const b of buffers) req.buffers?.give(b);
  }
}

/** What fits in one part goes as one PutObject (three requests would buy nothing). */
async function putWhole(src: MultipartSource, req: MultipartRequest, checksums: boolean, buf: Buffer): Promise<MultipartResult> {
  const body = buf.subarray(0, src.size);
  await readExactly(src.fh, src.path, body, 0);
  await req.beforeComplete?.();
  await req.client.send(new PutObjectCommand({
    Bucket: req.bucket, Key: req.key, Body: body, ContentLength: body.length, ContentType: req.contentType,
    ...(checksums ? { ChecksumAlgorithm: ChecksumAlgorithm.CRC32 } : {}),
  }), { abortSignal: req.signal });
  req.onPart?.(1, body.length, src.size);
  return { parts: 0, crc32: crc32(body) };
}

function take(pool: BufferPool | undefined, size: number, owned: Buffer[]): Buffer {
  const b = pool ? pool.take(size) : Buffer.allocUnsafeSlow(size);
  owned.push(b);
  return b;
}

/**
 * AbortMultipartUpload, sent even after a cancel (no abort signal). If it fails (the store is
 * unreachable) the upload stays journaled and the session's sweep of incomplete uploads retries it.
 */
async function abortUpload(req: MultipartRequest, uploadId: string): Promise<void> {
  try {
    await req.client.send(new AbortMultipartUploadCommand({ Bucket: req.bucket, Key: req.key, UploadId: uploadId }));
    req.onEnded?.(uploadId);
  } catch (err) {
    if (errorCode(err) === 'NoSuchUpload') return void req.onEnded?.(uploadId);
    log.debug({ key: req.key, uploadId, err: (err as Error).message }, 'could not abort the multipart upload; the sweep will');
  }
}
