// npm run bench -- [--case download|upload|<case id>]... [--quick] [--runs N] [--tools sidecar,rclone,...] [--variants] [--baseline DIR] [--keep-lab]
//
// Seeds the bench's own lab server, then times s3-sidecar and its peers on every selected case in
// the same run against the same server, verifies every result, and prints markdown tables (also
// written to <work-dir>/results.md). Tools are run in a rotated order each round so none always
// goes first or last, each on a fresh destination, after a `sync` so no one pays for another's
// writeback; a download's files leave the page cache after their run (page-cache.ts).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, statfs, truncate, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ODM_LATENCY_CASE, selectCases, TRANSFER_CASES, type TransferCase } from './cases.js';
import { describeDataset, writeTree } from './data.js';
import { collectGarbage, labPids, startLab, stopLab, type BenchLab } from './lab.js';
import { lockBench } from './lock.js';
import { checkGnuTime, measure } from './measure.js';
import { runOdmLatency } from './odm-latency.js';
import { startLatencyProxy, type LatencyProxy } from './proxy.js';
import { dropFromPageCache } from './page-cache.js';
import { caseTable, type CaseResult, type ToolRuns } from './report.js';
import { benchClient, emptyPrefix, ensureBucket, seedPrefix } from './s3.js';
import { describeBuild, snapshotSidecar } from './snapshot.js';
import { cpuMeter } from './system-cpu.js';
import { ALL_TOOLS, downloadInvocation, extraUploadKeys, isSidecar, TOOL_LABEL, uploadInvocation, VARIANT_TOOLS, type Endpoint, type ToolId } from './tools.js';
import { verifyPrefix, verifyTree } from './verify.js';

const BUCKET = 'bench';
const PROXY_PORT = 7690;
const RTT_MS = 20;
const RUN_TIMEOUT_MS = 10 * 60_000;

