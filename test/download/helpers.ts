// Helpers for the download tests: seed a bucket, run the CLI against the lab, look at trees.
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config.js';
import type { CredentialHolder } from '../../src/credentials/types.js';
import { ObjectGetter } from '../../src/s3/object-get.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { adminS3, labEnv, requireLab, tempBucket, type Lab } from '../helpers/lab.js';

/** The lab, a fresh bucket (removed after the test) and an admin client for it. */
export async function labBucket(t: TestContext, stem: string): Promise<{ lab: Lab; bucket: string; s3: S3Client }> {
  const lab = requireLab(t);
  const bucket = await tempBucket(t, lab, stem);
  const s3 = adminS3(lab);
  t.after(() => s3.destroy());
  return { lab, bucket, s3 };
}

/** Upload `objects` (key -> body), 16 at a time. */
export async function seed(s3: S3Client, bucket: string, objects: Record<string, string | Uint8Array>): Promise<void> {
  const entries = Object.entries(objects);
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < entries.length) {
      const [Key, Body] = entries[next++]!;
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body }));
    }
  }));
}

/** Deterministic pseudo-random bytes, so a failure can be reproduced. */
export function bytes(n: number, seedText = 'x'): Buffer {
  const out = Buffer.alloc(n);
  let block = createHash('sha256').update(seedText).digest();
  for (let o = 0; o < n; o += block.length) {
    block.copy(out, o);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

export function random(n: number): Buffer {
  return randomBytes(n);
}

export async function tempDir(t: TestContext, stem = 'dl'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `s3-sidecar-${stem}-`));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Child env for the CLI: pointing at the lab, static lab keys as the credentials source. */
export function dlEnv(lab: Lab, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return labEnv(lab, { AWS_ACCESS_KEY_ID: lab.accessKey, AWS_SECRET_ACCESS_KEY: lab.secretKey, ...extra });
}

export async function download(lab: Lab, args: string[], extra: Record<string, string | undefined> = {}, timeoutMs = 180_000): Promise<CliResult> {
  return runCli(['download', ...args], dlEnv(lab, extra), timeoutMs);
}

export interface Entry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  sha256?: string;
  ino: number;
  mtimeMs: number;
}

/** Every entry below `dir` (relative path -> what it is), symlinks not followed. */
export async function tree(dir: string, hash = true): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  async function walk(rel: string): Promise<void> {
    for (const name of await readdir(join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(dir, r));
      const type = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
      const e: Entry = { type, size: st.size, ino: st.ino, mtimeMs: st.mtimeMs };
      if (type === 'file' && hash) e.sha256 = createHash('sha256').update(await readFile(join(dir, r))).digest('hex');
      out.set(r, e);
      if (type === 'dir') await walk(r);
    }
  }
  await walk('');
  return out;
}

export function sha256(b: string | Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Files only, as path -> sha256. */
export async function files(dir: string): Promise<Record<string, string>> {
  const t = await tree(dir);
  const list = [...t].filter(([, e]) => e.type === 'file').map(([p, e]): [string, string] => [p, e.sha256!]);
  return Object.fromEntries(list.sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The final summary log line of a download run. */
export function summary(r: CliResult): Record<string, unknown> {
  const s = r.logs.find((l) => l.summary === 'download');
  if (!s) throw new Error(`no summary line (exit ${r.code}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
  return s;
}

export function explain(r: CliResult): string {
  return `exit ${r.code}\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`;
}

/** The lean getter (and, through `.http`, the lean listing) pointed at the lab; destroyed after the test. */
export function labGetter(t: TestContext, lab: Lab, holder: CredentialHolder): ObjectGetter {
  const config = loadConfig('download', ['--endpoint-url', lab.endpoint, '--region', lab.region], {});
  const g = new ObjectGetter(config, holder, { maxSockets: 4, socketTimeoutMs: 30_000 });
  t.after(() => g.destroy());
  return g;
}
