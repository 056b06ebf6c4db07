// Opening files in a directory that an untrusted process (the job container) may rewrite at any
// moment: create, swap a folder for a symlink, replace a file with a FIFO or a device.
//
// BeneathOpener walks the path one component at a time, like openat(2) with O_NOFOLLOW on every
// component. Node has no openat, but opening "/proc/self/fd/<dirfd>/<name>" is the same lookup:
// the kernel follows the magic link to the directory that descriptor holds (not to a path that
// could have been swapped meanwhile), then looks up <name> there, and O_NOFOLLOW applies to
// <name>. So nothing outside the root is ever opened, not even for a moment; the alternative
// (open the whole path, then check the descriptor's real path) would already have opened a
// device or FIFO reached through a swapped-in folder, and opening some devices has side effects.
// The last component is opened O_NONBLOCK (a FIFO never blocks a thread) and must fstat as a
// regular file.
import { close as closeCb, constants, open as openCb, type BigIntStats } from 'node:fs';
import { open, readlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

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

// Folders on the way are raw descriptors: a FileHandle per folder cost more CPU than the opens.
const openFd = promisify(openCb);
const closeCbP = promisify(closeCb);
async function closeFd(fd: number): Promise<void> {
  await closeCbP(fd).catch(() => {});
}

/** An open regular file and what fstat said of it right after the open. */
export interface RegularFile {
  fh: FileHandle;
  st: BigIntStats;
}

async function requireRegular(fh: FileHandle, what: string): Promise<RegularFile> {
  try {
    const st = await fh.stat({ bigint: true });
    if (!st.isFile()) throw fail(NOT_REGULAR, `${what} is not a regular file`);
    return { fh, st };
  } catch (err) {
    await closeQuietly(fh);
    throw err;
  }
}

/** The folder `dirs` below the root, walked one component at a time: a raw descriptor. */
async function walk(root: string, realRoot: string, dirs: readonly string[]): Promise<number> {
  let dir = await openFd(root, O_RDONLY | O_DIRECTORY);
  try {
    const at = await readlink(`/proc/self/fd/${dir}`);
    if (at !== realRoot) throw fail('ESTALE', `${root} now resolves to ${at}, not ${realRoot}`);
    for (const seg of dirs) {
      const next = await openFd(`/proc/self/fd/${dir}/${seg}`, DIR_FLAGS);
      await closeFd(dir);
      dir = next;
    }
    return dir;
  } catch (err) {
    await closeFd(dir);
    throw err;
  }
}

async function openIn(dir: number, segments: readonly string[]): Promise<RegularFile> {
  const fh = await open(`/proc/self/fd/${dir}/${segments[segments.length - 1]!}`, FILE_FLAGS);
  return requireRegular(fh, segments.join('/'));
}

interface HeldDir {
  fd: number;
  /** opens using `fd` right now: it is closed only when none is (a reused number would be another file) */
  users: number;
  evicted: boolean;
  /** a readlink of `fd` under way: is it still where it was? */
  checking?: Promise<boolean> | undefined;
}

/**
 * Opens files below `root` for reading, never leaving the root: every folder is opened without
 * following a symlink, the file too, without blocking. `realRoot` is what the root resolved to
 * when the sidecar started: a root swapped for a symlink since then is refused. Errors carry a
 * code: ENOENT (gone), ELOOP / ENOTDIR (a symlink or file in the way), ENOTREG (not a regular
 * file), ESTALE (the root itself was replaced).
 * The folders walked are kept open (the most recently used `maxDirs`), so a file in a folder
 * already walked costs one readlink, one open and one fstat. A kept folder is used only while the
 * kernel still names it `<realRoot>/<its path>` (readlink of its descriptor): a folder renamed,
 * deleted or swapped since is walked again. Close it when the tree is done with.
 */
export class BeneathOpener {
  private readonly dirs = new Map<string, HeldDir>();
  private readonly walking = new Map<string, Promise<HeldDir>>();

  constructor(readonly root: string, readonly realRoot: string, private readonly maxDirs = 64) {}

  async open(segments: readonly string[]): Promise<RegularFile> {
    if (segments.length === 0) throw fail(NOT_REGULAR, 'no file named');
    const dirs = segments.slice(0, -1);
    const held = await this.dir(dirs);
    try {
      return await openIn(held.fd, segments);
    } finally {
      this.release(held);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.dirs.keys()].map((key) => this.evict(key)));
  }

  /** The folder, held for one use: a kept one still where it was, or walked anew. */
  private async dir(dirs: readonly string[]): Promise<HeldDir> {
    const key = dirs.join('/');
    const kept = this.dirs.get(key);
    if (kept) {
      kept.users++;
      // opens that arrive while a check of this folder runs share it: a move during that one
      // readlink is the same race as a move during a walk
      if (!kept.checking) {
        kept.checking = readlink(`/proc/self/fd/${kept.fd}`).then((at) => at === join(this.realRoot, ...dirs), () => false);
        void kept.checking.finally(() => { kept.checking = undefined; });
      }
      if (await kept.checking) {
        if (this.dirs.get(key) === kept) {
          this.dirs.delete(key); // most recently used last
          this.dirs.set(key, kept);
        }
        return kept;
      }
      this.release(kept);
      if (this.dirs.get(key) === kept) this.evict(key);
    }
    // one walk per folder at a time: the uploads that wait for it share its descriptor
    let walking = this.walking.get(key);
    if (!walking) {
      walking = this.walkAndKeep(key, dirs);
      this.walking.set(key, walking);
      void walking.finally(() => this.walking.delete(key)).catch(() => {});
    }
    const held = await walking;
    if (held.evicted && held.users === 0) return this.dir(dirs); // closed already: walk again
    held.users++;
    return held;
  }

  private async walkAndKeep(key: string, dirs: readonly string[]): Promise<HeldDir> {
    const fd = await walk(this.root, this.realRoot, dirs);
    const held: HeldDir = { fd, users: 0, evicted: false };
    if (this.dirs.has(key)) this.evict(key);
    this.dirs.set(key, held);
    while (this.dirs.size > this.maxDirs) this.evict(this.dirs.keys().next().value!);
    return held;
  }

  /** Forget a kept folder; its descriptor is closed now, or by the last open still using it. */
  private evict(key: string): Promise<void> | undefined {
    const held = this.dirs.get(key);
    if (!held) return undefined;
    this.dirs.delete(key);
    held.evicted = true;
    return held.users === 0 ? closeFd(held.fd) : undefined;
  }

  private release(held: HeldDir): void {
    held.users--;
    if (held.evicted && held.users === 0) void closeFd(held.fd);
  }
}

/** Open one path for reading only if it is a regular file itself (no symlink, FIFO or device). */
export async function openRegularNoFollow(path: string): Promise<RegularFile> {
  return requireRegular(await open(path, FILE_FLAGS), path);
}

/**
 * A small file the job controls, read whole from one descriptor: not through a symlink, never
 * from a FIFO or device, and refused (code EFBIG) when larger than `maxBytes`, so a job cannot
 * make the sidecar hold more than that. Returns the text and the descriptor's mtime.
 */
export async function readBounded(path: string, maxBytes: number): Promise<{ text: string; mtime: Date }> {
  const { fh, st } = await openRegularNoFollow(path);
  try {
    const size = Number(st.size);
    if (size > maxBytes) throw fail('EFBIG', `${path} is ${size} bytes, more than the ${maxBytes} read`);
    // read one byte past the cap: a file that grows while read is refused too
    const buf = Buffer.alloc(Math.min(maxBytes, size) + 1);
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
