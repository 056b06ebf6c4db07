// What the checkpoint tests share: a Checkpointer on the lab with admin keys, a snapshot of a
// project tree (paths, sizes, modes, content) to compare restored trees with, and the manifests
// stored under a checkpoint prefix.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { Checkpointer, type CheckpointerOptions } from '../../src/checkpoint/checkpointer.js';
import { listPrefix } from '../upload/helpers/s3-check.js';

export interface TreeEntry {
  size: number;
  mode: string;
  sha256: string;
}

/** Every regular file below dir except `skip` top-level folders: path -> size, mode, content hash. */
export function snapshotTree(dir: string, skip: readonly string[] = ['images', '.s3-sidecar']): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (!rel && skip.includes(name)) continue;
      const st = lstatSync(join(dir, r));
      if (st.isDirectory()) walk(r);
      else if (st.isFile()) out[r] = { size: st.size, mode: (st.mode & 0o7777).toString(8), sha256: createHash('sha256').update(readFileSync(join(dir, r))).digest('hex') };
    }
  };
  walk('');
  return out;
}

export function openCheckpointer(s3: S3Client, bucket: string, prefix: string, root: string, extra: Partial<CheckpointerOptions> = {}): Promise<Checkpointer> {
  return Checkpointer.open({
    client: s3, bucket, prefix, root, filter: { exclude: ['images/**'], ownFiles: [] },
    concurrency: 16, partSize: 5 * 1024 * 1024, partConcurrency: 2, strandedUploadAgeMs: 24 * 3600_000, ...extra,
  });
}

/** Manifest keys (relative to the prefix) and object count below a checkpoint prefix. */
export async function stored(s3: S3Client, bucket: string, prefix: string): Promise<{ manifests: string[]; objects: string[] }> {
  const keys = [...(await listPrefix(s3, bucket, prefix)).keys()].sort();
  return { manifests: keys.filter((k) => k.startsWith('checkpoints/')), objects: keys.filter((k) => k.startsWith('objects/')) };
}
