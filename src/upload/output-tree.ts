// The local side of an upload: files below the output dir, identified by their relative path
// (which is also their key below the output prefix) and a signature (size + mtime in ns) that
// says whether a file changed since it was uploaded.
// Symlinks: a link whose target resolves inside the output dir is uploaded with the target's
// bytes; one that leaves the dir (or dangles) is skipped; linked folders are never walked.
import { constants, type BigIntStats } from 'node:fs';
import { lstat, open, readdir, realpath, stat, type FileHandle } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { log } from '../log.js';
import type { OutputFilter } from './filter.js';
import { checkRelativePath, pathToKey } from '../util/keys.js';

export interface FileSig {
  size: number;
  /** mtime in nanoseconds as a decimal string: exact, and survives JSON */
  mtimeNs: string;
}

export interface LocalFile {
  rel: string;
  /** the path to read: the file itself, or a symlink's target inside the output dir */
  path: string;
  sig: FileSig;
}

export function sigOf(st: BigIntStats): FileSig {
  return { size: Number(st.size), mtimeNs: st.mtimeNs.toString() };
}

export function sameSig(a: FileSig | undefined, b: FileSig | undefined): boolean {
  return a !== undefined && b !== undefined && a.size === b.size && a.mtimeNs === b.mtimeNs;
}

/** S3 keys are at most 1024 bytes of UTF-8. */
const MAX_KEY_BYTES = 1024;

/** The S3 key for a relative path, or undefined (with the reason) when it cannot be one. */
export function keyFor(prefix: string, rel: string): { key?: string; problem?: string } {
  const check = checkRelativePath(rel);
  if (!check.ok) return { problem: check.reason };
  const key = pathToKey(prefix, rel);
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return { problem: `key longer than ${MAX_KEY_BYTES} bytes` };
  return { key };
}

export class OutputTree {
  private realRoot: string | undefined;
  private readonly warned = new Set<string>();

  constructor(readonly root: string, readonly filter: OutputFilter) {}

  abs(rel: string): string {
    return join(this.root, ...rel.split('/'));
  }

  private async rootReal(): Promise<string> {
    this.realRoot ??= await realpath(this.root);
    return this.realRoot;
  }

  private warnOnce(rel: string, msg: string): void {
    if (this.warned.has(rel)) return;
    this.warned.add(rel);
    log.warn({ path: rel }, msg);
  }

  /**
   * Stat one file as an upload candidate: undefined when it is gone, not a regular file,
   * filtered out, or a symlink that leaves the output dir.
   */
  async stat(rel: string): Promise<LocalFile | undefined> {
    if (!this.filter.wantFile(rel)) return undefined;
    const abs = this.abs(rel);
    let st: BigIntStats;
    try {
      st = await lstat(abs, { bigint: true });
    } catch {
      return undefined;
    }
    if (st.isFile()) return { rel, path: abs, sig: sigOf(st) };
    if (!st.isSymbolicLink()) return undefined;
    let target: string;
    try {
      target = await realpath(abs);
    } catch {
      this.warnOnce(rel, 'skipping a dangling symlink');
      return undefined;
    }
    const root = await this.rootReal();
    if (!target.startsWith(root + sep)) {
      this.warnOnce(rel, 'not following a symlink that points outside the output dir');
      return undefined;
    }
    try {
      const tst = await stat(target, { bigint: true });
      return tst.isFile() ? { rel, path: target, sig: sigOf(tst) } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Every upload candidate below the root (pruned folders and linked folders are not walked). */
  async scan(under = ''): Promise<LocalFile[]> {
    const out: LocalFile[] = [];
    const walk = async (dirRel: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dirRel ? this.abs(dirRel) : this.root, { withFileTypes: true });
      } catch {
        return; // vanished while walking (ODM removes scratch folders)
      }
      for (const e of entries) {
        const rel = dirRel ? `${dirRel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (!this.filter.pruneDir(rel)) await walk(rel);
        } else if (e.isFile() || e.isSymbolicLink()) {
          const f = await this.stat(rel);
          if (f) out.push(f);
        }
      }
    };
    if (under) {
      const st = await lstat(this.abs(under)).catch(() => undefined);
      if (st?.isDirectory() && !this.filter.pruneDir(under)) await walk(under);
      else if (st) {
        const f = await this.stat(under);
        if (f) out.push(f);
      }
    } else {
      await walk('');
    }
    return out;
  }
}

/**
 * Open a candidate for reading without following a symlink that was swapped in after the scan
 * (the path is the file itself or an already-resolved target inside the dir).
 */
export async function openForUpload(path: string): Promise<FileHandle> {
  return open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
}
