// BeneathOpener: the folders it keeps open are used only while they are still where they were;
// a folder renamed, deleted, recreated or swapped for a symlink is walked again, so nothing is
// read from outside the root or from a folder that left it (util/open-beneath.ts).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BeneathOpener } from '../../src/util/open-beneath.js';

/** The folders and files below `dir` this process holds open. */
const heldBelow = (dir: string) => readdirSync('/proc/self/fd').map((fd) => {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return '';
  }
}).filter((p) => p.startsWith(dir));

async function read(o: BeneathOpener, rel: string): Promise<string> {
  const { fh, st } = await o.open(rel.split('/'));
  try {
    assert.ok(st.isFile());
    return (await fh.readFile()).toString();
  } finally {
    await fh.close();
  }
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(() => undefined, (e: NodeJS.ErrnoException) => e.code);
}

test('kept folders are used only while still in place; swapped, renamed or recreated ones are walked again', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'beneath-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const root = join(base, 'out');
  const outside = join(base, 'secret');
  mkdirSync(join(root, 'a', 'b'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'f.txt'), 'SECRET');
  writeFileSync(join(outside, 'top.txt'), 'SECRET');
  writeFileSync(join(root, 'a', 'b', 'f.txt'), 'one');
  writeFileSync(join(root, 'top.txt'), 'top');
  const o = new BeneathOpener(root, realpathSync(root), 2);

  assert.equal(await read(o, 'a/b/f.txt'), 'one');
  assert.equal(await read(o, 'top.txt'), 'top');
  // concurrent opens of one folder
  assert.deepEqual(await Promise.all([1, 2, 3, 4, 5].map(() => read(o, 'a/b/f.txt'))), ['one', 'one', 'one', 'one', 'one']);

  // deleted and made again: the new file, not the old folder's
  rmSync(join(root, 'a', 'b'), { recursive: true });
  mkdirSync(join(root, 'a', 'b'));
  writeFileSync(join(root, 'a', 'b', 'f.txt'), 'two');
  assert.equal(await read(o, 'a/b/f.txt'), 'two');

  // renamed away and replaced by a symlink out of the root: refused, even though the kept folder still exists
  renameSync(join(root, 'a', 'b'), join(root, 'a', 'b.old'));
  symlinkSync(outside, join(root, 'a', 'b'));
  assert.ok(['ELOOP', 'ENOTDIR'].includes((await code(read(o, 'a/b/f.txt')))!), 'a symlink in the way');
  assert.equal(await read(o, 'a/b.old/f.txt'), 'two');

  // more folders than it keeps: all still right
  for (const d of ['c', 'd', 'e']) {
    mkdirSync(join(root, d));
    writeFileSync(join(root, d, 'f.txt'), d);
  }
  for (const d of ['c', 'd', 'e', 'c']) assert.equal(await read(o, `${d}/f.txt`), d);

  // a FIFO is refused at once
  execFileSync('mkfifo', [join(root, 'c', 'pipe')]);
  assert.equal(await code(o.open(['c', 'pipe'])), 'ENOTREG');

  // the root itself replaced by a symlink to the secret folder
  renameSync(root, join(base, 'out.old'));
  symlinkSync(outside, root);
  assert.equal(await code(read(o, 'top.txt')), 'ESTALE');
  assert.equal(await code(read(o, 'c/f.txt')), 'ESTALE');
  unlinkSync(root);

  assert.ok(heldBelow(realpathSync(base)).length > 0, 'folders are kept open');
  await o.close();
  assert.deepEqual(heldBelow(realpathSync(base)), [], 'every kept folder closed');
});
