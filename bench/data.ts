// Benchmark data: every file's bytes are a pure function of (id, offset), so a source tree can be
// written, an S3 prefix seeded, and any byte range of any result checked, without keeping copies.
// Bytes come from a 64 MiB AES-CTR keystream (incompressible, fast to make) read at a per-file
// offset; the first 32 bytes carry the file id so no two files are equal.
import { createCipheriv } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

const POOL_BYTES = 64 * MiB;
const HEADER_BYTES = 32;
let pool: Buffer | undefined;

function keystream(): Buffer {
  if (!pool) {
    const cipher = createCipheriv('aes-256-ctr', Buffer.alloc(32, 0x5a), Buffer.alloc(16));
    pool = cipher.update(Buffer.alloc(POOL_BYTES));
  }
  return pool;
}

export interface FileSpec {
  /** path relative to the tree root = key relative to the prefix */
  rel: string;
  size: number;
  id: number;
}

export interface Dataset {
  name: string;
  files: FileSpec[];
  totalBytes: number;
}

export function dataset(name: string, files: Array<Omit<FileSpec, 'id'>>): Dataset {
  const withIds = files.map((f, id) => ({ ...f, id }));
  return { name, files: withIds, totalBytes: withIds.reduce((n, f) => n + f.size, 0) };
}

export function formatSize(n: number): string {
  if (n >= GiB && n % GiB === 0) return `${n / GiB} GiB`;
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  return `${n / KiB} KiB`;
}

/** "600 × 4 MiB", "1 × 2 GiB + 3 × 64 KiB" */
export function describeDataset(ds: Dataset): string {
  const bySize = new Map<number, number>();
  for (const f of ds.files) bySize.set(f.size, (bySize.get(f.size) ?? 0) + 1);
  return [...bySize].map(([size, n]) => `${n.toLocaleString('en')} × ${formatSize(size)}`).join(' + ');
}

/** The bytes [pos, pos+len) of file `f`. */
export function bytesOf(f: FileSpec, pos: number, len: number): Buffer {
  const src = keystream();
  const out = Buffer.allocUnsafe(len);
  // an odd multiplier keeps the start offsets of ids < 2^26 distinct
  let at = (f.id * 7_919_113 + pos) % POOL_BYTES;
  for (let done = 0; done < len; ) {
    const n = Math.min(len - done, POOL_BYTES - at);
    src.copy(out, done, at, at + n);
    done += n;
    at = 0;
  }
  if (pos < HEADER_BYTES) {
    const header = Buffer.alloc(HEADER_BYTES, 0x20);
    header.write(`s3-sidecar-bench ${f.id}`);
    header.copy(out, 0, pos, Math.min(HEADER_BYTES, pos + len));
  }
  return out;
}

/** The whole file as chunks of at most `chunk` bytes (for streaming large files). */
export function* chunksOf(f: FileSpec, chunk = 8 * MiB): Generator<Buffer> {
  for (let pos = 0; pos < f.size; pos += chunk) yield bytesOf(f, pos, Math.min(chunk, f.size - pos));
}

async function writeFile(root: string, f: FileSpec): Promise<void> {
  const path = join(root, f.rel);
  await mkdir(dirname(path), { recursive: true });
  const fh = await open(path, 'w');
  try {
    for (const c of chunksOf(f)) await fh.write(c);
  } finally {
    await fh.close();
  }
}

/** Write the dataset below `root` (4 files at a time). */
export async function writeTree(root: string, ds: Dataset): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ds.files.length) await writeFile(root, ds.files[next++]!);
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

/** A spread of files to checksum: first, last and evenly spaced ones between. */
export function sampleFiles(ds: Dataset, count = 8): FileSpec[] {
  const n = ds.files.length;
  if (n <= count) return ds.files;
  const picks = new Set<number>();
  for (let i = 0; i < count; i++) picks.add(Math.round((i * (n - 1)) / (count - 1)));
  return [...picks].map((i) => ds.files[i]!);
}

/** Byte ranges to compare for one sampled file: all of a small file; head, middle and tail of a big one. */
export function sampleRanges(f: FileSpec): Array<{ pos: number; len: number }> {
  if (f.size <= 64 * MiB) return [{ pos: 0, len: f.size }];
  const len = MiB;
  return [0, Math.floor(f.size / 3), Math.floor((2 * f.size) / 3), f.size - len].map((pos) => ({ pos, len }));
}
