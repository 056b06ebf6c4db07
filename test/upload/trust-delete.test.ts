// --delete-removed deletes an object only when its file is known gone. A folder the sidecar can
// no longer read (made unreadable to its uid after its files were uploaded) deletes nothing
// under it, is logged, and leaves the manifest incomplete; an --output-exclude added between
// runs deletes nothing; a file really removed is still deleted.
// Root reads every folder whatever its mode, so under root the sidecar runs without the
// capabilities that allow it (startCli's permissionsBite).
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { startCli, type CliResult } from '../helpers/cli.js';
import { getBytes, labFixture, listPrefix, sidecarEnv } from './helpers/s3-check.js';

test('--delete-removed: an unreadable folder or a new exclude deletes nothing; a removed file is deleted', { timeout: 180_000 }, async (t) => {
  const { lab, s3, bucket, dir: base } = await labFixture(t, 'trust-del');
  const dir = join(base, 'out');
  const files = ['a.txt', 'keep/b1.txt', 'keep/sub/b2.txt', 'gone/c.txt', 'gone/c2.txt'];
  for (const f of files) {
    mkdirSync(join(dir, dirname(f)), { recursive: true });
    writeFileSync(join(dir, f), `content of ${f}\n`);
  }
  const upload = async (...extra: string[]): Promise<CliResult> => {
    const run = startCli(['upload', '--output-dir', dir, '--output-prefix', `s3://${bucket}/job/`, ...extra], sidecarEnv(lab), { permissionsBite: true });
    t.after(() => run.child.kill('SIGKILL'));
    return run.done;
  };
  const keys = async () => [...(await listPrefix(s3, bucket, 'job/')).keys()].filter((k) => k !== '_manifest.json').sort();

  const r1 = await upload();
  assert.equal(r1.code, 0, r1.stdout.slice(-3000) + r1.stderr);
  assert.deepEqual(await keys(), [...files].sort());

  // the folder becomes unreadable to the sidecar; one file is really removed
  chmodSync(join(dir, 'keep'), 0o000);
  t.after(() => { try { chmodSync(join(dir, 'keep'), 0o755); } catch { /* already removed */ } });
  rmSync(join(dir, 'gone/c.txt'));
  const r2 = await upload();
  assert.notEqual(r2.code, 0, 'an output that cannot be read whole is no success');
  assert.deepEqual(await keys(), ['a.txt', 'gone/c2.txt', 'keep/b1.txt', 'keep/sub/b2.txt'], 'only the removed file is deleted');
  assert.ok(r2.logs.some((l) => l.msg === 'deleted an object whose file is gone' && l.key === 'job/gone/c.txt'));
  assert.ok(r2.logs.some((l) => l.path === 'keep' && /cannot read a folder \(EACCES\)/.test(String(l.msg))), r2.stdout.slice(-3000));
  const m2 = JSON.parse((await getBytes(s3, bucket, 'job/_manifest.json')).toString()) as { complete: boolean; status: string; failed: { path: string; error: string }[] };
  assert.equal(m2.complete, false);
  assert.equal(m2.status, 'incomplete');
  assert.deepEqual(m2.failed.map((f) => f.path), ['keep/']);

  // readable again, but now excluded (and the other folder too): still nothing deleted
  chmodSync(join(dir, 'keep'), 0o755);
  const r3 = await upload('--output-exclude', 'keep/**', '--output-exclude', 'gone/**');
  assert.equal(r3.code, 0, r3.stdout.slice(-3000) + r3.stderr);
  assert.deepEqual(await keys(), ['a.txt', 'gone/c2.txt', 'keep/b1.txt', 'keep/sub/b2.txt'], 'a new exclude deletes nothing');
  assert.ok(!r3.logs.some((l) => l.msg === 'deleted an object whose file is gone'));
});
