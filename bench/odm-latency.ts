// Upload case 3: how long after a product becomes final is it readable in S3? `s3-sidecar run
// --preset odm` watches a project dir; we write odm_orthophoto/odm_orthophoto.tif while it runs,
// check it is NOT in S3 yet, append ODM's stage line to benchmark.txt (the moment the product is
// final), then poll HeadObject until the object is there with its full size, and check its bytes.
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { appendFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dataset, describeDataset, MiB, writeTree } from './data.js';
import { collectGarbage, type BenchLab } from './lab.js';
import { median } from './report.js';
import { benchClient, emptyPrefix } from './s3.js';
import { SIDECAR_CLI } from './snapshot.js';
import { baseEnv } from './tools.js';
import { verifyPrefix } from './verify.js';

export interface OdmLatencyOptions { work: string; home: string; runs: number; quick: boolean; bucket: string }

const PRODUCT = 'odm_orthophoto/odm_orthophoto.tif';
const TARGET_S = 2;
/** time the sidecar gets to start and scan before the product appears (generous on a loaded machine) */
const SETTLE_MS = 3000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function headSize(s3: S3Client, bucket: string, key: string): Promise<number | undefined> {
  try {
    return (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentLength;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
    throw err;
  }
}

/** One measurement: seconds from the stage line to the object being readable, or a failure. */
async function once(lab: BenchLab, s3: S3Client, o: OdmLatencyOptions, run: number, size: number): Promise<number | string> {
  const project = join(o.work, 'odm', `project-${run}`);
  const prefix = `odm-latency/run-${run}/`;
  const key = prefix + PRODUCT;
  const ds = dataset('odm-latency', [{ rel: PRODUCT, size }]);
  await rm(project, { recursive: true, force: true });
  await mkdir(project, { recursive: true });
  await writeFile(join(project, 'benchmark.txt'), 'dataset runtime: 1.2 seconds\n');
  const logFile = join(o.work, 'logs', `upload-odm-latency-${run}.log`);
  const args = [SIDECAR_CLI, 'run', '--preset', 'odm', '--endpoint-url', lab.endpoint,
    '--output-dir', project, '--output-prefix', `s3://${o.bucket}/${prefix}`,
    '--journal-file', join(o.work, 'odm', `journal-${run}.json`), '--done-file', join(o.work, 'odm', `done-${run}`),
    '--progress-udp', 'off'];
  const log: Buffer[] = [];
  const child = spawn(process.execPath, args, { env: baseEnv({ lab, url: lab.endpoint, home: o.home }), stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d: Buffer) => log.push(d));
  child.stderr.on('data', (d: Buffer) => log.push(d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  let kept = false;
  const keep = (why: string): string => {
    kept = true;
    return `${why} (project kept in ${project}, log ${logFile})`;
  };
  try {
    await sleep(SETTLE_MS);
    await writeTree(project, ds); // ODM renders the orthophoto in place, in one go
    await sleep(1000);
    if ((await headSize(s3, o.bucket, key)) !== undefined) return keep('uploaded before its stage was final (cannot time the signal)');
    const t0 = performance.now();
    await appendFile(join(project, 'benchmark.txt'), 'odm_orthophoto runtime: 31.4 seconds\n');
    for (;;) {
      if ((await headSize(s3, o.bucket, key)) === size) break;
      if (performance.now() - t0 > 120_000) return keep('not in S3 120 s after its stage line');
      if (child.exitCode !== null) return keep(`s3-sidecar exited with ${child.exitCode}`);
      await sleep(10);
    }
    const latency = (performance.now() - t0) / 1000;
    await writeFile(join(o.work, 'odm', `done-${run}`), '');
    const code = await Promise.race([exited, sleep(60_000).then(() => 'timeout')]);
    if (code !== 0) return keep(`s3-sidecar run ended with ${code} after the done file`);
    const problems = await verifyPrefix(s3, o.bucket, prefix, ds, ['_manifest.json', 'benchmark.txt']);
    return problems.length ? keep(problems.join('; ')) : latency;
  } finally {
    child.kill();
    await Promise.race([exited, sleep(10_000)]); // its last log lines say how it shut down
    await writeFile(logFile, Buffer.concat(log));
    await emptyPrefix(s3, o.bucket, prefix);
    if (!kept) await rm(project, { recursive: true, force: true });
  }
}

export async function runOdmLatency(lab: BenchLab, o: OdmLatencyOptions): Promise<string> {
  const s3 = benchClient(lab);
  const size = (o.quick ? 20 : 100) * MiB;
  const results: Array<number | string> = [];
  for (let run = 1; run <= o.runs; run++) {
    const r = await once(lab, s3, o, run, size);
    process.stderr.write(`bench: upload-odm-latency-${run}: ${typeof r === 'number' ? `${r.toFixed(2)} s` : `FAILED: ${r}`}\n`);
    results.push(r);
  }
  collectGarbage(lab);
  s3.destroy();
  const ok = results.filter((r): r is number => typeof r === 'number');
  const failed = results.filter((r): r is string => typeof r === 'string');
  const shape = describeDataset(dataset('', [{ rel: PRODUCT, size }]));
  const med = ok.length ? median(ok) : NaN;
  return [
    `### Upload latency: stage line in benchmark.txt → object readable in S3 (s3-sidecar run --preset odm, loopback, ${shape})`,
    '',
    '| runs (s) | median s | target |',
    '|---|---:|---|',
    `| ${results.map((r) => (typeof r === 'number' ? r.toFixed(2) : 'failed')).join(', ')} | ${ok.length ? med.toFixed(2) : '–'} | ${failed.length === 0 && med <= TARGET_S ? '✓' : '✗'} ≤ ${TARGET_S} s |`,
    ...failed.map((f) => `\nFAILED: ${f}`),
  ].join('\n');
}
