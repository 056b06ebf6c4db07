// For profiling one tool by hand: seed one case's data in the bench lab (started if needed, left
// running), print each tool's command line, and leave everything in place.
//   node --import tsx bench/prepare.ts download-latency [--quick]
// Then e.g. prefix the printed s3-sidecar command with `node --cpu-prof` or `strace -c -f`.
// Stop the lab afterwards: S3LAB_DIR=/tmp/s3-sidecar-bench-lab test/lab/stop
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TRANSFER_CASES } from './cases.js';
import { describeDataset, writeTree } from './data.js';
import { startLab } from './lab.js';
import { lockBench } from './lock.js';
import { benchClient, emptyPrefix, ensureBucket, seedPrefix } from './s3.js';
import { ALL_TOOLS, downloadInvocation, uploadInvocation } from './tools.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { quick: { type: 'boolean', default: false } } });
const tc = TRANSFER_CASES.find((c) => c.id === positionals[0]);
if (!tc) throw new Error(`usage: prepare.ts <${TRANSFER_CASES.map((c) => c.id).join('|')}> [--quick]`);

const work = '/tmp/s3-sidecar-bench-prepared';
// not while a bench runs: it would empty that bench's seed prefix
const unlock = lockBench();
const lab = startLab();
const s3 = benchClient(lab);
const ds = tc.data(values.quick);
await ensureBucket(s3, 'bench');
const prefix = `${tc.id}/seed/`;
const dir = join(work, tc.id);
await mkdir(join(work, 'home'), { recursive: true });
await emptyPrefix(s3, 'bench', prefix);
if (tc.direction === 'download') await seedPrefix(s3, 'bench', prefix, ds);
else await writeTree(dir, ds);
s3.destroy();
const url = tc.viaProxy ? 'http://127.0.0.1:7690' : lab.endpoint;
process.stdout.write(`# ${tc.id}: ${describeDataset(ds)}${tc.viaProxy ? '; start the proxy first: node bench/latency-proxy.mjs 7690 7680 20 &' : ''}\n`);
for (const tool of ALL_TOOLS) {
  const t = { bucket: 'bench', prefix: tc.direction === 'download' ? prefix : `${tc.id}/${tool}/`, dir: tc.direction === 'download' ? `${dir}-${tool}` : dir, scratch: join(work, 'scratch') };
  const ep = { lab, url, home: join(work, 'home') };
  const inv = tc.direction === 'download' ? downloadInvocation(tool, ep, t) : uploadInvocation(tool, ep, t);
  const env = Object.entries(inv.env).filter(([k]) => k !== 'PATH').map(([k, v]) => `${k}=${v}`).join(' ');
  process.stdout.write(`env ${env} ${inv.cmd} ${inv.args.join(' ')}\n`);
}
unlock();
