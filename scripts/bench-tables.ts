// Copies the measured tables ("## Results" of docs/benchmarks.md, which `npm run bench` writes
// up) into the README between the bench markers, so the README shows exactly what was measured.
//   node --import tsx scripts/bench-tables.ts    rewrite README.md (part of `npm run docs`)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';
const readmePath = fileURLToPath(new URL('../README.md', import.meta.url));
const benchPath = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));

const bench = readFileSync(benchPath, 'utf8');
const from = bench.indexOf('## Results');
const to = bench.indexOf('\n## ', from + 1);
if (from < 0) throw new Error('docs/benchmarks.md has no "## Results" section');
const results = bench.slice(from + '## Results'.length, to < 0 ? undefined : to).trim().replace(/^### /gm, '#### ');
const intro = [
  "s3-sidecar against the tools ScaleODM and its users run today (Debian's rclone at its defaults, which is",
  "ScaleODM's setting, rclone with 32 transfers, and `aws s3 cp --recursive`), in one run against one server",
  'on one 2-core machine. Reproduce with `npm run bench` (method, caveats and what decided each',
  'target: [docs/benchmarks.md](docs/benchmarks.md)).',
].join('\n');

const readme = readFileSync(readmePath, 'utf8');
const a = readme.indexOf(START);
const b = readme.indexOf(END);
if (a < 0 || b < a) throw new Error(`README.md lacks ${START} ... ${END}`);
writeFileSync(readmePath, `${readme.slice(0, a + START.length)}\n${intro}\n\n${results}\n${readme.slice(b)}`);
console.log('README.md benchmark tables rewritten');
