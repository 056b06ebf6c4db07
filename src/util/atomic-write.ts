// Atomic file replacement: write a temp file in the same directory, fsync it, rename it over the
// target, fsync the directory. Readers see the old file or the new one, never a partial or empty
// one; the file is never truncated in place. (Vault Agent's file sink does the same.)
// Note for mounts: rename makes a new inode, so consumers must mount the *directory*; a
// single-file subPath mount keeps showing the old inode.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface WriteOptions {
  mode?: number;
  uid?: number | undefined;
  gid?: number | undefined;
}

export async function atomicWrite(path: string, data: string | Uint8Array, opts: WriteOptions = {}): Promise<void> {
  const mode = opts.mode ?? 0o600;
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}${TMP_SUFFIX}`);
  // 'wx' + mode at creation: the secret never exists under a looser mode, even briefly.
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // umask may have narrowed the creation mode
    // on the handle: by path, a name swapped in the meantime would get the new owner
    if (opts.uid !== undefined || opts.gid !== undefined) await fh.chown(opts.uid ?? -1, opts.gid ?? -1);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dir);
}

const TMP_SUFFIX = '.tmp';

/**
 * Remove the temp files atomicWrite leaves next to `path` when the process dies between creating
 * and renaming one: they hold whatever was being written (credentials). Only names of atomicWrite's
 * own pattern; a symlink among them is unlinked, never followed.
 */
export async function removeStaleTemps(path: string): Promise<void> {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return; // no directory yet: nothing was left behind
  }
  for (const name of names) {
    const rest = name.startsWith(prefix) ? name.slice(prefix.length) : '';
    if (!/^[0-9a-f]{12}\.tmp$/.test(rest)) continue;
    const st = await lstat(join(dir, name)).catch(() => undefined);
    if (st && !st.isDirectory()) await rm(join(dir, name), { force: true });
  }
}

/** fsync a directory so a rename in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } catch {
    // some filesystems (and tmpfs) refuse fsync on a directory; the rename is still atomic
  } finally {
    await dh.close();
  }
}
