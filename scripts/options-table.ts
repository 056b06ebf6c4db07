// The options page (docs/options.md), generated from the option table in src/config/options/*.ts
// so the documentation cannot drift from the parser. `npm run docs` rewrites the block between
// the markers; test/ship/options-table.test.ts fails when the committed block is stale.
//   node --import tsx scripts/options-table.ts           print the table
//   node --import tsx scripts/options-table.ts --write   rewrite docs/options.md
//   node --import tsx scripts/options-table.ts --check   exit 1 when docs/options.md is stale
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MODES, OPTIONS, optionsFor, type Mode } from '../src/config.js';
import type { Group, OptionDef } from '../src/config/define.js';

export const START = '<!-- options-table:start -->';
export const END = '<!-- options-table:end -->';
export const PAGE = fileURLToPath(new URL('../docs/options.md', import.meta.url));

// A Record over Group: adding a group to define.ts without a title here fails the type check.
const GROUP_TITLES: Record<Group, string> = {
  common: 'Common',
  credentials: 'Credential source and refresh',
  handoff: 'Hand-offs to the main container',
  download: 'Download (prefetch)',
  upload: 'Upload',
  run: 'Streaming (`run`)',
  checkpoint: 'Checkpoints (`run`, `restore`, `download --restore`)',
  http: 'Health and metrics listener',
  broker: 'Broker (`s3-sidecar broker`)',
};

/** Markdown table cells: pipes would split the cell, newlines would end the row, <x> would be HTML. */
function cell(text: string): string {
  const oneLine = text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
  // odd pieces are `code spans`, where < is literal already
  return oneLine.split(/(`[^`]*`)/).map((piece, i) => (i % 2 ? piece : piece.replace(/</g, '&lt;'))).join('');
}

/** A value (`32`, `1h`) reads as code; a description of a computed default ("AWS S3") as prose. */
function defaultCell(text: string): string {
  if (!text) return '';
  return /\s/.test(text) ? cell(text) : `\`${text}\``;
}

/** The modes that read a group, a mode that reads only some of its options marked so. */
function modesOf(group: Group): string[] {
  return (Object.keys(MODES) as Mode[]).flatMap((m) => {
    if ((MODES[m].groups as readonly Group[]).includes(group)) return [`\`${m}\``];
    const some = optionsFor(m).filter(([, d]) => d.group === group).map(([, d]) => `--${d.flag}`);
    return some.length ? [`\`${m}\` (only ${some.join(', ')})`] : [];
  });
}

function row(d: OptionDef<unknown>): string {
  const flag = d.boolean ? `\`--${d.flag}\`, \`--no-${d.flag}\`` : `\`--${d.flag} <value>\``;
  const env = d.env.map((e) => `\`${e}\``).join(', ');
  const help = d.choices ? `${d.help} One of: ${d.choices.join(', ')}.` : d.help;
  return `| ${flag} | ${env} | ${defaultCell(d.defaultText)} | ${cell(help)} |`;
}

/** The generated Markdown, markers excluded. */
export function renderOptionsTable(): string {
  const defs = Object.values(OPTIONS) as OptionDef<unknown>[];
  const sections = (Object.keys(GROUP_TITLES) as Group[]).flatMap((group) => {
    const rows = defs.filter((d) => d.group === group).map(row);
    if (rows.length === 0) return [];
    const modes = modesOf(group).join(', ');
    return [`### ${GROUP_TITLES[group]}\n\nModes: ${modes}\n\n| Flag | Environment (first set wins) | Default | Description |\n|---|---|---|---|\n${rows.join('\n')}\n`];
  });
  return [
    '<!-- Generated from src/config/options/*.ts by `npm run docs`. Do not edit by hand: a test fails when it is stale. -->',
    '',
    'Every option is a flag and an environment variable; a flag wins over the variables, and the first variable that is set (non-empty) wins over the rest. Durations accept `90s`, `5m`, `2h` (a bare number is seconds); sizes accept `8MiB`, `1GiB`.',
    '',
    ...sections,
  ].join('\n');
}

/** `page` with the block between the markers replaced by `table`. */
export function replaceBlock(page: string, table: string): string {
  const start = page.indexOf(START);
  const end = page.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/options.md has no ${START} … ${END} block`);
  return `${page.slice(0, start + START.length)}\n${table}${END}${page.slice(end + END.length)}`;
}

function main(arg: string | undefined): number {
  const table = renderOptionsTable();
  if (arg === undefined) {
    process.stdout.write(table);
    return 0;
  }
  const page = readFileSync(PAGE, 'utf8');
  const updated = replaceBlock(page, table);
  if (arg === '--check') {
    if (updated === page) return 0;
    process.stderr.write('docs/options.md is stale: run `npm run docs`\n');
    return 1;
  }
  if (arg === '--write') {
    if (updated !== page) writeFileSync(PAGE, updated);
    process.stdout.write(updated === page ? 'docs/options.md is up to date\n' : 'docs/options.md rewritten\n');
    return 0;
  }
  process.stderr.write(`usage: options-table.ts [--write | --check] (got ${arg})\n`);
  return 2;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv[2]);
