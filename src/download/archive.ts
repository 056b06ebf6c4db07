// Extract .zip (yauzl) and .tar / .tar.gz (tar's streaming Parser) archives by the layout's
// rules, one entry at a time, each through a part file + rename like a downloaded object.
// Every entry name is checked like a key (zip-slip: "..", absolute, NUL are refused, counted and
// logged); link, device and encrypted entries are refused; total bytes and entries are capped
// across all archives of a run before anything is written (sizes are declared up front: yauzl
// checks the inflated size matches, the tar parser reads exactly the header's size).
import { createReadStream } from 'node:fs';
import { rename, utimes } from 'node:fs/promises';
import type { Readable } from 'node:stream';
// both libraries load on the first archive (see extractZip/extractTar): most downloads have none
import type { ReadEntry } from 'tar';
import type yauzl from 'yauzl';
import { showBytes } from '../config/define.js';
import { CREATE_NOFOLLOW, DirMaker, checkRelativePath, resolveInside } from '../util/keys.js';
import type { Layout, Role } from './layout/types.js';
import { streamToFile } from './object.js';
import { partPath } from './part-file.js';

export interface ExtractBudget {
  maxBytes: number;
  maxFiles: number;
  /** used so far by this run, across archives */
  bytes: number;
  files: number;
}

export interface ExtractOptions {
  root: string;
  /** where `.part` files are written (no key can land there) */
  tmpDir: string;
  dirs: DirMaker;
  layout: Layout;
  /** groups the archive's entries for the layout (mask pairing), e.g. "archive:<key>" */
  scope: string;
  budget: ExtractBudget;
  /** an entry that must not be written (unsafe name, link): counted as a failure */
  onRefused(entry: string, reason: string): void;
  /** an entry the layout does not want (not an image, ...) */
  onIgnored(entry: string, reason: string): void;
}

export interface ExtractedFile {
  /** project-relative path with "/" */
  path: string;
  size: number;
  role: Role;
}

export class ArchiveLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveLimitError';
  }
}

interface EntryInfo {
  name: string;
  type: 'file' | 'dir' | 'link' | 'other';
  size: number;
  mtime?: Date | undefined;
}

/** Decide and (when wanted) write one entry; `open` yields its data only if it is written. */
async function extractEntry(opts: ExtractOptions, entry: EntryInfo, open: () => Promise<Readable>, out: ExtractedFile[]): Promise<boolean> {
  if (entry.type === 'dir') return false;
  // Every entry counts, also those refused or skipped below: a million ignored entries (or one
  // huge one the tar parser must read through) cost as much time as extracted ones.
  const b = opts.budget;
  if (b.files + 1 > b.maxFiles) throw new ArchiveLimitError(`archives hold more than --archive-max-files ${b.maxFiles} entries`);
  if (b.bytes + entry.size > b.maxBytes) throw new ArchiveLimitError(`archives hold more than --archive-max-bytes ${showBytes(b.maxBytes)}`);
  b.files++;
  b.bytes += entry.size;
  const name = entry.name;
  const check = checkRelativePath(name);
  if (!check.ok) {
    opts.onRefused(name, `unsafe archive entry refused: ${check.reason}`);
    return false;
  }
  if (entry.type === 'link') {
    opts.onRefused(name, 'link entry refused (links are never extracted)');
    return false;
  }
  if (entry.type === 'other') {
    opts.onRefused(name, 'special entry (device, FIFO, encrypted) refused');
    return false;
  }
  const placed = opts.layout.place(opts.scope, check.segments, false);
  if (placed.kind === 'archive') {
    opts.onIgnored(name, 'nested archive (not extracted)');
    return false;
  }
  if (placed.kind === 'ignore' || placed.kind === 'dir') {
    opts.onIgnored(name, placed.kind === 'ignore' ? placed.reason : 'directory');
    return false;
  }
  if (placed.kind === 'refuse') {
    opts.onRefused(name, placed.reason);
    return false;
  }
  const target = resolveInside(opts.root, placed.segments);
  await opts.dirs.ensure(placed.segments.slice(0, -1));
  const part = partPath(opts.tmpDir, target);
  await streamToFile(await open(), part, CREATE_NOFOLLOW);
  if (entry.mtime && !Number.isNaN(entry.mtime.getTime())) await utimes(part, entry.mtime, entry.mtime);
  await rename(part, target);
  out.push({ path: placed.segments.join('/'), size: entry.size, role: placed.role });
  return true;
}

