// Objects of at least --range-threshold: parallel byte ranges into a preallocated part file;
// finished ranges are journaled next to it (`<part>.ranges`, in the state dir) so a killed run resumes with
// Range requests for only the missing ranges.
import { lstat, open, readFile, rm } from 'node:fs/promises';
import pLimit from 'p-limit';
import { log } from '../log.js';
import { APPEND_NOFOLLOW, CREATE_NOFOLLOW, UnsafePathError, WRITE_NOFOLLOW } from '../util/keys.js';
import { VerifyError } from '../s3/errors.js';
import { withRetries } from '../s3/retry.js';
import { md5File, plainMd5 } from '../s3/verify.js';
import type { FetchContext, FetchResult, ObjectMeta } from './object.js';
import { OffsetWriter } from './offset-writer.js';
import { finish, partPath } from './part-file.js';

interface RangeJournal {
  etag: string | undefined;
  size: number;
  rangeSize: number;
}

export async function fetchRanged(ctx: FetchContext, listed: ObjectMeta, target: string): Promise<FetchResult> {
  const part = partPath(ctx.tmpDir, target);
  const journal = `${part}.ranges`;
  let meta = listed;
  return withRetries(ctx.retry, meta.key, async (attempt) => {
    // a retry may be because the object changed under us (412 on If-Match): look again
    if (attempt > 0) meta = await headObject(ctx, meta);
    const want: RangeJournal = { etag: meta.etag, size: meta.size, rangeSize: ctx.rangeSize };
    const done = await loadJournal(journal, part, want);
    if (done.size === 0) {
      const fh = await open(part, CREATE_NOFOLLOW, 0o644);
      try { await ctx.disk.preallocator.preallocate(fh, meta.size); } finally { await fh.close(); }
      await writeNoFollow(journal, CREATE_NOFOLLOW, `${JSON.stringify(want)}\n`);
    }
    const count = Math.ceil(meta.size / ctx.rangeSize);
    const rangeLen = (i: number) => Math.min(meta.size, (i + 1) * ctx.rangeSize) - i * ctx.rangeSize;
    let resumedBytes = 0;
    for (const i of done) resumedBytes += rangeLen(i);
    if (done.size > 0) log.info({ key: meta.key, rangesDone: done.size, ranges: count, resumedBytes }, `resuming ${meta.key}: ${done.size} of ${count} ranges already on disk`);

    // rejectOnClear: ranges dropped after a failure must settle, or awaiting them hangs
    const limit = pLimit({ concurrency: ctx.rangeConcurrency, rejectOnClear: true });
    let received = 0;
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      if (done.has(i)) continue;
      jobs.push(limit(() => withRetries(ctx.retry, `${meta.key} (range ${i + 1}/${count})`, async () => {
        // (not `received += await ...`: that reads `received` before the await and loses updates)
        const n = await fetchRange(ctx, meta, part, i * ctx.rangeSize, rangeLen(i));
        received += n;
        await writeNoFollow(journal, APPEND_NOFOLLOW, `${i}\n`);
      })));
    }
    try {
      await Promise.all(jobs);
    } catch (err) {
      limit.clearQueue();
      await Promise.allSettled(jobs);
      throw err;
    }

    const st = await lstat(part);
    if (st.size !== meta.size) throw await restart(journal, part, new VerifyError(`part file is ${st.size} bytes, object is ${meta.size}`));
    const md5 = plainMd5(meta.etag);
    if (md5) {
      const got = await md5File(part);
      if (got !== md5) {
        ctx.onBytes(-received);
        throw await restart(journal, part, new VerifyError(`MD5 mismatch: file hashes to ${got}, ETag says ${md5}`));
      }
    }
    // journal first: a crash between the two re-fetches this object instead of leaving a stray journal
    await rm(journal, { force: true });
    await finish(part, target, meta.lastModified);
    return { bytes: received, resumedBytes, verified: md5 ? 'md5' : 'size' };
  });
}

/** One byte range into its place in the part file; returns the bytes written. */
async function fetchRange(ctx: FetchContext, meta: ObjectMeta, part: string, start: number, length: number): Promise<number> {
  const end = start + length - 1;
  const fh = await open(part, WRITE_NOFOLLOW);
  const writer = new OffsetWriter(fh.fd, start, { onBytes: ctx.onBytes });
  try {
    await ctx.getter.get({ bucket: meta.bucket, key: meta.key, range: `bytes=${start}-${end}`, ifMatch: meta.etag }, (h) => {
      ctx.retry.watch.answered();
      // a server that ignores Range answers 200 with the whole body: never write that at an offset
      if (!h.contentRange?.startsWith(`bytes ${start}-${end}/`)) throw new VerifyError(`asked for bytes ${start}-${end}, got Content-Range "${h.contentRange ?? 'none'}"`);
      return (piece) => {
        if (writer.bytes + piece.length > length) throw new VerifyError(`long range: more than the ${length} bytes asked for at offset ${start}`);
        writer.write(piece);
      };
    }, ctx.retry.signal);
    writer.flush();
    if (writer.bytes !== length) throw new VerifyError(`short range: got ${writer.bytes} of ${length} bytes at offset ${start}`);
    await fh.close();
    return writer.bytes;
  } catch (err) {
    ctx.onBytes(-writer.bytes);
    await fh.close().catch(() => {});
    throw err;
  }
}

/** Write (or append) text to a journal without ever following a symlink planted at its name. */
async function writeNoFollow(path: string, flags: number, text: string): Promise<void> {
  const fh = await open(path, flags, 0o644);
  try {
    await fh.write(text);
  } finally {
    await fh.close();
  }
}

/** Ranges already complete in an existing part file for the same object version, else none. */
async function loadJournal(journal: string, part: string, want: RangeJournal): Promise<Set<number>> {
  const done = new Set<number>();
  let text: string;
  try {
    const [j, p] = await Promise.all([lstat(journal), lstat(part)]);
    if (j.isSymbolicLink() || p.isSymbolicLink()) throw new UnsafePathError(part, 'a symlink is in the way of the part file or its journal');
    if (!j.isFile() || !p.isFile() || p.size !== want.size) return done;
    text = await readFile(journal, 'utf8');
  } catch (err) {
    if (err instanceof UnsafePathError) throw err;
    return done;
  }
  const [header, ...lines] = text.split('\n');
  try {
    const h = JSON.parse(header ?? '') as RangeJournal;
    if (h.etag !== want.etag || h.size !== want.size || h.rangeSize !== want.rangeSize) return done;
  } catch {
    return done;
  }
  // only newline-terminated lines count: the text after the last "\n" may be cut short by a crash
  for (const l of lines.slice(0, -1)) if (/^\d+$/.test(l)) done.add(Number(l));
  return done;
}

async function restart(journal: string, part: string, err: Error): Promise<Error> {
  await rm(journal, { force: true });
  await rm(part, { force: true });
  return err;
}

async function headObject(ctx: FetchContext, meta: ObjectMeta): Promise<ObjectMeta> {
  const h = await ctx.getter.head(meta.bucket, meta.key, ctx.retry.signal);
  ctx.retry.watch.answered();
  return { ...meta, size: h.contentLength ?? meta.size, etag: h.etag, lastModified: h.lastModified };
}
