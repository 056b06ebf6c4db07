// Archives the listing found (odm layout): fetched aside during the listing, extracted after it
// in key order, so that their renames are as deterministic as the objects'.
import { rm } from 'node:fs/promises';
import type { Config } from '../config.js';
import { log } from '../log.js';
import type { DirMaker } from '../util/keys.js';
import type { ListedObject } from '../s3/list.js';
import { describe } from '../s3/retry.js';
import { ArchiveLimitError, extractArchive, type ExtractBudget, type ExtractedFile } from './archive.js';
import { writeArchiveMarker } from './archive-marker.js';
import type { Layout, Role } from './layout/types.js';
import type { PrefetchSummary } from './summary.js';

export interface PendingArchive {
  uri: string;
  obj: ListedObject;
  kind: 'zip' | 'tar';
  file: string;
  markerFile: string;
  /** files a previous run extracted from this very object version */
  previous?: ExtractedFile[];
  fetched: boolean;
}

export interface ExtractContext {
  root: string;
  tmpDir: string;
  dirs: DirMaker;
  layout: Layout;
  config: Pick<Config, 'archiveMaxBytes' | 'archiveMaxFiles'>;
  signal: AbortSignal;
  summary: PrefetchSummary;
  fail(uri: string, reason: string): void;
  noteFile(path: string, role: Role): void;
}

export async function extractPending(archives: readonly PendingArchive[], ctx: ExtractContext): Promise<void> {
  const c = ctx.config;
  const budget: ExtractBudget = { maxBytes: c.archiveMaxBytes, maxFiles: c.archiveMaxFiles, bytes: 0, files: 0 };
  for (const a of archives) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    if (a.previous) {
      for (const f of a.previous) {
        ctx.layout.claim(f.path.split('/'));
        ctx.noteFile(f.path, f.role);
      }
      budget.files += a.previous.length;
      budget.bytes += a.previous.reduce((n, f) => n + f.size, 0);
      ctx.summary.skipped += a.previous.length;
      ctx.summary.archives.push({ uri: a.uri, files: a.previous.length, status: 'already extracted' });
      continue;
    }
    if (!a.fetched) {
      ctx.summary.archives.push({ uri: a.uri, files: 0, status: 'failed' });
      continue;
    }
    const files: ExtractedFile[] = [];
    let error: unknown;
    try {
      await extractArchive(a.file, a.kind, files, {
        root: ctx.root, tmpDir: ctx.tmpDir, dirs: ctx.dirs, layout: ctx.layout, scope: `archive:${a.obj.key}`, budget,
        onRefused: (entry, reason) => ctx.fail(`${a.uri}!${entry}`, reason),
        onIgnored: (entry, reason) => {
          ctx.summary.ignored++;
          log.debug({ archive: a.uri, entry, reason }, 'archive entry ignored');
        },
      });
    } catch (err) {
      error = err;
    }
    // files written before a failure are complete and stay; the archive is fetched again next time
    for (const f of files) ctx.noteFile(f.path, f.role);
    ctx.summary.extracted += files.length;
    if (error) {
      ctx.fail(a.uri, error instanceof ArchiveLimitError ? error.message : `extraction failed: ${describe(error)}`);
      ctx.summary.archives.push({ uri: a.uri, files: files.length, status: 'failed' });
      continue;
    }
    ctx.summary.archives.push({ uri: a.uri, files: files.length, status: 'extracted' });
    log.info({ archive: a.uri, files: files.length }, `extracted ${files.length} file${files.length === 1 ? '' : 's'} from ${a.uri}`);
    await writeArchiveMarker(a.markerFile, a.obj, files);
    await rm(a.file, { force: true });
  }
}
