// The bench's s3-sidecar variants (bench/tools.ts, `--variants`) end to end on a tiny download
// against the test lab: each runs under GNU time with its own switches (the undici one says so in
// its log), its result passes the bench's own check, and the case table shows one row per variant
// and the CPU s3-sidecar saves against each. Not a measurement: a few MiB, to prove the plumbing.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TRANSFER_CASES } from '../../bench/cases.js';
import { dataset, describeDataset, MiB } from '../../bench/data.js';
import { checkGnuTime, measure } from '../../bench/measure.js';
import { caseTable, type ToolRuns } from '../../bench/report.js';
import { seedPrefix } from '../../bench/s3.js';
import { SIDECAR_CLI } from '../../bench/snapshot.js';
import { downloadInvocation, TOOL_LABEL, VARIANT_TOOLS, type ToolId } from '../../bench/tools.js';
import { verifyTree } from '../../bench/verify.js';
import { CLI } from '../helpers/cli.js';
import { adminS3, requireLab, tempBucket } from '../helpers/lab.js';

test('bench --variants: s3-sidecar, s3-sidecar/undici and s3-sidecar/simd-md5 each download verified, one table row each', async (t) => {
  checkGnuTime();
  const lab = requireLab(t);
  const bucket = await tempBucket(t, lab, 'bench-variants');
  const s3 = adminS3(lab);
  t.after(() => s3.destroy());
  const work = await mkdtemp(join(tmpdir(), 'bench-variants-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  // over 1 MiB each: hashed on the MD5 worker, the path the variants differ on
  const ds = dataset('variants', Array.from({ length: 4 }, (_, i) => ({ rel: `IMG_${i}.JPG`, size: 2 * MiB + i })));
  await seedPrefix(s3, bucket, 'seed/', ds);

  const ep = { lab: { ...lab, cephConf: '' }, url: lab.endpoint, home: work };
  const tools: ToolId[] = ['sidecar', ...VARIANT_TOOLS];
  const runs: ToolRuns[] = [];
  for (const tool of tools) {
    const dir = join(work, tool);
    await mkdir(dir);
    const inv = downloadInvocation(tool, ep, { bucket, prefix: 'seed/', dir, scratch: work });
    // the built CLI, not the bench's snapshot of it
    inv.args = inv.args.map((a) => (a === SIDECAR_CLI ? CLI : a));
    const logFile = join(work, `${tool}.log`);
    const sample = await measure(inv, logFile, 120_000);
    const log = await readFile(logFile, 'utf8');
    assert.equal(sample.exitCode, 0, `${tool}: ${log.slice(-3000)}`);
    assert.deepEqual(await verifyTree(dir, ds), [], tool);
    assert.ok(sample.cpuS > 0 && sample.maxRssMiB > 0, `${tool}: GNU time figures`);
    assert.equal(/SIDECAR_HTTP_CLIENT=undici/.test(log), tool === 'sidecar-undici', `${tool}: the client it ran`);
    assert.equal(/SIDECAR_MD5=simd/.test(log), tool === 'sidecar-simd', `${tool}: the MD5 it ran`);
    runs.push({ tool, samples: [sample], failures: [] });
  }

  const tc = TRANSFER_CASES.find((c) => c.id === 'download-small')!;
  const table = caseTable({ tc, shape: describeDataset(ds), files: ds.files.length, bytes: ds.totalBytes, load: '0', runs });
  t.diagnostic(table);
  for (const tool of tools) assert.match(table, new RegExp(`^\\| ${TOOL_LABEL[tool]} \\|`, 'm'), table);
  for (const tool of VARIANT_TOOLS) {
    assert.match(table, new RegExp(`^- ${TOOL_LABEL[tool]}: [\\d.]+ client CPU s/GiB against s3-sidecar's [\\d.]+: s3-sidecar saves -?[\\d.]+ %`, 'm'), table);
  }
  assert.doesNotMatch(table, /fastest peer \(s3-sidecar/, 'a variant is never taken for a peer');
});
