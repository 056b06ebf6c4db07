// A large part file's blocks are reserved up front with fallocate(1), on the open file; without
// the tool the file is only extended. No server needed: the ranged downloads (resume.test.ts,
// verify.test.ts) run it against the real one.
import assert from 'node:assert/strict';
import { lstat, open, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Preallocator } from '../../src/download/preallocate.js';
import { tempDir } from './helpers.js';

const size = 5 * 1024 * 1024 + 123;

test('preallocate reserves the blocks of the open file, never a file a name was swapped to', async (t) => {
  const dir = await tempDir(t, 'prealloc');
  const part = join(dir, 'big.part');
  const fh = await open(part, 'w');
  // the name now points elsewhere: fallocate works on the open file, not on the name
  const moved = join(dir, 'moved.part');
  await rename(part, moved);
  const victim = join(dir, 'victim.txt');
  await writeFile(victim, 'keep');
  await symlink(victim, part);
  await new Preallocator().preallocate(fh, size);
  await fh.close();
  const st = await lstat(moved);
  assert.equal(st.size, size);
  assert.ok(st.blocks * 512 >= size, `${st.blocks * 512} bytes allocated for ${size}`);
  assert.equal(await readFile(victim, 'utf8'), 'keep');
});

test('without fallocate(1) the part file is extended to its size, and that run stops looking for the tool', async (t) => {
  const dir = await tempDir(t, 'prealloc');
  const path = process.env.PATH;
  process.env.PATH = dir; // no fallocate in there
  t.after(() => { process.env.PATH = path; });
  const run = new Preallocator();
  for (const name of ['big.part', 'second.part']) {
    const fh = await open(join(dir, name), 'w');
    await run.preallocate(fh, size);
    await fh.close();
    const st = await lstat(join(dir, name));
    assert.equal(st.size, size);
    assert.equal(st.blocks, 0, 'sparse: nothing reserved');
  }
  // another run (a fresh Preallocator) looks again: with the tool back, it reserves
  process.env.PATH = path;
  const fh = await open(join(dir, 'third.part'), 'w');
  await new Preallocator().preallocate(fh, size);
  await fh.close();
  assert.ok((await lstat(join(dir, 'third.part'))).blocks * 512 >= size, 'a later run is not marked by an earlier one');
});
