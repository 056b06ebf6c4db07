// Small objects, written in one go. A body below SMALL_OBJECT_BYTES is gathered in memory (it is
// small, and at most --download-concurrency of them are in flight; see fetchWhole in
// download.ts), checked there, and only then written: open `.part`, one writev, stamp the mtime
// on the fd, close, rename. A failed check never touches the disk, and the file appears under its
// final name only whole and verified.
// Why not the streaming FileSink for these: many small downloads are CPU-bound, and each file paid
// for a FileHandle, a stream pipeline, per-chunk callbacks and a utimes by path.
// The five system calls run synchronously while the filesystem answers quickly: on a local disk
// they cost less kernel time than a hand-off to the thread pool costs CPU
// (docs/download.md, "Why the code is as it is"). A slow filesystem (network storage, a throttled disk) would stall every
// transfer behind each write, so once writes average more than SLOW_AVERAGE_MS the rest go
// through the thread pool. What a run learnt about its disk lives in its SmallFileWriter.
import { close, closeSync, futimes, futimesSync, open, openSync, rename, renameSync, writev, writevSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { log } from '../log.js';
import { CREATE_NOFOLLOW } from '../util/keys.js';

/** Bodies below this are gathered in memory and written with one call. */
export const SMALL_OBJECT_BYTES = 1024 * 1024;

/**
 * Switch to the thread pool when the moving average of a synchronous write passes this. An
 * average, not single writes: on a loaded machine a write is sometimes descheduled mid-way, and
 * one slow write says nothing about the filesystem.
 */
const SLOW_AVERAGE_MS = 2;

export class SmallFileWriter {
  private averageMs = 0;
  private writes = 0;
  private inPool = false;

  /**
   * Write checked bytes to `part` (opened with O_NOFOLLOW: a symlink planted there is refused),
   * stamp its mtime on the open fd, close it and rename it to `target`.
   */
  async write(part: string, target: string, chunks: Buffer[], length: number, mtime: Date | undefined): Promise<void> {
    if (this.inPool) return writeSmallFileInPool(part, target, chunks, length, mtime);
    const started = performance.now();
    writeSync(part, target, chunks, length, mtime);
    const ms = performance.now() - started;
    this.averageMs = this.writes++ === 0 ? ms : this.averageMs * 0.9 + ms * 0.1;
    if (this.writes >= 20 && this.averageMs > SLOW_AVERAGE_MS) {
      this.inPool = true;
      log.info({ averageMs: Math.round(this.averageMs * 10) / 10 }, `small files take ${this.averageMs.toFixed(1)} ms each to write here; writing them on the thread pool from now on`);
    }
  }
}

function writeSync(part: string, target: string, chunks: Buffer[], length: number, mtime: Date | undefined): void {
  const fd = openSync(part, CREATE_NOFOLLOW, 0o644);
  try {
    let written = 0;
    // writev may write less than asked (rare, e.g. near ENOSPC): finish the rest
    while (written < length) {
      const n = writevSync(fd, written === 0 ? chunks : [Buffer.concat(chunks).subarray(written)], written);
      if (n === 0) throw new Error('write made no progress');
      written += n;
    }
    if (mtime) futimesSync(fd, mtime, mtime);
  } finally {
    closeSync(fd);
  }
  renameSync(part, target);
}

/**
 * As SmallFileWriter.write, through the thread pool. Plain callback fs calls: no FileHandle object and
 * no promise per step.
 */
export function writeSmallFileInPool(part: string, target: string, chunks: Buffer[], length: number, mtime: Date | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    open(part, CREATE_NOFOLLOW, 0o644, (err, fd) => {
      if (err) return reject(err);
      const fail = (e: Error) => close(fd, () => reject(e));
      const stamp = () => {
        if (!mtime) return closeAndRename();
        futimes(fd, mtime, mtime, (e) => (e ? fail(e) : closeAndRename()));
      };
      const closeAndRename = () => close(fd, (e) => (e ? reject(e) : rename(part, target, (e2) => (e2 ? reject(e2) : resolve()))));
      let written = 0;
      const write = (bufs: Buffer[]) => writev(fd, bufs, written, (e, n) => {
        if (e) return fail(e);
        // writev may write less than asked (rare, e.g. near ENOSPC): finish the rest
        if (n === 0) return fail(new Error('write made no progress'));
        written += n;
        if (written < length) write([Buffer.concat(chunks).subarray(written)]);
        else stamp();
      });
      // an object emptied between the listing and the GET: an empty file, as the streaming path writes
      if (length === 0) stamp();
      else write(chunks);
    });
  });
}
