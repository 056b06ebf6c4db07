// The demo as a newcomer runs it, on a machine where the lab's port is already taken: it must
// stop with the reason, not with a shell error about a variable the failed start never printed.
// The lab gets its own empty state dir and a port this test holds, so the start fails at its
// port check, before it starts or stops anything (the shared test server is left alone).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('the demo says plainly why its local server could not start when the port is taken', async (t) => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.after(() => busy.close());
  const port = (busy.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'demo-lab-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  const res = spawnSync('bash', ['examples/demo.sh'], {
    cwd: ROOT,
    env: { ...process.env, S3LAB_DIR: join(dir, 'lab'), S3LAB_PORT: String(port), TMPDIR: dir },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(res.status, 1, `exit 1 (stderr: ${res.stderr})`);
  assert.match(res.stderr, /local S3 server could not start/);
  assert.match(res.stderr, new RegExp(`127\\.0\\.0\\.1:${port} is already in use`));
  assert.doesNotMatch(res.stderr + res.stdout, /unbound variable/);
});
