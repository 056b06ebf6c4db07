// chokidar over the output dir, pruned by the filter so that ODM's huge intermediate folders
// cost no inotify watch and no directory reads. Events are reported as relative paths; what
// they mean (restart a stability window, cancel an upload) is decided by the caller.
import { relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { log } from '../log.js';
import type { OutputFilter } from './filter.js';

export type WatchEvent = 'add' | 'change' | 'unlink';

export interface OutputWatcher {
  close(): Promise<void>;
}

export async function watchOutput(root: string, filter: OutputFilter, onEvent: (kind: WatchEvent, rel: string) => void): Promise<OutputWatcher> {
  const rel = (p: string) => relative(root, p).split(sep).join('/');
  const w: FSWatcher = watch(root, {
    // the caller scans once the watcher is ready, through the same filter and symlink rules
    ignoreInitial: true,
    followSymlinks: false,
    // rename-over (os.replace, COG swap) arrives as one change rather than unlink + add
    atomic: true,
    ignored: (path, stats) => filter.ignores(rel(path), stats ? stats.isDirectory() : undefined),
  });
  w.on('add', (p) => onEvent('add', rel(p)));
  w.on('change', (p) => onEvent('change', rel(p)));
  w.on('unlink', (p) => onEvent('unlink', rel(p)));
  w.on('error', (err) => log.warn({ err: (err as Error).message }, 'file watcher error (the final reconcile scan still sees everything)'));
  await new Promise<void>((resolve) => w.once('ready', () => resolve()));
  return { close: () => w.close() };
}
