// The options page (docs/options.md) is generated from the option table (scripts/options-table.ts);
// this fails when someone changed an option without running `npm run docs`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { OPTIONS } from '../../src/config.js';
import { END, PAGE, START, renderOptionsTable, replaceBlock } from '../../scripts/options-table.js';

const page = readFileSync(PAGE, 'utf8');
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('docs/options.md is current (run `npm run docs` when this fails), and the README links to it', () => {
  const block = page.slice(page.indexOf(START) + START.length, page.indexOf(END));
  assert.ok(page.includes(START) && page.includes(END), 'docs/options.md keeps the options-table markers');
  assert.equal(block, `\n${renderOptionsTable()}`, 'docs/options.md is stale: run `npm run docs`');
  assert.ok(readme.includes('](docs/options.md)'), 'the README links to the options page');
});

test('every option appears with its flag, every env var and its default', () => {
  const table = renderOptionsTable();
  for (const [key, d] of Object.entries(OPTIONS)) {
    const line = table.split('\n').find((l) => l.startsWith(`| \`--${d.flag} <value>\``) || l.startsWith(`| \`--${d.flag}\`,`));
    assert.ok(line, `${key}: --${d.flag} has a row`);
    for (const env of d.env) assert.ok(line.includes(`\`${env}\``), `${key}: ${env} listed`);
    if (d.defaultText) assert.ok(line.includes(d.defaultText.replace(/</g, /\s/.test(d.defaultText) ? '&lt;' : '<')), `${key}: default ${d.defaultText} shown`);
    assert.equal(line.split(/(?<!\\)\|/).length, 6, `${key}: exactly four cells (a stray | would add one)`);
  }
});

test('the block is replaced in place, idempotently, and a page without markers is an error', () => {
  const doc = `# x\n\nbefore\n${START}\nold\n${END}\nafter\n`;
  const once = replaceBlock(doc, 'NEW\n');
  assert.equal(once, `# x\n\nbefore\n${START}\nNEW\n${END}\nafter\n`);
  assert.equal(replaceBlock(once, 'NEW\n'), once);
  assert.throws(() => replaceBlock('# no markers\n', 'x'), /no <!-- options-table:start -->/);
});
