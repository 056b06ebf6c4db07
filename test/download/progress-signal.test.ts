// What a person watching sees: progress lines every --progress-interval with files and bytes
// done/total and MB/s; and SIGTERM (pod deleted) stops the run promptly with a summary that
// says so, keeps the finished files and writes no ready marker.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { startCli } from '../helpers/cli.js';
import { startFaultProxy } from './fault-proxy.js';
import { bytes, dlEnv, explain, labBucket, seed, summary, tempDir, tree } from './helpers.js';

test('progress lines while running; SIGTERM stops promptly, keeps finished files, no ready marker', async (t) => {
  const { lab, bucket, s3 } = await labBucket(t, 'dl-progress');
  const objects: Record<string, Buffer> = {};
  for (let i = 0; i < 40; i++) objects[`job/f${String(i).padStart(2, '0')}.bin`] = bytes(4096, `p${i}`);
  await seed(s3, bucket, objects);
  // f2x and f3x never get an answer: the run stays busy until it is told to stop
  const proxy = await startFaultProxy(lab.endpoint, [
    { kind: 'stall', match: (req: IncomingMessage) => req.method === 'GET' && /\/job\/f[23]\d\.bin$/.test(req.url ?? ''), times: Infinity },
  ]);
  t.after(() => proxy.close());
  const work = await tempDir(t);
  const dir = join(work, 'in');
  const ready = join(work, 'ready');
  const run = startCli(['download', '--input-prefix', `s3://${bucket}/job/`, '--input-dir', dir, '--ready-file', ready,
    '--endpoint-url', proxy.url, '--progress-interval', '200ms', '--download-concurrency', '4'], dlEnv(lab));
  t.after(() => { run.child.kill('SIGKILL'); });

  const line = JSON.parse(await run.waitFor(/"progress":"download".*"filesDone":20,/, 120_000)) as Record<string, unknown>;
  assert.equal(line.filesTotal, 40);
  assert.equal(line.bytesTotal, 40 * 4096);
  assert.equal(line.totalKnown, true);
  assert.match(String(line.msg), /^download: 20\/40 files, 81\.9 kB\/164 kB, [\d.]+ MB\/s, ETA /);

  run.child.kill('SIGTERM');
  const signalledAt = Date.now();
  const r = await run.done;
  assert.ok(Date.now() - signalledAt < 15_000, 'stopped promptly');
  assert.equal(r.code, 1, explain(r));
  assert.match(String(summary(r).msg), /^download FAILED \(stopped: stopped by SIGTERM\): 20 files in place/);
  assert.ok(!existsSync(ready));
  const left = [...(await tree(dir, false)).keys()];
  assert.equal(left.length, 20);
  assert.ok(left.every((p) => /^f[01]\d\.bin$/.test(p)), left.join(' '));
});
