// One file into the checkpoint store, from one open descriptor: opened with O_NOFOLLOW (a
// symlink swapped in is refused), checked against the boundary scan (same inode, size, mtime,
// ctime), hashed, and then reused (the object is already stored), copied server-side (it is a
// streamed product whose object in the output prefix has these bytes), or sent.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { CopyObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { partSizeFor } from '../upload/file-upload.js';
import { putMultipart } from '../upload/multipart.js';
import { objectKey } from './layout.js';
import { unchanged, type ScannedFile } from './scan.js';

/** Bodies below this are read into memory once, hashed and sent from there; larger ones are read twice. */
export const SMALL_FILE_BYTES = 1024 * 1024;
/** CopyObject's limit; larger products are sent like any other file */
const MAX_COPY_BYTES = 5 * 1024 ** 3;
const READ_BYTES = 1024 * 1024;
const MAX_PARTS = 10_000;

export interface Store {
  client: S3Client;
  bucket: string;
  prefix: string;
  /** objects known to be stored (sha256 -> size) */
  known: Map<string, number>;
  partSize: number;
  partConcurrency: number;
  signal?: AbortSignal;
}

/** The file is no longer what the boundary scan saw: the checkpoint cannot be committed. */
export class ChangedError extends Error {
  constructor(readonly rel: string, why: string) {
    super(`${rel} ${why}`);
    this.name = 'ChangedError';
  }
}

export type How = 'reused' | 'copied' | 'sent';

export interface Captured {
  sha256: string;
  how: How;
}

/** Where a streamed product's object is, when the output prefix holds exactly this file. */
export type ProductSource = (f: ScannedFile) => Promise<{ bucket: string; key: string } | undefined>;

export async function captureFile(store: Store, root: string, f: ScannedFile, product: ProductSource | undefined): Promise<Captured> {
  let fh: FileHandle;
  try {
    fh = await open(join(root, ...f.rel.split('/')), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP') throw new ChangedError(f.rel, code === 'ENOENT' ? 'was removed' : 'became a symlink');
    throw err;
  }
  try {
    if (!unchanged(f, await fh.stat({ bigint: true }))) throw new ChangedError(f.rel, 'changed after the boundary scan');
    const { sha256, body } = await hashFile(fh, f);
    if (store.known.has(sha256)) return { sha256, how: 'reused' };
    const key = objectKey(store.prefix, sha256);
    const from = f.size <= MAX_COPY_BYTES ? await product?.(f) : undefined;
    if (from) {
      await store.client.send(new CopyObjectCommand({
        Bucket: store.bucket, Key: key, CopySource: `${from.bucket}/${encodeURIComponent(from.key).replace(/%2F/g, '/')}`,
      }), { abortSignal: store.signal });
      store.known.set(sha256, f.size);
      return { sha256, how: 'copied' };
    }
    if (body) {
      await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: body, ContentLength: f.size }), { abortSignal: store.signal });
    } else {
      // the object is named by its content: it must not be made if the file moved on since the hash
      await putMultipart({ fh, size: f.size, path: f.rel }, {
        client: store.client, bucket: store.bucket, key, partSize: partSizeFor(f.size, store.partSize, MAX_PARTS),
        concurrency: store.partConcurrency, signal: store.signal,
        beforeComplete: async () => {
          if (!unchanged(f, await fh.stat({ bigint: true }))) throw new ChangedError(f.rel, 'changed while it was sent');
        },
      });
    }
    store.known.set(sha256, f.size);
    return { sha256, how: 'sent' };
  } finally {
    await fh.close();
  }
}

/** SHA-256 of exactly `f.size` bytes; a small file's bytes are kept for the upload. */
async function hashFile(fh: FileHandle, f: ScannedFile): Promise<{ sha256: string; body?: Buffer }> {
  const h = createHash('sha256');
  const small = f.size < SMALL_FILE_BYTES;
  const buf = Buffer.allocUnsafe(small ? f.size : READ_BYTES);
  let pos = 0;
  while (pos < f.size) {
    const want = Math.min(buf.length - (small ? pos : 0), f.size - pos);
    const { bytesRead } = await fh.read(buf, small ? pos : 0, want, pos);
    if (bytesRead === 0) throw new ChangedError(f.rel, `shrank while it was read (${pos} of ${f.size} bytes)`);
    if (!small) h.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  if (small) h.update(buf);
  return { sha256: h.digest('hex'), ...(small ? { body: buf } : {}) };
}
