// The marker an extracted archive leaves beside the input dir's state: which files came out of
// which object version. A re-run that finds every one of those files whole skips the archive.
import { lstat, readFile } from 'node:fs/promises';
import { atomicWrite } from '../util/atomic-write.js';
import { checkRelativePath, resolveInside } from '../util/keys.js';
import type { ExtractedFile } from './archive.js';

interface ArchiveMarker {
  key: string;
  etag?: string | undefined;
  size: number;
  files: ExtractedFile[];
}

interface ObjectVersion {
  key: string;
  etag?: string | undefined;
  size: number;
}

/** The files a previous run extracted from this object version, if they are all still there. */
export async function readArchiveMarker(root: string, markerFile: string, obj: ObjectVersion): Promise<ExtractedFile[] | undefined> {
  try {
    const m = JSON.parse(await readFile(markerFile, 'utf8')) as ArchiveMarker;
    if (m.key !== obj.key || m.etag !== obj.etag || m.size !== obj.size) return undefined;
    for (const f of m.files) {
      const check = checkRelativePath(f.path);
      if (!check.ok || !(await isFileOfSize(resolveInside(root, check.segments), f.size))) return undefined;
    }
    return m.files;
  } catch {
    return undefined;
  }
}

export async function writeArchiveMarker(markerFile: string, obj: ObjectVersion, files: ExtractedFile[]): Promise<void> {
  const marker: ArchiveMarker = { key: obj.key, etag: obj.etag, size: obj.size, files };
  await atomicWrite(markerFile, JSON.stringify(marker), { mode: 0o644 });
}

async function isFileOfSize(path: string, size: number): Promise<boolean> {
  try {
    const st = await lstat(path);
    return st.isFile() && st.size === size;
  } catch {
    return false;
  }
}
