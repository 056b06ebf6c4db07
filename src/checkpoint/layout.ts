// Where checkpoints live below --checkpoint-prefix, and what a checkpoint manifest says.
//   <prefix>objects/<sha256>                  file contents, content-addressed: a file that did
//                                             not change is never sent twice
//   <prefix>checkpoints/<seq>-<stage>.json    one manifest per checkpoint, written last: its
//                                             presence is the commit; the highest seq is newest
import { checkRelativePath } from '../util/keys.js';

export const OBJECTS = 'objects/';
export const CHECKPOINTS = 'checkpoints/';
/** zero-padded so that key order is sequence order */
const SEQ_DIGITS = 8;
/** a manifest lists every file: 500k files at ~200 bytes each fit well inside this */
export const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;

export interface CheckpointFile {
  path: string;
  size: number;
  /** permission bits (mode & 0o7777) */
  mode: number;
  /** modification time, nanoseconds since the epoch, as a decimal string */
  mtimeNs: string;
  sha256: string;
}

export interface CheckpointDir {
  path: string;
  mode: number;
}

export interface CheckpointManifest {
  version: 1;
  generator: 's3-sidecar';
  seq: number;
  stage: string;
  /** when the boundary was seen and when the manifest was written (ISO 8601) */
  boundaryAt: string;
  committedAt: string;
  /** what the capture left out (globs, and the sidecar's own files): a restore keeps these as they are */
  exclude?: string[];
  ownFiles?: string[];
  dirs: CheckpointDir[];
  files: CheckpointFile[];
}

export function objectKey(prefix: string, sha256: string): string {
  return `${prefix}${OBJECTS}${sha256}`;
}

/** A stage name as it can appear in a key: anything unusual becomes "_". */
export function stageLabel(stage: string): string {
  return stage.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64) || 'checkpoint';
}

export function manifestKey(prefix: string, seq: number, stage: string): string {
  return `${prefix}${CHECKPOINTS}${String(seq).padStart(SEQ_DIGITS, '0')}-${stageLabel(stage)}.json`;
}

/** The sequence number of a manifest key below `<prefix>checkpoints/`, or undefined for anything else. */
export function seqOf(prefix: string, key: string): number | undefined {
  const m = /^(\d+)-[A-Za-z0-9_.-]+\.json$/.exec(key.slice(prefix.length + CHECKPOINTS.length));
  return key.startsWith(prefix + CHECKPOINTS) && m ? Number(m[1]) : undefined;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** Parse and check a manifest: anything malformed (or a path that would leave the directory) throws. */
export function parseManifest(text: string, key: string): CheckpointManifest {
  let m: CheckpointManifest;
  try {
    m = JSON.parse(text) as CheckpointManifest;
  } catch (err) {
    throw new Error(`checkpoint manifest ${key} is not JSON: ${(err as Error).message}`);
  }
  const bad = (why: string) => new Error(`checkpoint manifest ${key} is invalid: ${why}`);
  if (m?.version !== 1 || !Array.isArray(m.files) || !Array.isArray(m.dirs)) throw bad('not a version 1 manifest');
  for (const list of [m.exclude, m.ownFiles]) {
    if (list !== undefined && !(Array.isArray(list) && list.every((x) => typeof x === 'string'))) throw bad('exclude / ownFiles must be lists of strings');
  }
  for (const e of [...m.dirs, ...m.files]) {
    const check = checkRelativePath(String(e?.path));
    if (!check.ok) throw bad(`path "${String(e?.path)}": ${check.reason}`);
    if (!Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o7777) throw bad(`${e.path}: mode ${String(e.mode)}`);
  }
  for (const f of m.files) {
    if (!SHA256.test(String(f.sha256))) throw bad(`${f.path}: sha256 "${String(f.sha256)}"`);
    if (!Number.isSafeInteger(f.size) || f.size < 0) throw bad(`${f.path}: size ${String(f.size)}`);
    if (!/^\d+$/.test(String(f.mtimeNs))) throw bad(`${f.path}: mtimeNs "${String(f.mtimeNs)}"`);
  }
  return m;
}
