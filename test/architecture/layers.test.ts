// The folders under src/ show the data flow, and imports run one way: a module imports only from
// its own folder or from a folder of a lower layer. A back-edge, or a source file that grew past
// the size a reader can hold in mind, fails here with the file and line to look at.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const MAX_LINES = 300;

/** Lower layers first; a module may import from its own unit or any unit listed before it. */
const LAYERS: readonly (readonly string[])[] = [
  ['types', 'log', 'metrics', 'exit-codes'],
  ['util'],
  ['config'],
  ['credentials'],
  ['s3'],
  ['download'],
  ['odm'],
  ['upload'],
  ['health'],
  ['broker', 'checkpoint'],
  ['modes'],
  ['help'],
  ['cli'],
];

/** A folder, or a top-level file with its folder of the same name (config.ts and config/). */
function unitOf(rel: string): string {
  return rel.split(sep)[0]!.replace(/\.ts$/, '');
}

function rankOf(unit: string): number {
  const r = LAYERS.findIndex((l) => l.includes(unit));
  assert.notEqual(r, -1, `src/${unit} is in no layer: add it to LAYERS in test/architecture/layers.test.ts`);
  return r;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\1/g;

test('imports under src/ run one way, from higher layers to lower ones', () => {
  const backEdges: string[] = [];
  for (const file of sources(SRC)) {
    const rel = relative(SRC, file);
    const from = unitOf(rel);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const target = relative(SRC, normalize(join(dirname(file), m[2]!))).replace(/\.js$/, '.ts');
      assert.ok(!target.startsWith('..'), `src/${rel} imports ${m[2]} from outside src/`);
      const to = unitOf(target);
      if (to === from) continue;
      if (rankOf(to) >= rankOf(from)) {
        const line = text.slice(0, m.index).split('\n').length;
        backEdges.push(`src/${rel}:${line} (${from}) imports ${m[2]} (${to})`);
      }
    }
  }
  assert.deepEqual(backEdges, [], `back-edges:\n${backEdges.join('\n')}`);
});

test(`no source file is longer than ${MAX_LINES} lines`, () => {
  const long = sources(SRC)
    .map((f) => ({ f: relative(SRC, f), n: readFileSync(f, 'utf8').split('\n').length }))
    .filter(({ n }) => n > MAX_LINES)
    .map(({ f, n }) => `src/${f}: ${n} lines`);
  assert.deepEqual(long, []);
});
