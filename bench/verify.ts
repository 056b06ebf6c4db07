// Check a tool's result so a fast-but-wrong run cannot win: exactly the expected files (count,
// names, sizes, total bytes) and byte-for-byte content of a sample (whole small files, four 1 MiB
// ranges of large ones). Returns the problems found; empty means verified.
import type { S3Client } from '@aws-sdk/client-s3';
import { open, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { bytesOf, sampleFiles, sampleRanges, type Dataset } from './data.js';
import { getRange, listPrefix } from './s3.js';

type ReadRange = (rel: string, pos: number, len: number) => Promise<Buffer>;

async function walk(root: string, dir = root, out = new Map<string, number>()): Promise<Map<string, number>> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(root, p, out);
    else out.set(relative(root, p), (await stat(p)).size);
  }
  return out;
}

function compareListing(ds: Dataset, found: Map<string, number>): string[] {
  const problems: string[] = [];
  let bytes = 0;
  for (const size of found.values()) bytes += size;
  if (found.size !== ds.files.length || bytes !== ds.totalBytes) {
    problems.push(`found ${found.size} files / ${bytes} bytes, expected ${ds.files.length} / ${ds.totalBytes}`);
  }
  const wrong = ds.files.filter((f) => found.get(f.rel) !== f.size);
  if (wrong.length) problems.push(`${wrong.length} files missing or of the wrong size (first: ${wrong[0]!.rel})`);
  return problems;
}

async function compareSample(ds: Dataset, read: ReadRange): Promise<string[]> {
  const problems: string[] = [];
  for (const f of sampleFiles(ds)) {
    for (const { pos, len } of sampleRanges(f)) {
      if (!(await read(f.rel, pos, len)).equals(bytesOf(f, pos, len))) {
        problems.push(`content differs: ${f.rel} bytes ${pos}..${pos + len}`);
      }
    }
  }
  return problems;
}

export async function verifyTree(root: string, ds: Dataset): Promise<string[]> {
  const problems = compareListing(ds, await walk(root));
  if (problems.length) return problems;
  return compareSample(ds, async (rel, pos, len) => {
    const fh = await open(join(root, rel), 'r');
    try {
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, pos);
      return buf;
    } finally {
      await fh.close();
    }
  });
}

/** `extraKeys`: keys a tool may add on purpose (s3-sidecar's completion manifest). */
export async function verifyPrefix(
  s3: S3Client, bucket: string, prefix: string, ds: Dataset, extraKeys: string[] = [],
): Promise<string[]> {
  const found = await listPrefix(s3, bucket, prefix);
  for (const k of extraKeys) found.delete(k);
  const problems = compareListing(ds, found);
  if (problems.length) return problems;
  return compareSample(ds, (rel, pos, len) => getRange(s3, bucket, prefix + rel, pos, len));
}
