// The boundary scan: a plain readdir walk of the project dir (no inotify: ODM's intermediate
// folders hold hundreds of thousands of files) and an lstat of every entry. Only regular files
// and directories are recorded; symlinks, sockets and the like are skipped (ODM makes none that
// a resumed run needs). What the scan saw is what the checkpoint must hold, unchanged.
import type { BigIntStats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { globMatcher } from '../util/glob.js';

export interface ScannedFile {
  rel: string;
  size: number;
  mode: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino: bigint;
  dev: bigint;
}

export interface ScannedDir {
  rel: string;
  mode: number;
}

export interface Scan {
  files: ScannedFile[];
  dirs: ScannedDir[];
}

/** The sidecar's own state folder below the project dir (journal, archives, markers). */
export const STATE_DIR = '.s3-sidecar';

export interface ScanFilter {
  /** globs (relative paths) never checkpointed; a matching folder is not walked */
  exclude: readonly string[];
  /** exact relative paths of the sidecar's own files */
  ownFiles: readonly string[];
}

export function fileOf(rel: string, st: BigIntStats): ScannedFile {
  return { rel, size: Number(st.size), mode: Number(st.mode) & 0o7777, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, ino: st.ino, dev: st.dev };
}

/** Same file, same bytes as far as the inode can tell: size, mtime, ctime and identity unchanged. */
export function unchanged(a: ScannedFile, st: BigIntStats): boolean {
  return st.isFile() && Number(st.size) === a.size && st.mtimeNs === a.mtimeNs && st.ctimeNs === a.ctimeNs && st.ino === a.ino && st.dev === a.dev;
}

export async function scanProject(root: string, filter: ScanFilter): Promise<Scan> {
  const excluded = globMatcher(filter.exclude) ?? (() => false);
  const own = new Set(filter.ownFiles);
  const files: ScannedFile[] = [];
  const dirs: ScannedDir[] = [];
  // lstat many entries at once: on network volumes each one is a round trip
  const limit = pLimit(64);
  const walk = async (relDir: string): Promise<void> => {
    const entries = await readdir(join(root, relDir), { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      // a folder removed between its parent's readdir and ours: the tree moved on, the re-check will say so
      if (err.code === 'ENOENT' && relDir !== '') return [];
      throw err;
    });
    const sub: Promise<void>[] = [];
    await Promise.all(entries.map((e) => limit(async () => {
      const rel = relDir === '' ? e.name : `${relDir}/${e.name}`;
      if (relDir === '' && e.name === STATE_DIR) return;
      if (own.has(rel) || excluded(rel)) return;
      const st = await lstat(join(root, rel), { bigint: true }).catch(() => undefined);
      if (!st) return;
      if (st.isDirectory()) {
        dirs.push({ rel, mode: Number(st.mode) & 0o7777 });
        sub.push(walk(rel));
      } else if (st.isFile()) {
        files.push(fileOf(rel, st));
      }
    })));
    await Promise.all(sub);
  };
  await walk('');
  files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  dirs.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return { files, dirs };
}
