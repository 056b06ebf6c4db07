// The prefetch engine behind `s3-sidecar download` (and `run --prefetch`): list each input
// prefix as a stream, filter, check every key, let the layout place it, and fetch with bounded
// parallelism while the listing continues. Archives (odm layout) are fetched aside and extracted
// after the listing, in key order, so their renames are as deterministic as the objects'.
import { createHash } from 'node:crypto';
import { lstat, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import type { Config } from '../config.js';
import { log } from '../log.js';
import { metrics } from '../metrics.js';
import type { Progress } from '../progress.js';
import { atomicWrite } from '../util/atomic-write.js';
import { ArchiveLimitError, extractArchive, type ExtractBudget, type ExtractedFile } from './archive.js';
import { BufferPool } from './buffer-pool.js';
import { fetchObject, isLarge, isUpToDate, type FetchContext, type ObjectMeta } from './download.js';
import { makeKeyFilter, ODM_DEFAULT_EXCLUDES, type KeyFilter } from './filter.js';
import { checkRelativePath, DirMaker, isDirectoryMarker, relativeKey, resolveInside } from './keys.js';
import { MirrorLayout } from './layout/mirror.js';
import { archiveKind, OdmLayout } from './layout/odm.js';
import type { Layout, Role } from './layout/types.js';
import { listObjects, type ListedObject } from './list.js';
import type { ObjectGetter } from './object-get.js';
import { describe, type RetryContext, type ServerWatch } from './retry.js';
import { SMALL_OBJECT_BYTES } from './small-file.js';
import { formatS3Uri, parseS3Uri, type S3Location } from './s3-uri.js';

/** Where the odm layout keeps archives between download and extraction, and their markers. */
export const STATE_DIR = '.s3-sidecar';
const ARCHIVE_DIR = [STATE_DIR, 'archives'];
/** Failures logged one by one; the rest are only counted (30k AccessDenied lines help nobody). */
const LOGGED_FAILURES = 50;

export interface Failure {
  uri: string;
  reason: string;
}

export interface SourceSummary {
  uri: string;
  objects: number;
  bytes: number;
}

export interface ArchiveSummary {
  uri: string;
  files: number;
  status: 'extracted' | 'already extracted' | 'failed';
}

export interface PrefetchSummary {
  downloaded: number;
  skipped: number;
  extracted: number;
  failed: number;
  /** listed keys the layout does not use (odm: not an image/video/GCP/archive) */
  ignored: number;
  /** listed keys skipped by include/exclude/--max-depth */
  excluded: number;
  dirs: number;
  renamed: number;
  bytesDownloaded: number;
  bytesSkipped: number;
  bytesResumed: number;
  byRole: Partial<Record<Role, number>>;
  /** odm: what landed in the project root (gcp_list.txt, geo.txt, ...) */
  rootFiles: string[];
  archives: ArchiveSummary[];
  sources: SourceSummary[];
  failures: Failure[];
  /** failure reason -> count, for the one-line summary */
  failureReasons: Record<string, number>;
  /** set when the run was cut short (dead server, signal): the reason */
  stoppedBy?: string;
  /** queued or in-flight objects cut off because the run stopped (the listing stops too) */
  notFetched: number;
}

export interface PrefetchInput {
  config: Config;
  /** the SDK client, for GETs that need its checksum validation: created on first use */
  sdk: () => Promise<S3Client>;
  getter: ObjectGetter;
  signal: AbortSignal;
  watch: ServerWatch;
  progress: Progress;
}

/** One unit of work for the queues. */
interface Job {
  run: () => Promise<void>;
  /** fetched as byte ranges: queued with the other large objects */
  isLarge: boolean;
}

interface PendingArchive {
  uri: string;
  obj: ListedObject;
  kind: 'zip' | 'tar';
  file: string;
  markerFile: string;
  /** files a previous run extracted from this very object version */
  previous?: ExtractedFile[];
  fetched: boolean;
}

interface ArchiveMarker {
  key: string;
  etag?: string | undefined;
  size: number;
  files: ExtractedFile[];
}

export async function prefetch(input: PrefetchInput): Promise<PrefetchSummary> {
  return new Prefetch(input).run();
}

class Prefetch {
  private readonly s: PrefetchSummary = {
    downloaded: 0, skipped: 0, extracted: 0, failed: 0, ignored: 0, excluded: 0, dirs: 0, renamed: 0,
    bytesDownloaded: 0, bytesSkipped: 0, bytesResumed: 0, byRole: {}, rootFiles: [], archives: [], sources: [],
    failures: [], failureReasons: {}, notFetched: 0,
  };
  private readonly root: string;
  private readonly dirs: DirMaker;
  private readonly layout: Layout;
  private readonly filter: KeyFilter;
  private readonly retry: RetryContext;
  private readonly fetch: FetchContext;
  private readonly archives: PendingArchive[] = [];
  /** an empty target dir needs no "is it already there?" lstat per object */
  private fresh = false;
  private readonly debug = log.isLevelEnabled('debug');

  constructor(private readonly input: PrefetchInput) {
    const c = input.config;
    this.root = resolve(c.inputDir!);
    this.dirs = new DirMaker(this.root);
    this.layout = c.layout === 'odm' ? new OdmLayout() : new MirrorLayout(c.inputPrefix.length);
    this.filter = makeKeyFilter({
      include: c.inputInclude,
      exclude: [...(c.layout === 'odm' && c.defaultExcludes ? ODM_DEFAULT_EXCLUDES : []), ...c.inputExclude],
      maxDepth: c.maxDepth,
    });
    this.retry = {
      retries: c.downloadRetries, watch: input.watch, signal: input.signal,
      onRetry: (err, attempt, delayMs, what, counted) => {
        // a silent server makes every request retry: the ServerWatch speaks for those, once
        const level = counted ? 'warn' : 'debug';
        log[level]({ what, attempt, delayMs: Math.round(delayMs), reason: describe(err) }, `retrying ${what} (attempt ${attempt + 1}) after: ${describe(err)}`);
      },
    };
    this.fetch = {
      sdk: input.sdk, getter: input.getter, retry: this.retry, buffers: new BufferPool(c.downloadConcurrency * SMALL_OBJECT_BYTES),
      rangeThreshold: c.rangeThreshold, rangeSize: c.rangeSize, rangeConcurrency: c.rangeConcurrency,
      onBytes: (n) => input.progress.moved(n),
    };
  }

  async run(): Promise<PrefetchSummary> {
    await mkdir(this.root, { recursive: true });
    this.fresh = (await readdir(this.root)).length === 0;
    const c = this.input.config;
    // rejectOnClear: jobs dropped from the queue on abort must settle, or awaiting them hangs
    const files = pLimit({ concurrency: c.downloadConcurrency, rejectOnClear: true });
    // large objects queue apart: each runs --range-concurrency requests, and one waiting for its
    // turn must not hold a slot that a small file could use
    const large = pLimit({ concurrency: bigObjectSlots(c), rejectOnClear: true });
    // bounded look-ahead: the listing runs ahead of the downloads, but not without limit
    const window = c.downloadConcurrency * 4 + 64;
    let outstanding = 0;
    let wake: (() => void) | undefined;
    const tasks = new Set<Promise<void>>();
    const schedule = ({ run, isLarge }: Job) => {
      outstanding++;
      metrics.queueDepth.set({ direction: 'download' }, files.pendingCount + large.pendingCount + 1);
      const p = (isLarge ? large : files)(run).finally(() => {
        outstanding--;
        tasks.delete(p);
        wake?.();
      });
      tasks.add(p);
    };

    try {
      for (const [i, uri] of c.inputPrefix.entries()) {
        const loc = parseS3Uri(uri, '--input-prefix');
        const source: SourceSummary = { uri: formatS3Uri(loc), objects: 0, bytes: 0 };
        this.s.sources.push(source);
        try {
          for await (const obj of listObjects(this.input.getter.http, loc, this.retry, { shallow: c.maxDepth === 1 })) {
            if (this.input.signal.aborted) throw this.input.signal.reason;
            const job = await this.consider(String(i), loc, obj, source);
            if (!job) continue;
            while (outstanding >= window) await new Promise<void>((r) => (wake = r));
            schedule(job);
          }
        } catch (err) {
          if (this.input.signal.aborted) throw err;
          this.fail(formatS3Uri(loc), `listing failed: ${describe(err)}`);
        }
      }
      this.input.progress.listed();
      await Promise.all(tasks);
      if (this.archives.length) await this.extractArchives();
    } catch (err) {
      if (!this.input.signal.aborted) throw err;
      files.clearQueue();
      large.clearQueue();
      await Promise.allSettled(tasks);
    }
    // jobs swallow their own errors, so an abort during the downloads shows only here
    if (this.input.signal.aborted) this.s.stoppedBy = describe(this.input.signal.reason);
    metrics.queueDepth.set({ direction: 'download' }, 0);
    return this.s;
  }

  /** Decide what to do with one listed object; returns the job that fetches it, if any. */
  private async consider(scope: string, loc: S3Location, obj: ListedObject, source: SourceSummary): Promise<Job | undefined> {
    const rel = relativeKey(obj.key, loc.prefix);
    if (rel === '') return undefined; // the prefix's own "folder" marker
    const uri = formatS3Uri({ bucket: loc.bucket, prefix: '' }, obj.key);
    if (this.filter(rel)) {
      this.s.excluded++;
      return undefined;
    }
    const isDir = isDirectoryMarker(rel);
    const check = checkRelativePath(isDir ? rel.slice(0, -1) : rel);
    if (!check.ok) {
      this.fail(uri, `unsafe key refused: ${check.reason}`);
      return undefined;
    }
    const placed = this.layout.place(scope, check.segments, isDir);
    switch (placed.kind) {
      case 'ignore':
        this.s.ignored++;
        if (this.s.ignored <= 20) log.info({ key: obj.key, reason: placed.reason }, `ignored ${uri}: ${placed.reason}`);
        return undefined;
      case 'refuse':
        this.fail(uri, placed.reason);
        return undefined;
      case 'dir':
        return {
          isLarge: false,
          run: () => this.dirs.ensure(placed.segments).then(() => { this.s.dirs++; }, (err) => this.fail(uri, describe(err))),
        };
      case 'archive':
        return this.considerArchive(loc, obj, uri, source);
      case 'file': {
        source.objects++;
        source.bytes += obj.size;
        if (placed.renamedFrom) {
          this.s.renamed++;
          log.debug({ key: obj.key, path: placed.segments.join('/') }, 'renamed on a name clash');
        }
        this.input.progress.add(obj.size);
        const target = resolveInside(this.root, placed.segments);
        return {
          isLarge: isLarge(this.fetch, obj),
          run: async () => {
            if (await this.fetchFile(uri, { bucket: loc.bucket, ...obj }, target, placed.segments)) this.noteFile(placed.segments.join('/'), placed.role);
          },
        };
      }
    }
  }

  /** Fetch one object unless it is already there; true when the file is in place. */
  private async fetchFile(uri: string, meta: ObjectMeta, target: string, segments: readonly string[]): Promise<boolean> {
    const progress = this.input.progress;
    try {
      if (!this.fresh && await isUpToDate(target, meta)) {
        this.s.skipped++;
        this.s.bytesSkipped += meta.size;
        progress.skip(meta.size);
        return true;
      }
      await this.dirs.ensure(segments.slice(0, -1));
      const started = this.debug ? Date.now() : 0;
      const r = await fetchObject(this.fetch, meta, target);
      this.s.downloaded++;
      this.s.bytesDownloaded += r.bytes;
      this.s.bytesResumed += r.resumedBytes;
      progress.done(r.resumedBytes);
      metrics.bytesTotal.inc({ direction: 'download' }, r.bytes);
      metrics.objectsTotal.inc({ direction: 'download' });
      // built only when asked for: at info level this line would cost an object and a join per file
      if (this.debug) log.debug({ key: meta.key, path: segments.join('/'), bytes: r.bytes, verified: r.verified, ms: Date.now() - started }, 'fetched');
      return true;
    } catch (err) {
      if (this.input.signal.aborted) {
        this.s.notFetched++;
        return false;
      }
      progress.fail(meta.size);
      this.fail(uri, describe(err));
      return false;
    }
  }

  private noteFile(path: string, role: Role): void {
    if (role === 'ancillary') this.s.rootFiles.push(path);
    this.s.byRole[role] = (this.s.byRole[role] ?? 0) + 1;
  }

  private fail(uri: string, reason: string): void {
    this.s.failed++;
    metrics.failuresTotal.inc({ direction: 'download' });
    // bounded: thousands of distinct reasons (byte counts in them) must not grow without end
    const group = reason in this.s.failureReasons || Object.keys(this.s.failureReasons).length < 50 ? reason : 'other reasons';
    this.s.failureReasons[group] = (this.s.failureReasons[group] ?? 0) + 1;
    if (this.s.failures.length < 100) this.s.failures.push({ uri, reason });
    if (this.s.failed <= LOGGED_FAILURES) log.error({ uri, reason }, `could not fetch ${uri}: ${reason}`);
    else if (this.s.failed === LOGGED_FAILURES + 1) log.error('more failures: only counting them from now on (see the summary)');
  }

  // --- archives (odm layout) ---

  private async considerArchive(loc: S3Location, obj: ListedObject, uri: string, source: SourceSummary): Promise<Job | undefined> {
    const id = createHash('sha256').update(`${loc.bucket}/${obj.key}`).digest('hex').slice(0, 24);
    const kind = archiveKind(obj.key)!;
    const ext = obj.key.toLowerCase().endsWith('.tar.gz') ? '.tar.gz' : obj.key.slice(obj.key.lastIndexOf('.')).toLowerCase();
    const segments = [...ARCHIVE_DIR, `${id}${ext}`];
    const pending: PendingArchive = {
      uri, obj, kind, file: resolveInside(this.root, segments), markerFile: resolveInside(this.root, [...ARCHIVE_DIR, `${id}.json`]), fetched: false,
    };
    this.archives.push(pending);
    source.objects++;
    source.bytes += obj.size;
    pending.previous = await this.readMarker(pending);
    if (pending.previous) return undefined;
    this.input.progress.add(obj.size);
    return {
      isLarge: isLarge(this.fetch, obj),
      run: async () => {
        pending.fetched = await this.fetchFile(uri, { bucket: loc.bucket, ...obj }, pending.file, segments);
      },
    };
  }

  /** The files a previous run extracted from this object version, if they are all still there. */
  private async readMarker(a: PendingArchive): Promise<ExtractedFile[] | undefined> {
    try {
      const m = JSON.parse(await readFile(a.markerFile, 'utf8')) as ArchiveMarker;
      if (m.key !== a.obj.key || m.etag !== a.obj.etag || m.size !== a.obj.size) return undefined;
      for (const f of m.files) {
        const check = checkRelativePath(f.path);
        if (!check.ok || !(await isFileOfSize(resolveInside(this.root, check.segments), f.size))) return undefined;
      }
      return m.files;
    } catch {
      return undefined;
    }
  }

  private async extractArchives(): Promise<void> {
    const c = this.input.config;
    const budget: ExtractBudget = { maxBytes: c.archiveMaxBytes, maxFiles: c.archiveMaxFiles, bytes: 0, files: 0 };
    for (const a of this.archives) {
      if (this.input.signal.aborted) throw this.input.signal.reason;
      if (a.previous) {
        for (const f of a.previous) {
          this.layout.claim(f.path.split('/'));
          this.noteFile(f.path, f.role);
        }
        budget.files += a.previous.length;
        budget.bytes += a.previous.reduce((n, f) => n + f.size, 0);
        this.s.skipped += a.previous.length;
        this.s.archives.push({ uri: a.uri, files: a.previous.length, status: 'already extracted' });
        continue;
      }
      if (!a.fetched) {
        this.s.archives.push({ uri: a.uri, files: 0, status: 'failed' });
        continue;
      }
      const files: ExtractedFile[] = [];
      let error: unknown;
      try {
        await extractArchive(a.file, a.kind, files, {
          root: this.root, dirs: this.dirs, layout: this.layout, scope: `archive:${a.obj.key}`, budget,
          onRefused: (entry, reason) => this.fail(`${a.uri}!${entry}`, reason),
          onIgnored: (entry, reason) => {
            this.s.ignored++;
            log.debug({ archive: a.uri, entry, reason }, 'archive entry ignored');
          },
        });
      } catch (err) {
        error = err;
      }
      // files written before a failure are complete and stay; the archive is fetched again next time
      for (const f of files) this.noteFile(f.path, f.role);
      this.s.extracted += files.length;
      if (error) {
        this.fail(a.uri, error instanceof ArchiveLimitError ? error.message : `extraction failed: ${describe(error)}`);
        this.s.archives.push({ uri: a.uri, files: files.length, status: 'failed' });
        continue;
      }
      this.s.archives.push({ uri: a.uri, files: files.length, status: 'extracted' });
      log.info({ archive: a.uri, files: files.length }, `extracted ${files.length} file${files.length === 1 ? '' : 's'} from ${a.uri}`);
      const marker: ArchiveMarker = { key: a.obj.key, etag: a.obj.etag, size: a.obj.size, files };
      await atomicWrite(a.markerFile, JSON.stringify(marker), { mode: 0o644 });
      await rm(a.file, { force: true });
    }
  }
}

async function isFileOfSize(path: string, size: number): Promise<boolean> {
  try {
    const st = await lstat(path);
    return st.isFile() && st.size === size;
  } catch {
    return false;
  }
}

/** Large objects fetched at once: their ranges share the socket budget with whole-object downloads. */
export function bigObjectSlots(c: Pick<Config, 'downloadConcurrency' | 'rangeConcurrency'>): number {
  return Math.max(1, Math.floor(c.downloadConcurrency / c.rangeConcurrency));
}

/** Sockets the download needs: one per whole-object download, plus the ranges of large ones, plus listing. */
export function downloadSockets(c: Pick<Config, 'downloadConcurrency' | 'rangeConcurrency'>): number {
  return c.downloadConcurrency + bigObjectSlots(c) * c.rangeConcurrency + 4;
}