/** Extract into the layout; `out` collects the files written, also when a later entry fails. */
export async function extractArchive(file: string, kind: 'zip' | 'tar', out: ExtractedFile[], opts: ExtractOptions): Promise<void> {
  if (kind === 'zip') await extractZip(file, opts, out);
  else await extractTar(file, opts, out);
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

async function extractZip(file: string, opts: ExtractOptions, out: ExtractedFile[]): Promise<void> {
  const { default: yauzl } = await import('yauzl');
  // decodeStrings: false, so one bad name is refused on its own instead of failing the archive
  const zip = await yauzl.openPromise(file, { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: true });
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      zip.close();
      reject(err);
    };
    zip.on('error', fail);
    zip.on('end', () => { if (!failed) resolve(); });
    zip.on('entry', (e: yauzl.Entry) => {
      const name = yauzl.getFileNameLowLevel(e.generalPurposeBitFlag, e.fileNameRaw, e.extraFields, false);
      const unixType = (e.externalFileAttributes >>> 16) & S_IFMT;
      const info: EntryInfo = {
        name: name.endsWith('/') ? name.slice(0, -1) : name,
        type: name.endsWith('/') ? 'dir' : unixType === S_IFLNK ? 'link' : e.isEncrypted() ? 'other' : 'file',
        size: e.uncompressedSize,
        mtime: e.getLastModDate(),
      };
      extractEntry(opts, info, () => zip.openReadStreamPromise(e), out).then(() => zip.readEntry(), fail);
    });
    zip.readEntry();
  });
}

const TAR_FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const TAR_LINK_TYPES = new Set(['Link', 'SymbolicLink']);

async function extractTar(file: string, opts: ExtractOptions, out: ExtractedFile[]): Promise<void> {
  // the Parser recognises gzip by its magic bytes, so .tar and .tar.gz take the same path
  const { Parser } = await import('tar');
  const parser = new Parser({ strict: true });
  const src = createReadStream(file);
  let chain = Promise.resolve();
  let failure: unknown;
  const stop = (err: unknown) => {
    failure ??= err;
    src.destroy();
  };
  const parsed = new Promise<void>((resolve, reject) => {
    src.on('error', (err) => (failure ? resolve() : reject(err)));
    src.on('close', () => { if (failure) resolve(); });
    parser.on('error', reject);
    parser.on('end', resolve);
  });
  parser.on('entry', (entry: ReadEntry) => {
    // entries arrive one after another (the parser waits for each to be consumed)
    chain = chain.then(async () => {
      if (failure) { entry.resume(); return; }
      const type = entry.type === 'Directory' ? 'dir' : TAR_FILE_TYPES.has(entry.type) ? 'file' : TAR_LINK_TYPES.has(entry.type) ? 'link' : 'other';
      const info: EntryInfo = { name: entry.path.replace(/\/+$/, ''), type, size: entry.size, mtime: entry.mtime };
      const wrote = await extractEntry(opts, info, async () => entry as unknown as Readable, out);
      if (!wrote) entry.resume();
    }).catch((err: unknown) => {
      entry.resume();
      stop(err);
    });
  });
  src.pipe(parser as unknown as NodeJS.WritableStream);
  await parsed;
  await chain;
  if (failure) throw failure;
}

/** Which kind of archive a key names, by its ending; undefined for anything else. */
export function archiveKind(name: string): 'zip' | 'tar' | undefined {
  const n = name.toLowerCase();
  if (n.endsWith('.zip')) return 'zip';
  if (n.endsWith('.tar') || n.endsWith('.tar.gz') || n.endsWith('.tgz')) return 'tar';
  return undefined;
}
