// Files the job controls are read with bounds: with --preset odm, benchmark.txt pointing at
// /dev/zero, log.json as a FIFO, a benchmark.txt far too large, and a flood on the UDP progress
// port neither exhaust the sidecar's memory nor block it nor flood its log; the real log.json
// still ends the job.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startCli } from '../helpers/cli.js';
import { getBytes, labFixture, listPrefix, sidecarEnv } from './helpers/s3-check.js';

const MiB = 1024 * 1024;

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Peak resident memory of a process, in bytes (Linux /proc). */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

test('odm: benchmark.txt -> /dev/zero, log.json a FIFO, an oversized benchmark.txt, a UDP flood: bounded memory and log, the job still ends', { timeout: 180_000 }, async (t) => {
  const { lab, s3, bucket, dir } = await labFixture(t, 'trust-odm');
  symlinkSync('/dev/zero', join(dir, 'benchmark.txt'));
  execFileSync('mkfifo', [join(dir, 'log.json')]);
  const port = await freeUdpPort();
  const sidecar = startCli([
    'run', '--output-dir', dir, '--output-prefix', `s3://${bucket}/job/`, '--preset', 'odm', '--stable-window', '300ms',
    '--progress-udp', `127.0.0.1:${port}`,
  ], sidecarEnv(lab));
  t.after(() => sidecar.child.kill('SIGKILL'));
  await sidecar.waitFor(/"msg":"watching /);

  // a flood: junk, oversized packets, and valid ones that flip between two percents
  const udp = createSocket('udp4');
  t.after(() => udp.close());
  const sendUdp = (msg: Buffer | string) => new Promise<void>((r) => udp.send(msg, port, '127.0.0.1', () => r()));
  for (let i = 0; i < 1500; i++) {
    await sendUdp(i % 3 === 0 ? Buffer.alloc(60_000, 'A') : i % 3 === 1 ? `junk ${i}` : `PGUP/1/p/${1 + (i % 2)}`);
  }
  // benchmark.txt rewritten as a regular file far above the cap, several times
  for (let i = 0; i < 10; i++) {
    writeFileSync(join(dir, 'benchmark.tmp'), Buffer.alloc(4 * MiB, 'x'));
    renameSync(join(dir, 'benchmark.tmp'), join(dir, 'benchmark.txt'));
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(sidecar.child.exitCode, null, 'still running');
  const peak = peakRss(sidecar.child.pid!);
  assert.ok(peak < 300 * MiB, `peak RSS ${Math.round(peak / MiB)} MiB`);

  unlinkSync(join(dir, 'log.json'));
  writeFileSync(join(dir, 'log.json'), JSON.stringify({ success: true }));
  const r = await sidecar.done;
  assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);
  assert.ok(r.logs.some((l) => String(l.msg).startsWith('ODM wrote log.json')), 'the real log.json ended the job');

  const count = (re: RegExp) => r.logs.filter((l) => re.test(String(l.msg))).length;
  const refusedFiles = count(/^not reading (benchmark\.txt|log\.json)/);
  assert.ok(refusedFiles >= 1 && refusedFiles <= 6, `refused-file lines: ${refusedFiles}`);
  const badPackets = count(/^ignoring a UDP packet/);
  assert.ok(badPackets >= 1 && badPackets <= 4, `bad-packet lines: ${badPackets}`);
  const progress = count(/^ODM progress/);
  assert.ok(progress >= 2 && progress <= 22, `progress lines: ${progress}`);
  assert.ok(r.stdout.length < 200_000, `log size ${r.stdout.length}`);

  const keys = [...(await listPrefix(s3, bucket, 'job/')).keys()].sort();
  assert.deepEqual(keys, ['_manifest.json', 'benchmark.txt', 'log.json'], 'the oversized benchmark.txt is still a product; /dev/zero never was');
  assert.equal((await getBytes(s3, bucket, 'job/benchmark.txt')).length, 4 * MiB);
});
