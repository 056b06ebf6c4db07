// How every hand-off file is written: atomically (temp file, fsync, rename, fsync dir), with
// the configured mode and owner. Readers see the old file or the new one, never a partial one.
import { readFile } from 'node:fs/promises';
import type { Config } from '../../config.js';
import { atomicWrite, type WriteOptions } from '../../util/atomic-write.js';

export type FileOptions = WriteOptions;

export function fileOptions(config: Pick<Config, 'fileMode' | 'fileUid' | 'fileGid'>): FileOptions {
  return { mode: config.fileMode, uid: config.fileUid, gid: config.fileGid };
}

/** Rewrite a file from its current text (empty when it does not exist yet). */
export async function rewrite(path: string, edit: (old: string) => string, opts: FileOptions): Promise<void> {
  let old = '';
  try {
    old = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await atomicWrite(path, edit(old), opts);
}
