// The small-object write path on its own (no server needed: the download tests exercise it
// against the real one for every object below 1 MiB). Here: the edges a real server rarely
// produces on demand — an object emptied between the listing and the GET, a symlink planted at
// the part name. (Bodies longer than announced and cut connections: http1.test.ts.)
import assert from 'node:assert/strict';
import { lstat, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { SmallFileWriter, writeSmallFileInPool } from '../../src/download/small-file.js';
import { tempDir } from './helpers.js';

for (const [name, writeSmallFile] of [['on the event loop', (...a: Parameters<typeof writeSmallFileInPool>) => new SmallFileWriter().write(...a)], ['on the thread pool', writeSmallFileInPool]] as const) {
  test(`small files ${name}: bytes and mtime in place, no part left; empty bodies; a planted symlink is refused`, async (t) => {
    const dir = await tempDir(t, 'small-file');
    const mtime = new Date('2024-05-06T07:08:09Z');
    const target = join(dir, 'a.jpg');
    await writeSmallFile(`${target}.part`, target, [Buffer.from('hello '), Buffer.from('world')], 11, mtime);
    assert.equal(await readFile(target, 'utf8'), 'hello world');
    assert.equal((await lstat(target)).mtime.getTime(), mtime.getTime());
    await assert.rejects(lstat(`${target}.part`), { code: 'ENOENT' });

    const empty = join(dir, 'empty.jpg');
    await writeSmallFile(`${empty}.part`, empty, [], 0, mtime);
    assert.equal((await lstat(empty)).size, 0);

    const outside = join(dir, 'outside.txt');
    await writeFile(outside, 'keep');
    const victim = join(dir, 'b.jpg');
    await symlink(outside, `${victim}.part`);
    await assert.rejects(writeSmallFile(`${victim}.part`, victim, [Buffer.from('evil')], 4, mtime), { code: 'ELOOP' });
    assert.equal(await readFile(outside, 'utf8'), 'keep');
    assert.equal(await readlink(`${victim}.part`), outside);
    await assert.rejects(lstat(victim), { code: 'ENOENT' });
  });
}
