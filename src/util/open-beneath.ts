// Opening files in a directory that an untrusted process (the job container) may rewrite at any
// moment: create, swap a folder for a symlink, replace a file with a FIFO or a device.
//
// openBeneath walks the path one component at a time, like openat(2) with O_NOFOLLOW on every
// component. Node has no openat, but opening "/proc/self/fd/<dirfd>/<name>" is the same lookup:
// the kernel follows the magic link to the directory that descriptor holds (not to a path that
// could have been swapped meanwhile), then looks up <name> there, and O_NOFOLLOW applies to
// <name>. So nothing outside the root is ever opened, not even for a moment; the alternative
// (open the whole path, then check the descriptor's real path) would already have opened a
// device or FIFO reached through a swapped-in folder, and opening some devices has side effects.
// The last component is opened O_NONBLOCK (a FIFO never blocks a thread) and must fstat as a
// regular file.
import { constants } from 'node:fs';
import { open, readlink, type FileHandle } from 'node:fs/promises';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = constants;
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
const FILE_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;

/** An error with an errno-like code, as the callers already branch on `code`. */
function fail(code: string, message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  err.code = code;
  return err;
}

/** Code of a path that is there but is no regular file (a FIFO, socket, device or folder). */
export const NOT_REGULAR = 'ENOTREG';

async function closeQuietly(fh: FileHandle | undefined): Promise<void> {
  await fh?.close().catch(() => {});
}

async function requireRegular(fh: FileHandle, what: string): Promise<FileHandle> {
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw fail(NOT_REGULAR, `${what} is not a regular file`);
    return fh;
  } catch (err) {
    await closeQuietly(fh);
    throw err;
  }
}

/**
 * Open `segments` below `root` for reading, never leaving the root: every folder is opened
 * without following a symlink, the file too, without blocking. `realRoot` is what the root
 * resolved to when the sidecar started: a root swapped for a symlink since then is refused.
 * Errors carry a code: ENOENT (gone), ELOOP / ENOTDIR (a symlink or file in the way),
 * ENOTREG (not a regular file), ESTALE (the root itself was replaced).
 */
export async function openBeneath(root: string, realRoot: string, segments: readonly string[]): Promise<FileHandle> {
  if (segments.length === 0) throw fail(NOT_REGULAR, 'no file named');
  let dir: FileHandle | undefined = await open(root, O_RDONLY | O_DIRECTORY);
  try {
    const at = await readlink(`/proc/self/fd/${dir.fd}`);
    if (at !== realRoot) throw fail('ESTALE', `${root} now resolves to ${at}, not ${realRoot}`);
    for (const seg of segments.slice(0, -1)) {
      const next: FileHandle = await open(`/proc/self/fd/${dir.fd}/${seg}`, DIR_FLAGS);
      await closeQuietly(dir);
      dir = next;
    }
    const fh = await open(`/proc/self/fd/${dir.fd}/${segments[segments.length - 1]!}`, FILE_FLAGS);
    return await requireRegular(fh, segments.join('/'));
  } finally {
    await closeQuietly(dir);
  }
}

/** Open one path for reading only if it is a regular file itself (no symlink, FIFO or device). */
export async function openRegularNoFollow(path: string): Promise<FileHandle> {
  return requireRegular(await open(path, FILE_FLAGS), path);
}

/**
 * A small file the job controls, read whole from one descriptor: not through a symlink, never
 * from a FIFO or device, and refused (code EFBIG) when larger than `maxBytes`, so a job cannot
 * make the sidecar hold more than that. Returns the text and the descriptor's mtime.
 */
export async function readBounded(path: string, maxBytes: number): Promise<{ text: string; mtime: Date }> {
  const fh = await openRegularNoFollow(path);
  try {
    const st = await fh.stat();
    if (st.size > maxBytes) throw fail('EFBIG', `${path} is ${st.size} bytes, more than the ${maxBytes} read`);
    // read one byte past the cap: a file that grows while read is refused too
    const buf = Buffer.alloc(Math.min(maxBytes, st.size) + 1);
    let off = 0;
    while (off < buf.length) {
      const { bytesRead } = await fh.read(buf, off, buf.length - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    if (off > maxBytes) throw fail('EFBIG', `${path} grew past the ${maxBytes} bytes read`);
    return { text: buf.subarray(0, off).toString('utf8'), mtime: st.mtime };
  } finally {
    await closeQuietly(fh);
  }
}
