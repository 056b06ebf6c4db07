// The upload journal: what has landed in S3 (path, size, mtime, checksum, ETag), kept on the
// shared volume so a restarted sidecar (container restart, kill -9) re-uploads only what
// changed or was in flight.
//
// Format: JSON lines. The first line is a header naming the destination; every later line
// records one upload ({"p":...}) or one removal ({"p":...,"rm":1}); the last record for a
// path wins. Multipart uploads in flight are recorded too ({"u":UploadId,"k":key,"o":owner},
// then {"u":...,"rm":1}), so an incomplete upload can be told to be this journal's (see
// stranded.ts); older versions skip those lines. Appending one line per upload keeps a 100k-file job at O(1) per upload; the file
// is compacted (rewritten atomically) when opened. A line cut short by a crash is ignored, so
// the worst a crash costs is re-uploading the files of the lines it lost.
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { atomicWrite } from '../util/atomic-write.js';
import { log } from '../log.js';
import type { FileSig } from './output-tree.js';

export interface JournalEntry extends FileSig {
  /** full-object CRC32 (base64, as S3's x-amz-checksum-crc32) */
  crc32: string;
  /** ETag from HeadObject / PutObject */
  etag: string;
  /** ISO time of the upload */
  at: string;
}

interface Header {
  s3sidecarJournal: 1;
  bucket: string;
  prefix: string;
  /** first start of this job's sidecar: the manifest's startedAt survives restarts */
  startedAt: string;
  /**
   * the sidecar's own files in the output dir (relative paths) named by any run so far: a later
   * `upload` without the hand-off flags of the `run` that wrote them still never uploads them
   */
  ownFiles?: string[];
}

type Line = { p: string; rm?: 1 } & Partial<JournalEntry>;

/** A multipart upload this journal's writer started and has not seen end. */
export interface OpenUpload {
  key: string;
  /** who started it: "<hostname>/<pid>/<run id>" (see stranded.ts) */
  owner: string;
}
type UploadLine = { u: string; k?: string; o?: string; rm?: 1 };

/** fsync at most this often: a kill -9 keeps everything written (page cache); only a node crash loses the tail. */
const SYNC_INTERVAL_MS = 1000;

export class Journal {
  private fh: FileHandle | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  private readonly open = new Map<string, OpenUpload>();

  private constructor(readonly path: string, readonly header: Header, private readonly entries: Map<string, JournalEntry>) {}

  /**
   * Load (or start) the journal for this destination; the records of a journal for another
   * bucket/prefix are discarded (its own-files list is kept: it is about the dir). `ownFiles`
   * are added to the list, which `header.ownFiles` then holds.
   */
  static async open(path: string, bucket: string, prefix: string, ownFiles: string[] = [], now = new Date()): Promise<Journal> {
    const entries = new Map<string, JournalEntry>();
    let header: Header | undefined;
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const lines = text.split('\n');
    let knownOwn: string[] = [];
    try {
      const h = JSON.parse(lines[0] ?? '') as Header;
      if (Array.isArray(h.ownFiles)) knownOwn = h.ownFiles.filter((f) => typeof f === 'string');
      if (h.s3sidecarJournal === 1 && h.bucket === bucket && h.prefix === prefix) header = h;
      else if (text) log.warn({ journal: path }, 'journal is for another destination; starting a new one');
    } catch {
      if (text) log.warn({ journal: path }, 'journal header unreadable; starting a new one');
    }
    const uploads = new Map<string, OpenUpload>();
    if (header) {
      for (const raw of lines.slice(1)) {
        if (!raw) continue;
        let l: Line;
        try {
          l = JSON.parse(raw) as Line;
        } catch {
          continue; // a line cut short by a crash
        }
        const u = l as unknown as UploadLine;
        if (typeof u.u === 'string') {
          if (u.rm) uploads.delete(u.u);
          else uploads.set(u.u, { key: String(u.k ?? ''), owner: String(u.o ?? '') });
          continue;
        }
        if (typeof l.p !== 'string') continue;
        if (l.rm) entries.delete(l.p);
        else if (typeof l.size === 'number' && typeof l.mtimeNs === 'string') {
          entries.set(l.p, { size: l.size, mtimeNs: l.mtimeNs, crc32: l.crc32 ?? '', etag: l.etag ?? '', at: l.at ?? '' });
        }
      }
    }
    header ??= { s3sidecarJournal: 1, bucket, prefix, startedAt: now.toISOString() };
    header.ownFiles = [...new Set([...knownOwn, ...ownFiles])].sort();
    const j = new Journal(path, header, entries);
    for (const [id, u] of uploads) j.open.set(id, u);
    await j.compact();
    return j;
  }

  get size(): number {
    return this.entries.size;
  }

  get(rel: string): JournalEntry | undefined {
    return this.entries.get(rel);
  }

  all(): [string, JournalEntry][] {
    return [...this.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  record(rel: string, e: JournalEntry): Promise<void> {
    this.entries.set(rel, e);
    return this.append({ p: rel, ...e });
  }

  remove(rel: string): Promise<void> {
    if (!this.entries.delete(rel)) return Promise.resolve();
    return this.append({ p: rel, rm: 1 });
  }

  /** Multipart uploads recorded as started and not yet ended (UploadId → key, owner). */
  openUploads(): Map<string, OpenUpload> {
    return new Map(this.open);
  }

  /** A multipart upload was started: on disk before its parts go out. */
  uploadStarted(id: string, u: OpenUpload): Promise<void> {
    this.open.set(id, u);
    return this.append({ u: id, k: u.key, o: u.owner });
  }

  uploadEnded(id: string): Promise<void> {
    if (!this.open.delete(id)) return Promise.resolve();
    return this.append({ u: id, rm: 1 });
  }

  /** Write everything out and fsync. */
  async flush(): Promise<void> {
    await this.writing;
    await this.fh?.sync();
  }

  async close(): Promise<void> {
    clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    await this.flush();
    await this.fh?.close();
    this.fh = undefined;
  }

  private async compact(): Promise<void> {
    const uploads = [...this.open].map(([u, o]) => JSON.stringify({ u, k: o.key, o: o.owner }));
    const body = [JSON.stringify(this.header), ...this.all().map(([p, e]) => JSON.stringify({ p, ...e })), ...uploads].join('\n') + '\n';
    await atomicWrite(this.path, body, { mode: 0o600 });
    this.fh = await open(this.path, 'a', 0o600);
  }

  private append(line: Line | UploadLine): Promise<void> {
    // Serialised: appends of one writer never interleave, and flush() can wait for them.
    this.writing = this.writing.then(async () => {
      await this.fh?.appendFile(JSON.stringify(line) + '\n');
    }).catch((err: unknown) => {
      log.error({ err, journal: this.path }, 'cannot write the journal (a restart would re-upload these files)');
    });
    this.syncTimer ??= setTimeout(() => {
      this.syncTimer = undefined;
      void this.flush().catch(() => {});
    }, SYNC_INTERVAL_MS).unref();
    return this.writing;
  }
}
