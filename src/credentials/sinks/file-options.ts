// How every hand-off file is written: atomically (temp file, fsync, rename, fsync dir), with
// the configured mode and owner. Readers see the old file or the new one, never a partial one.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Config } from '../../config.js';
import { log } from '../../log.js';
import { atomicWrite, type WriteOptions } from '../../util/atomic-write.js';

export type FileOptions = WriteOptions;

export function fileOptions(config: Pick<Config, 'fileMode' | 'fileUid' | 'fileGid'>): FileOptions {
  return { mode: config.fileMode, uid: config.fileUid, gid: config.fileGid };
}

/** A credentials or config file holds a few profiles; anything larger is not one the sidecar wrote. */
const MAX_KEPT_BYTES = 1024 * 1024;
/** O_NONBLOCK: a FIFO planted at the name opens at once instead of waiting for a writer. */
const READ_NOFOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Rewrite a file from its current text (empty when it does not exist yet). The hand-off dir may
 * be writable by the job: what is kept is read only from a regular file with one link, opened
 * without following a symlink, and only up to a size cap. Anything else planted at the name (a
 * symlink or hard link to the sidecar's token, a FIFO, a device) is not read: the file is written
 * afresh, and the rename replaces the planted name itself.
 */
export async function rewrite(path: string, edit: (old: string) => string, opts: FileOptions): Promise<void> {
  await atomicWrite(path, edit(await readKept(path)), opts);
}

async function readKept(path: string): Promise<string> {
  let fh;
  try {
    fh = await open(path, READ_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return '';
    if (code === 'ELOOP') return refused(path, 'it is a symlink');
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return refused(path, 'it is not a regular file');
    if (st.nlink !== 1) return refused(path, `it has ${st.nlink} hard links`);
    if (st.size > MAX_KEPT_BYTES) return refused(path, `it is larger than ${MAX_KEPT_BYTES} bytes`);
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await fh.read(buf, 0, st.size, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

function refused(path: string, why: string): string {
  log.warn({ path }, `not keeping the other profiles of ${path}: ${why} (something other than the sidecar put it there); writing it afresh`);
  return '';
}
