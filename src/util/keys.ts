// S3 key <-> local path mapping, and the checks that keep a key from ever acting as a path.
// A key is untrusted input: S3 (and RGW) happily store "job/../../etc/passwd", "/abs" or
// "a//b". Every key (and every archive entry name) goes through `checkRelativePath` before it
// is joined to a directory, and `resolveInside` re-checks the joined result.
import { constants } from 'node:fs';
import { lstat, mkdir } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

/** Linux NAME_MAX / PATH_MAX, in bytes: a longer name cannot be created, so refuse it up front. */
const NAME_MAX = 255;
const PATH_MAX = 4095;

export type PathCheck = { ok: true; segments: string[] } | { ok: false; reason: string };

/**
 * Split a relative key ("a/b/c.jpg") into safe path segments, or say why it is refused:
 * absolute, NUL, empty or "."/".." segments, or a name Linux cannot hold. Backslashes are
 * ordinary characters on Linux and stay part of the name.
 */
export function checkRelativePath(rel: string): PathCheck {
  if (rel === '') return { ok: false, reason: 'empty name' };
  if (rel.includes('\0')) return { ok: false, reason: 'contains a NUL byte' };
  if (rel.startsWith('/') || isAbsolute(rel)) return { ok: false, reason: 'absolute path' };
  const segments = rel.split('/');
  for (const s of segments) {
    if (s === '..') return { ok: false, reason: 'contains a ".." segment (path traversal)' };
    if (s === '.') return { ok: false, reason: 'contains a "." segment' };
    if (s === '') return { ok: false, reason: 'contains an empty segment ("//")' };
    if (Buffer.byteLength(s) > NAME_MAX) return { ok: false, reason: `a path segment is longer than ${NAME_MAX} bytes` };
  }
  if (Buffer.byteLength(rel) > PATH_MAX) return { ok: false, reason: `longer than ${PATH_MAX} bytes` };
  return { ok: true, segments };
}

/** The key relative to its prefix (the caller listed with that prefix, so it always matches). */
export function relativeKey(key: string, prefix: string): string {
  return key.startsWith(prefix) ? key.slice(prefix.length) : key;
}

/** A directory marker is a key ending in "/" (what consoles create for "folders"). */
export function isDirectoryMarker(key: string): boolean {
  return key.endsWith('/');
}

/** Number of path segments of a relative key ("a/b.jpg" = 2; "a/" = 1). */
export function depthOf(rel: string): number {
  const trimmed = rel.endsWith('/') ? rel.slice(0, -1) : rel;
  return trimmed === '' ? 0 : trimmed.split('/').length;
}

/** Join checked segments below root and prove the result is still inside root. */
export function resolveInside(root: string, segments: readonly string[]): string {
  const base = resolve(root);
  const full = resolve(base, ...segments);
  const rel = relative(base, full);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new UnsafePathError(segments.join('/'), 'resolves outside the target directory');
  return full;
}

/** Local relative path (with "/" separators) back to the key below a prefix; for upload. */
export function pathToKey(prefix: string, relPath: string): string {
  return prefix + relPath.split(sep).join('/');
}

export class UnsafePathError extends Error {
  constructor(readonly subject: string, readonly reason: string) {
    super(`refused "${subject}": ${reason}`);
    this.name = 'UnsafePathError';
  }
}

/** open(2) flags for a new file that must never be written through a symlink planted at its name. */
export const CREATE_NOFOLLOW = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
/** open(2) flags to write into an existing file (ranged download) without following a symlink. */
export const WRITE_NOFOLLOW = constants.O_WRONLY | constants.O_NOFOLLOW;
/** open(2) flags to append to a journal without following a symlink. */
export const APPEND_NOFOLLOW = constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW;

/**
 * Creates directories below one root, refusing to pass through a symlink (which could point
 * anywhere). Each directory is checked once per run: thousands of files into `images/` cost one
 * lstat, not thousands.
 */
export class DirMaker {
  private readonly done = new Map<string, Promise<void>>();
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** Ensure the directory `segments` (relative to root) exists as a real directory chain. */
  ensure(segments: readonly string[]): Promise<void> {
    if (segments.length === 0) return Promise.resolve();
    const key = segments.join('/');
    let p = this.done.get(key);
    if (!p) {
      p = this.ensure(segments.slice(0, -1)).then(() => this.makeOne(join(this.root, ...segments), key));
      this.done.set(key, p);
      // a failure is reported to every waiter of this run, but not cached forever
      p.catch(() => this.done.delete(key));
    }
    return p;
  }

  private async makeOne(dir: string, name: string): Promise<void> {
    try {
      await mkdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const st = await lstat(dir);
    if (st.isSymbolicLink()) throw new UnsafePathError(name, 'a symlink is in the way (symlinks are never followed)');
    if (!st.isDirectory()) throw new UnsafePathError(name, 'a file is in the way of this directory');
  }
}
