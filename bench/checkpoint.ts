// Checkpoint benchmark: a project dir shaped like a mid-size ODM job (per image: OpenSfM
// features, exif and matches, an undistorted TIFF, a depth map; plus the dense point cloud and
// meshes), checkpointed twice as `run` does at stage boundaries (after opensfm with everything
// new, after openmvs with only that stage's outputs new), restored with `s3-sidecar restore`,
// and, beside it, the same objects fetched with `s3-sidecar download` (mirror layout).
// Reports seconds and bytes of each step. Sizes are configurable; the default is ~2 GiB in
// ~6,000 files. The bench lab (bench/lab.ts) serves it unless --shared-lab uses the test lab.
//   npm run bench:checkpoint -- [--images 1200] [--gib 2] [--shared-lab] [--keep]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { Checkpointer } from '../src/checkpoint/checkpointer.js';
import { log } from '../src/log.js';
import { seeded } from '../test/upload/odm-replay.js';
import { GiB, KiB, MiB } from './data.js';
import { formatBytes as formatSize } from '../src/download/progress.js';
import { startLab, type BenchLab } from './lab.js';
import { lockBench } from './lock.js';
import { deleteAllObjects, ensureBucket } from './checkpoint-s3.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: o } = parseArgs({
  options: {
    images: { type: 'string', default: '1200' },
    gib: { type: 'string', default: '2' },
    'shared-lab': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const images = Number(o.images);
const totalBytes = Number(o.gib) * GiB;
log.level = 'warn';

/** The tree of one stage: rel path -> size. The per-image files share what --gib allows. */
function opensfmStage(): Map<string, number> {
  const files = new Map<string, number>();
  // shares of the total bytes, as seen in ODM projects: undistorted TIFFs dominate
  const per = totalBytes / images;
  for (let i = 0; i < images; i++) {
    const img = `IMG_${String(i).padStart(5, '0')}.JPG`;
    files.set(`opensfm/exif/${img}.exif`, 2 * KiB);
    files.set(`opensfm/features/${img}.features.npz`, Math.max(KiB, Math.round(per * 0.12)));
    files.set(`opensfm/matches/${img}_matches.pkl.gz`, Math.max(KiB, Math.round(per * 0.03)));
    files.set(`opensfm/undistorted/images/${img}.tif`, Math.max(KiB, Math.round(per * 0.55)));
  }
  files.set('opensfm/reconstruction.json', 4 * MiB);
  files.set('opensfm/tracks.csv', 8 * MiB);
  files.set('opensfm/undistorted/reconstruction.nvm', MiB);
  files.set('cameras.json', 2 * KiB);
  files.set('images.json', 64 * KiB);
  files.set('benchmark.txt', 100);
  return files;
}

function openmvsStage(): Map<string, number> {
  const files = new Map<string, number>();
  const per = totalBytes / images;
  for (let i = 0; i < images; i++) files.set(`opensfm/undistorted/openmvs/depthmaps/depth${String(i).padStart(5, '0')}.dmap`, Math.max(KiB, Math.round(per * 0.25)));
  files.set('opensfm/undistorted/openmvs/scene_dense_dense_filtered.ply', Math.max(MiB, Math.round(totalBytes * 0.05)));
  files.set('benchmark.txt', 200);
  return files;
}

function write(root: string, files: Map<string, number>): number {
  let bytes = 0;
  for (const [rel, size] of files) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), seeded(`${rel}:${size}`, size));
    bytes += size;
  }
  return bytes;
}

interface Row { step: string; seconds: number; files: number; bytes: number; note: string }

function cli(args: string[], env: NodeJS.ProcessEnv): { seconds: number; code: number | null; out: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/cli.js'), ...args], { env, encoding: 'utf8', maxBuffer: 256 * MiB });
  return { seconds: (performance.now() - t0) / 1000, code: r.status, out: r.stdout + r.stderr };
}

