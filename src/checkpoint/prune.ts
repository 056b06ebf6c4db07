// After a restore into a directory that was not empty (an Argo retry mounts the same volume when
// it can): whatever the checkpoint does not list goes, or the interrupted stage's partial outputs
// would stay, and ODM skips a stage when its output file or folder merely exists. Kept: the
// sidecar's state folder and own files, and what the capture left out (the inputs).
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { globMatcher } from '../util/glob.js';
import type { CheckpointManifest } from './layout.js';
import { STATE_DIR } from './scan.js';

/** Remove every entry below root that the manifest neither lists nor left out; returns the paths removed. */
export async function pruneToManifest(root: string, m: CheckpointManifest): Promise<string[]> {
  const excluded = globMatcher(m.exclude ?? []) ?? (() => false);
  const own = new Set(m.ownFiles ?? []);
  const files = new Set(m.files.map((f) => f.path));
  const dirs = new Set(m.dirs.map((d) => d.path));
  const removed: string[] = [];
  const walk = async (relDir: string): Promise<void> => {
    for (const e of await readdir(join(root, relDir), { withFileTypes: true })) {
      const rel = relDir === '' ? e.name : `${relDir}/${e.name}`;
      if ((relDir === '' && e.name === STATE_DIR) || own.has(rel) || excluded(rel)) continue;
      if (e.isDirectory() && dirs.has(rel)) {
        await walk(rel);
      } else if (!(e.isFile() && files.has(rel))) {
        // a folder the checkpoint does not have goes whole (never followed: rm does not follow symlinks)
        await rm(join(root, rel), { recursive: true, force: true });
        removed.push(rel);
      }
    }
  };
  await walk('');
  return removed;
}
