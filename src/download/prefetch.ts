// The prefetch engine behind `s3-sidecar download` (and `run --prefetch`): list each input
// prefix as a stream, filter, check every key, let the layout place it, and fetch with bounded
// parallelism while the listing continues. Archives (odm layout) are fetched aside and extracted
// after the listing, in key order, so their renames are as deterministic as the objects'.
import { createHash } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import type { Config } from '../config.js';
import { log } from '../log.js';
import { metrics } from '../metrics.js';
import type { Progress } from './progress.js';
import { BufferPool } from '../util/buffer-pool.js';
import { fetchObject, isLarge, isUpToDate, localDisk, type FetchContext, type ObjectMeta } from './object.js';
import { makeKeyFilter, type KeyFilter } from './filter.js';
import { checkRelativePath, DirMaker, isDirectoryMarker, relativeKey, resolveInside } from '../util/keys.js';
import type { Layout, Role } from './layout/types.js';
import { archiveKind } from './archive.js';
import { readArchiveMarker } from './archive-marker.js';
import { extractPending, type PendingArchive } from './pending-archives.js';
import type { PrefetchSummary, SourceSummary } from './summary.js';
import { listObjects, type ListedObject } from '../s3/list.js';
import type { ObjectGetter } from '../s3/object-get.js';
import { describe, RETRY_POLICIES, type WatchedRetry, type ServerWatch } from '../s3/retry.js';
import { SMALL_OBJECT_BYTES } from './small-file.js';
import { formatS3Uri, parseS3Uri, type S3Location } from '../config/s3-uri.js';
import { removeEmptyStateDirs, ReservedNames, STATE_DIR } from './reserved.js';
import { bigObjectSlots } from './sockets.js';


/** Where the odm layout keeps archives between download and extraction, and their markers. */
const ARCHIVE_DIR = [STATE_DIR, 'archives'];
export const TMP_DIR = [STATE_DIR, 'tmp'];
/** Failures logged one by one; the rest are only counted (30k AccessDenied lines help nobody). */
const LOGGED_FAILURES = 50;

export interface PrefetchInput {
  config: Config;
  /** the SDK client, for GETs that need its checksum validation: created on first use */
  sdk: () => Promise<S3Client>;
  getter: ObjectGetter;
  signal: AbortSignal;
  watch: ServerWatch;
  progress: Progress;
  /** where each key lands (a fresh one per prefetch: layouts remember the names they gave) */
  layout: Layout;
  /** the layout's own excludes, applied before --input-exclude */
  layoutExcludes: readonly string[];
}

/** One unit of work for the queues. */
interface Job {
  run: () => Promise<void>;
  /** fetched as byte ranges: queued with the other large objects */
  isLarge: boolean;
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
  private readonly retry: WatchedRetry;
  private readonly fetch: FetchContext;
  private readonly archives: PendingArchive[] = [];
  private readonly reserved: ReservedNames;
  /** an empty target dir needs no "is it already there?" lstat per object */
  private fresh = false;
  private readonly debug = log.isLevelEnabled('debug');

  constructor(private readonly input: PrefetchInput) {
    const c = input.config;
    this.root = resolve(c.inputDir!);
    this.dirs = new DirMaker(this.root);
    this.layout = input.layout;
    this.reserved = new ReservedNames(c.readyFile);
    this.filter = makeKeyFilter({
      include: c.inputInclude,
      exclude: [...input.layoutExcludes, ...c.inputExclude],
      maxDepth: c.maxDepth,
    });
    this.retry = {
      ...RETRY_POLICIES.download(c.downloadRetries), watch: input.watch, signal: input.signal,
      onRetry: (err, attempt, delayMs, what, counted) => {
        // a silent server makes every request retry: the ServerWatch speaks for those, once
        const level = counted ? 'warn' : 'debug';
        log[level]({ what, attempt, delayMs: Math.round(delayMs), reason: describe(err) }, `retrying ${what} (attempt ${attempt + 1}) after: ${describe(err)}`);
      },
    };
    this.fetch = {
      sdk: input.sdk, getter: input.getter, retry: this.retry, buffers: new BufferPool(c.downloadConcurrency * SMALL_OBJECT_BYTES), disk: localDisk(),
      rangeThreshold: c.rangeThreshold, rangeSize: c.rangeSize, rangeConcurrency: c.rangeConcurrency, tmpDir: resolveInside(this.root, TMP_DIR),
      onBytes: (n) => input.progress.moved(n),
    };
  }

  async run(): Promise<PrefetchSummary> {
    await mkdir(this.root, { recursive: true });
    this.fresh = (await readdir(this.root)).length === 0;
    await this.dirs.ensure(TMP_DIR);
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
      if (this.archives.length) {
        await extractPending(this.archives, {
          root: this.root, tmpDir: this.fetch.tmpDir, dirs: this.dirs, layout: this.layout, config: this.input.config, signal: this.input.signal, summary: this.s,
          fail: (uri, reason) => this.fail(uri, reason), noteFile: (path, role) => this.noteFile(path, role),
        });
      }
    } catch (err) {
      if (!this.input.signal.aborted) throw err;
      files.clearQueue();
      large.clearQueue();
      await Promise.allSettled(tasks);
    }
    // jobs swallow their own errors, so an abort during the downloads shows only here
    if (this.input.signal.aborted) this.s.stoppedBy = describe(this.input.signal.reason);
    await removeEmptyStateDirs(this.root);
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
    const reserved = (placed.kind === 'file' || placed.kind === 'dir') && this.reserved.reason(placed.segments, resolveInside(this.root, placed.segments));
    if (reserved) return void this.fail(uri, `key refused: ${reserved}`);
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
    pending.previous = await readArchiveMarker(this.root, pending.markerFile, obj);
    if (pending.previous) return undefined;
    this.input.progress.add(obj.size);
    return {
      isLarge: isLarge(this.fetch, obj),
      run: async () => {
        pending.fetched = await this.fetchFile(uri, { bucket: loc.bucket, ...obj }, pending.file, segments);
      },
    };
  }
}