function sharedLab(): BenchLab {
  const out = spawnSync(join(ROOT, 'test/lab/start'), { encoding: 'utf8' }).stdout;
  const v = Object.fromEntries([...out.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!.replace(/^'(.*)'$/, '$1')]));
  return { endpoint: v.S3LAB_ENDPOINT!, region: v.S3LAB_REGION ?? 'us-east-1', accessKey: v.S3LAB_ACCESS_KEY!, secretKey: v.S3LAB_SECRET_KEY!, cephConf: '' };
}

async function main(): Promise<void> {
  const release = o['shared-lab'] ? () => {} : lockBench();
  const lab = o['shared-lab'] ? sharedLab() : startLab();
  const s3 = new S3Client({ endpoint: lab.endpoint, region: lab.region, forcePathStyle: true, credentials: { accessKeyId: lab.accessKey, secretAccessKey: lab.secretKey } });
  const bucket = `bench-checkpoint-${process.pid}`;
  const work = mkdtempSync(join(tmpdir(), 'bench-checkpoint-'));
  const project = join(work, 'project');
  const env = {
    ...process.env, AWS_ENDPOINT_URL: lab.endpoint, AWS_REGION: lab.region, AWS_ACCESS_KEY_ID: lab.accessKey,
    AWS_SECRET_ACCESS_KEY: lab.secretKey, SIDECAR_CREDENTIALS_SOURCE: 'static', SIDECAR_LOG_LEVEL: 'warn',
  };
  const rows: Row[] = [];
  try {
    await ensureBucket(s3, bucket);
    const cp = await Checkpointer.open({
      client: s3, bucket, prefix: 'ck/', root: project, filter: { exclude: ['images/**'], ownFiles: [] },
      concurrency: 64, partSize: 8 * MiB, partConcurrency: 4, strandedUploadAgeMs: 24 * 3600_000,
    });
    const stage = async (name: string, files: Map<string, number>) => {
      const written = write(project, files);
      cp.trigger(name, undefined);
      await cp.idle();
      const r = cp.results.at(-1)!;
      if (!r.committed) throw new Error(`checkpoint ${name} not committed: ${r.reason}`);
      rows.push({ step: `checkpoint after ${name}`, seconds: r.seconds, files: r.files, bytes: r.bytesSent, note: `${formatSize(written)} new on disk, ${formatSize(r.bytesReused)} reused` });
    };
    await stage('opensfm', opensfmStage());
    await stage('openmvs', openmvsStage());

    const restored = join(work, 'restored');
    const r = cli(['restore', '--output-dir', restored, '--checkpoint-prefix', `s3://${bucket}/ck/`], env);
    if (r.code !== 0) throw new Error(`restore failed:\n${r.out.slice(-3000)}`);
    const last = cp.results.at(-1)!;
    const bytes = last.bytesSent + last.bytesReused;
    rows.push({ step: 'restore (s3-sidecar restore)', seconds: r.seconds, files: last.files, bytes, note: 'verified by SHA-256, modes and mtimes set' });
    const downloaded = join(work, 'downloaded');
    const d = cli(['download', '--input-prefix', `s3://${bucket}/ck/objects/`, '--input-dir', downloaded], env);
    if (d.code !== 0) throw new Error(`download failed:\n${d.out.slice(-3000)}`);
    rows.push({ step: 'download of the same objects', seconds: d.seconds, files: last.files, bytes, note: 's3-sidecar download, mirror layout' });
  } finally {
    if (!o.keep) {
      rmSync(work, { recursive: true, force: true });
      await deleteAllObjects(s3, bucket).catch(() => {});
    }
    s3.destroy();
    release();
  }
  const lines = [
    `checkpoint bench: ${images} images, ${formatSize(totalBytes)} of intermediates (${o['shared-lab'] ? 'shared test lab' : 'bench lab'})`,
    '| step | seconds | files | bytes sent / fetched | note |', '|---|---|---|---|---|',
    ...rows.map((x) => `| ${x.step} | ${x.seconds.toFixed(2)} | ${x.files} | ${formatSize(x.bytes)} | ${x.note} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
