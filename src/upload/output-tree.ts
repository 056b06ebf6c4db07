// The local side of an upload: files below the output dir, identified by their relative path
// (which is also their key below the output prefix) and a signature (size + mtime in ns) that
// says whether a file changed since it was uploaded.
// Symlinks: a link whose target resolves inside the output dir is uploaded with the target's
// bytes; one that leaves the dir (or dangles) is skipped; linked folders are never walked, and a
// folder on the way to a file that has become a symlink makes the file no candidate at all.
// The job may swap anything between a stat here and the read: files are opened through
// a BeneathOpener (no symlink on any component, no FIFO or device), and read from that descriptor.
import type { BigIntStats } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { log } from '../log.js';
import type { OutputFilter } from './filter.js';
import { checkRelativePath, pathToKey } from '../util/keys.js';
import { BeneathOpener, type RegularFile } from '../util/open-beneath.js';

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
  private opener: BeneathOpener | undefined;
  private readonly warned = new Set<string>();

  constructor(readonly root: string, readonly filter: OutputFilter) {}

  abs(rel: string): string {
    return join(this.root, ...rel.split('/'));
  }

  /** What the root resolved to at the first call (the session makes that at its start). */
  async rootReal(): Promise<string> {
    this.realRoot ??= await realpath(this.root);
    return this.realRoot;
  }

  /** The folder holding `rel` still resolves to where it should: no folder on the way became a symlink. */
  private async parentInside(rel: string): Promise<boolean> {
    return this.folderInside(rel.split('/').slice(0, -1));
  }

  private async folderInside(parts: string[]): Promise<boolean> {
    const root = await this.rootReal();
    const real = await realpath(join(this.root, ...parts)).catch(() => undefined);
    return real === join(root, ...parts);
  }

  /**
   * Open a candidate for reading, never leaving the output dir (see BeneathOpener): the file
   * itself, or the in-dir target of a symlink that stat() resolved.
   */
  async open(file: LocalFile): Promise<RegularFile> {
    const root = await this.rootReal();
    this.opener ??= new BeneathOpener(this.root, root);
    const inside = file.path.startsWith(root + sep) ? relative(root, file.path) : relative(this.root, file.path);
    return this.opener.open(inside.split(sep));
  }

  /** Let go of the folders kept open for reading. */
  async close(): Promise<void> {
    await this.opener?.close();
    this.opener = undefined;
  }

  private warnSwappedFolder(rel: string): void {
    this.warnOnce(rel, 'a folder on the way to this file is a symlink now (or was replaced); not following it');
  }

  private warnOnce(rel: string, msg: string, key = rel): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    log.warn({ path: rel }, msg);
  }

  /**
   * Stat one file as an upload candidate: undefined when it is gone, not a regular file,
   * filtered out, or a symlink that leaves the output dir.
   */
  async stat(rel: string, opts: { folderChecked?: boolean } = {}): Promise<LocalFile | undefined> {
    if (!this.filter.wantFile(rel)) return undefined;
    const abs = this.abs(rel);
    let st: BigIntStats;
    try {
      st = await lstat(abs, { bigint: true });
    } catch {
      return undefined;
    }
    if (!st.isFile() && !st.isSymbolicLink()) return undefined;
    if (!opts.folderChecked && !(await this.parentInside(rel))) {
      this.warnSwappedFolder(rel);
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

  /**
   * Every upload candidate below the root (pruned folders and linked folders are not walked).
   * A folder that cannot be read for any reason but being gone is put in `unreadable` (relative
   * path, '' for the root, → error code): nothing known about what is below it.
   */
  async scan(under = '', unreadable?: Map<string, string>): Promise<LocalFile[]> {
    const out: LocalFile[] = [];
    const walk = async (dirRel: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dirRel ? this.abs(dirRel) : this.root, { withFileTypes: true });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
        if (code === 'ENOENT') return; // vanished while walking (ODM removes scratch folders)
        unreadable?.set(dirRel, code);
        this.warnOnce(dirRel || '.', `cannot read a folder (${code}): its files are not uploaded and none of their objects is deleted`, `${dirRel}/\0${code}`);
        return;
      }
      // the folder was checked once for all its files (the open checks each file again)
      let inside: boolean | undefined;
      for (const e of entries) {
        const rel = dirRel ? `${dirRel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (!this.filter.pruneDir(rel)) await walk(rel);
        } else if (e.isFile() || e.isSymbolicLink()) {
          inside ??= await this.folderInside(dirRel ? dirRel.split('/') : []);
          if (!inside) {
            this.warnSwappedFolder(rel);
            continue;
          }
          const f = await this.stat(rel, { folderChecked: true });
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
