// The S3 server stops mid-run: the download fails within a bounded time (--server-deadline) with
// a message that says so, keeps what it finished, and a re-run after the server is back
// completes without fetching those files again. The server is a second, private lab instance
// (never the shared one), and "stopped" is its radosgw process, killed by the PID this test's
// own start recorded; the OSD keeps the objects, so the restarted gateway serves the same data.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { startCli } from '../helpers/cli.js';
import { adminS3, requireLab, type Lab } from '../helpers/lab.js';
import { bytes, dlEnv, download, explain, files, seed, sha256, summary, tempDir, tree } from './helpers.js';
import { freePort } from '../helpers/net.js';
import { until } from '../helpers/wait.js';

const run = promisify(execFile);
const LAB = new URL('../lab/', import.meta.url).pathname;


async function answering(endpoint: string): Promise<boolean> {
  try {
    return (await fetch(`${endpoint}/`)).ok;
  } catch {
    return false;
  }
}

test('server stopped mid-run: bounded failure with a clear message; restarted: the re-run completes', async (t) => {
  const shared = requireLab(t); // also makes sure the Ceph packages are installed
  // not tempDir(): its cleanup would delete the lab's PID files before `stop` could read them
  const dirLab = await mkdtemp(join(tmpdir(), 's3-sidecar-lab2-'));
  const env = { ...process.env, S3LAB_DIR: dirLab, S3LAB_PORT: String(await freePort()), S3LAB_MON_PORT: String(await freePort()), S3LAB_OIDC: '0' };
  t.after(async () => {
    await run(join(LAB, 'stop'), { env }).catch(() => {});
    await rm(dirLab, { recursive: true, force: true });
  });
  const started = await run(join(LAB, 'start'), { env, timeout: 300_000 });
  const endpoint = /^export S3LAB_ENDPOINT=(.*)$/m.exec(started.stdout)![1]!;
  const lab: Lab = { ...shared, endpoint, dir: dirLab };
  const rgwPid = () => Number(readFileSync(join(dirLab, 'run', 'client.rgw.a.pid'), 'utf8'));

  const s3 = adminS3(lab);
  t.after(() => s3.destroy());
  await s3.send(new CreateBucketCommand({ Bucket: 'stop' }));
  const objects: Record<string, Buffer> = {};
  for (let i = 0; i < 600; i++) objects[`job/f${String(i).padStart(3, '0')}.bin`] = bytes(8192, `s${i}`);
  await seed(s3, 'stop', objects);

  const dir = join(await tempDir(t), 'in');
  const args = ['--input-prefix', 's3://stop/job/', '--input-dir', dir, '--download-concurrency', '1', '--server-deadline', '5s'];
  const first = startCli(['download', ...args], dlEnv(lab));
  t.after(() => { first.child.kill('SIGKILL'); });
  await until('some files on disk', async () => (await tree(dir, false).catch(() => new Map())).size >= 20);
  process.kill(rgwPid(), 'SIGKILL');
  const stoppedAt = Date.now();
  const r = await first.done;
  const took = (Date.now() - stoppedAt) / 1000;

  assert.equal(r.code, 1, explain(r));
  assert.ok(took >= 4 && took < 60, `gave up ${took.toFixed(1)}s after the server stopped (deadline 5s)`);
  const s = summary(r);
  assert.match(String(s.msg), new RegExp(`^download FAILED \\(stopped: no answer from the S3 endpoint ${endpoint} for \\d+s \\(--server-deadline 5s\\); last error: (connect )?ECONNREFUSED`), explain(r));
  assert.ok(r.logs.some((l) => l.level === 'warn' && /is not answering/.test(String(l.msg))), 'the wait was announced');
  const kept = await files(dir);
  const keptCount = Object.keys(kept).length;
  assert.ok(keptCount >= 20 && keptCount < 600, `${keptCount} files kept`);
  for (const [p, h] of Object.entries(kept)) assert.equal(h, sha256(objects[`job/${p}`]!), `${p} is complete and right`);
  const before = await tree(dir, false);

  // the same gateway again (same config, same data in the OSD)
  await run('radosgw', ['-c', join(dirLab, 'ceph.conf'), '-n', 'client.rgw.a']);
  await until('the server to answer again', () => answering(endpoint));
  const r2 = await download(lab, args);
  assert.equal(r2.code, 0, explain(r2));
  assert.equal(Object.keys(await files(dir)).length, 600);
  const s2 = summary(r2);
  assert.equal(s2.skipped, keptCount, 'what the first run finished is not fetched again');
  assert.equal(s2.downloaded, 600 - keptCount);
  const after = await tree(dir, false);
  for (const p of Object.keys(kept)) assert.equal(after.get(p)!.ino, before.get(p)!.ino, p);
});