const { values: opts } = parseArgs({
  options: {
    case: { type: 'string', multiple: true, default: [] },
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    tools: { type: 'string' },
    // also s3-sidecar's transport and MD5 variants (tools.ts), in the same rounds and table
    variants: { type: 'boolean', default: false },
    // another build of s3-sidecar in the same rounds and table: a checkout with node_modules and dist/ built
    baseline: { type: 'string' },
    'keep-lab': { type: 'boolean', default: false },
    'work-dir': { type: 'string', default: '/tmp/s3-sidecar-bench' },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  process.stdout.write(`usage: npm run bench -- [--case ID|download|upload]... [--quick] [--runs N] [--tools ${[...ALL_TOOLS, ...VARIANT_TOOLS].join(',')}] [--variants] [--baseline DIR] [--keep-lab] [--work-dir DIR]\n`);
  process.exit(0);
}

const cases = selectCases(opts.case.flatMap((c) => c.split(',')));
const runs = Number(opts.runs ?? (opts.quick ? 1 : 2));
const tools = [...new Set([
  ...(opts.tools?.split(',') ?? ALL_TOOLS), ...(opts.variants ? VARIANT_TOOLS : []), ...(opts.baseline ? ['sidecar-baseline'] : []),
])] as ToolId[];
const bad = tools.filter((t) => !ALL_TOOLS.includes(t) && !VARIANT_TOOLS.includes(t) && !(t === 'sidecar-baseline' && opts.baseline));
if (bad.length || !(runs >= 1)) throw new Error(`bad --tools ${bad.join(',')} or --runs ${opts.runs}`);
const baselineCli = opts.baseline ? join(resolve(opts.baseline), 'dist', 'cli.js') : undefined;
if (baselineCli && !existsSync(baselineCli)) throw new Error(`--baseline ${opts.baseline}: no dist/cli.js there (a checkout with npm ci and npm run build done in it)`);
const work = opts['work-dir'];

const say = (msg: string): void => void process.stderr.write(`bench: ${msg}\n`);
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
const rotate = <T>(xs: T[], by: number): T[] => xs.map((_, i) => xs[(i + by) % xs.length]!);

// Files a case created are emptied when the next case starts, and deleted only when the bench
// ends. Creating files in an ext4 block group where thousands were just deleted makes the kernel
// skip every recently freed inode (find_inode_bit -> recently_deleted, seen with perf): on this
// disk, which has no journal, an inode counts as recently deleted for 60 s once its inode table
// block is written back and for 300 s while that block is dirty (RECENTCY_MIN and RECENTCY_DIRTY
// in fs/ext4/ialloc.c), and the tools' own file creations keep the blocks dirty. Whichever tool
// ran then paid: s3-sidecar's first latency run, 17 s after a deletion, spent 1.32 s in the
// kernel against 0.45-0.52 in its quiet runs, and rclone --transfers 32 1.21-1.36 s in its first
// three runs, against 0.57 in its fourth (537e30b). Emptying a file frees its blocks (the disk
// stays within its room) but not its inode. Kept whole until the bench's end instead, five runs
// of every download case needed 90 GB and filled the disk. A bench started within 300 s of the
// last one's deletions waits before its first run.
const created: string[] = [];
/** where the time of the last bulk deletion is kept for the next bench (outside the work dir it empties) */
const deletedAtFile = `${work}.deleted-at`;
const RECENTLY_DELETED_MS = 305_000;
let lastBulkDelete = 0;
/** A download's destination is done with: out of the page cache now, emptied before the next case. */
function finishedDownload(dir: string): void {
  created.push(dir);
  dropFromPageCache(dir);
}
/** Free the space of every file created so far, keeping the inodes (see above). */
async function emptyCreated(): Promise<void> {
  for (const dir of created) {
    for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (e.isFile()) await truncate(join(e.parentPath, e.name), 0);
    }
  }
}
async function deleteCreated(): Promise<void> {
  if (!created.length) return;
  for (const dir of created.splice(0)) await rm(dir, { recursive: true, force: true });
  await writeFile(deletedAtFile, String(Date.now()));
}
/** pause after seeding a case and before its warm-up and first run, at least */
const SETTLE_MS = 5000;

/** Wait until files deleted in bulk no longer slow down creating files (see above). */
async function settle(): Promise<void> {
  execFileSync('sync');
  const waitMs = Math.max(SETTLE_MS, lastBulkDelete + RECENTLY_DELETED_MS - Date.now());
  if (waitMs > SETTLE_MS) say(`waiting ${(waitMs / 1000).toFixed(0)} s: files deleted ${((Date.now() - lastBulkDelete) / 1000).toFixed(0)} s ago still slow down creating new ones`);
  await sleep(waitMs);
}

/** Fail before the runs, not in the middle of one, when the destinations will not fit. */
async function checkRoom(dir: string, bytes: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  // 1 GiB to spare for logs, the scratch dirs and everyone else
  if (free < bytes + 2 ** 30) {
    throw new Error(`${dir}: ${(free / 2 ** 30).toFixed(1)} GiB free, the case's downloads need ${(bytes / 2 ** 30).toFixed(1)} GiB (use fewer --runs, or --work-dir elsewhere)`);
  }
}

async function freshDir(p: string): Promise<string> {
  await rm(p, { recursive: true, force: true });
  await mkdir(p, { recursive: true });
  return p;
}

async function runTransferCase(tc: TransferCase, lab: BenchLab, ep: Endpoint): Promise<CaseResult> {
  const s3 = benchClient(lab);
  const ds = tc.data(opts.quick);
  const local = join(work, 'data', tc.id);
  const seedPrefixKey = `${tc.id}/seed/`;
  await emptyCreated();
  if (tc.direction === 'download') await checkRoom(join(work, 'dst'), (runs * tools.length + 1) * ds.totalBytes);
  const t0 = Date.now();
  // whatever an aborted bench or prepare.ts left under the case's prefix would spoil the check
  await emptyPrefix(s3, BUCKET, `${tc.id}/`);
  if (tc.direction === 'download') await seedPrefix(s3, BUCKET, seedPrefixKey, ds);
  else await writeTree(await freshDir(local), ds);
  say(`${tc.id}: ${ds.files.length} files prepared in ${((Date.now() - t0) / 1000).toFixed(1)} s; load ${load()}`);
  await settle();
  // the first run of a case (s3-sidecar's, in round 1) must not pay for the seeding's writeback,
  // nor for the server's cold caches: a download case starts with an untimed warm-up read of the
  // seed (rclone, 32 transfers). Without it s3-sidecar's first run of each case was the slowest of
  // its three (e.g. 3.22 s against 2.34 and 2.50 s at a2ba8e8, 2,000 × 64 KiB behind 20 ms).
  // It comes after the wait above, right before the first run: read minutes before it (the wait is
  // up to 300 s), s3-sidecar's first run was again the slowest (3.71 s against 2.37–3.09 at 53ea2c1).
  if (tc.direction === 'download') {
    const warm = await freshDir(join(work, 'dst', `${tc.id}-warm-up`));
    const inv = downloadInvocation('rclone32', ep, { bucket: BUCKET, prefix: seedPrefixKey, dir: warm, scratch: warm });
    const sample = await measure(inv, join(work, 'logs', `${tc.id}-warm-up.log`), RUN_TIMEOUT_MS);
    say(`${tc.id}: warm-up read in ${sample.wallS.toFixed(2)} s (not counted)`);
    finishedDownload(warm);
  }

  const serverMeter = cpuMeter(labPids());
  const proxyMeter = ep.proxyPid === undefined ? undefined : cpuMeter([ep.proxyPid]);
  const result: CaseResult = { tc, shape: describeDataset(ds), files: ds.files.length, bytes: ds.totalBytes, load: load(), runs: [] };
  const byTool = new Map<ToolId, ToolRuns>(tools.map((t) => [t, { tool: t, samples: [], failures: [] }]));
  result.runs = [...byTool.values()];
  for (let round = 0; round < runs; round++) {
    for (const tool of rotate(tools, round)) {
      const tag = `${tc.id}-${tool}-${round + 1}`;
      const scratch = await freshDir(join(work, 'scratch', tag));
      const prefix = tc.direction === 'download' ? seedPrefixKey : `${tc.id}/${tool}-${round + 1}/`;
      const dir = tc.direction === 'download' ? await freshDir(join(work, 'dst', tag)) : local;
      const t = { bucket: BUCKET, prefix, dir, scratch };
      const inv = tc.direction === 'download' ? downloadInvocation(tool, ep, t) : uploadInvocation(tool, ep, t);
      execFileSync('sync');
      const logFile = join(work, 'logs', `${tag}.log`);
      const serverCpu = serverMeter();
      const proxyCpu = proxyMeter?.();
      const sample = await measure(inv, logFile, RUN_TIMEOUT_MS);
      const serverS = sample.serverCpuS = serverCpu();
      if (proxyCpu) sample.proxyCpuS = proxyCpu();
      const problems = sample.exitCode !== 0
        ? [`exit code ${sample.exitCode} (log: ${logFile})`]
        : tc.direction === 'download'
          ? await verifyTree(dir, ds)
          : await verifyPrefix(s3, BUCKET, prefix, ds, extraUploadKeys(tool));
      const record = byTool.get(tool)!;
      record.samples.push(sample);
      record.failures.push(...problems);
      const others = `server ${serverS.toFixed(2)}${sample.proxyCpuS === undefined ? '' : `, proxy ${sample.proxyCpuS.toFixed(2)}`}`;
      say(`${tag}: ${sample.wallS.toFixed(2)} s wall, ${sample.cpuS.toFixed(2)} s CPU (${others}), ${sample.maxRssMiB.toFixed(0)} MiB RSS, ` +
        (problems.length ? `NOT VERIFIED: ${problems.join('; ')}` : 'verified'));
      if (tc.direction === 'download') finishedDownload(dir);
      else { await emptyPrefix(s3, BUCKET, prefix); collectGarbage(lab); }
      await rm(scratch, { recursive: true, force: true });
    }
  }
  if (tc.direction === 'download') { await emptyPrefix(s3, BUCKET, seedPrefixKey); collectGarbage(lab); }
  else created.push(local);
  s3.destroy();
  return result;
}

async function main(): Promise<void> {
  checkGnuTime();
  const unlock = lockBench();
  try {
    await benchAll();
  } finally {
    unlock();
  }
}

async function benchAll(): Promise<void> {
  const code = (tools.some(isSidecar) ? snapshotSidecar() : 'no s3-sidecar') + (opts.baseline ? `; baseline ${describeBuild(opts.baseline)}` : '');
  lastBulkDelete = Number(await readFile(deletedAtFile, 'utf8').catch(() => '0')) || 0;
  // a bench that was stopped half-way left its files behind: deleting them now is a bulk deletion too
  if ((await readdir(join(work, 'dst')).catch(() => [])).length) lastBulkDelete = Date.now();
  await freshDir(work);
  await mkdir(join(work, 'logs'));
  const home = await freshDir(join(work, 'home'));
  say(`${code}; cases: ${cases.join(', ')}; tools: ${tools.map((t) => TOOL_LABEL[t]).join(' | ')}; ${runs} run(s) each${opts.quick ? ' (quick sizes)' : ''}`);
  say(`starting the bench's own lab server; load ${load()}`);
  const lab = startLab();
  let proxy: LatencyProxy | undefined;
  const tables: string[] = [];
  const header = (): string => `Measured ${new Date().toISOString()} (${code}) on ${process.platform} ${process.arch}, node ${process.version}, ` +
    `load at the end ${load()}; wall = median of ${runs} run(s), CPU = median user+sys, RSS = largest of the runs.`;
  try {
    const s3 = benchClient(lab);
    await ensureBucket(s3, BUCKET);
    s3.destroy();
    for (const tc of TRANSFER_CASES.filter((c) => cases.includes(c.id))) {
      if (tc.viaProxy && !proxy) proxy = await startLatencyProxy(PROXY_PORT, Number(new URL(lab.endpoint).port), RTT_MS);
      const ep: Endpoint = { lab, url: tc.viaProxy ? proxy!.url : lab.endpoint, ...(tc.viaProxy ? { proxyPid: proxy!.pid } : {}), home, baselineCli };
      const table = caseTable(await runTransferCase(tc, lab, ep));
      process.stdout.write(`\n${table}\n\n`);
      tables.push(table);
    }
    if (cases.includes(ODM_LATENCY_CASE) && tools.includes('sidecar')) {
      const table = await runOdmLatency(lab, { work, home, runs: Math.max(runs, 3), quick: opts.quick, bucket: BUCKET });
      process.stdout.write(`\n${table}\n\n`);
      tables.push(table);
    }
  } finally {
    await deleteCreated();
    proxy?.stop();
    if (!opts['keep-lab']) stopLab();
    // also after a failure: the cases measured so far are kept
    await writeFile(join(work, 'results.md'), `${header()}\n\n${tables.join('\n\n')}\n`);
    say(`tables of the ${tables.length} case(s) measured are in ${join(work, 'results.md')}`);
  }
}

main().catch((err) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
