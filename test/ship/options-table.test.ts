// The README's configuration table is generated from the option table (scripts/options-table.ts);
// this fails when someone changed an option without running `npm run docs`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { OPTIONS } from '../../src/config.js';
import { END, README, START, renderOptionsTable, replaceBlock } from '../../scripts/options-table.js';

const readme = readFileSync(README, 'utf8');

test('the README options table is current (run `npm run docs` when this fails)', () => {
  const block = readme.slice(readme.indexOf(START) + START.length, readme.indexOf(END));
  assert.ok(readme.includes(START) && readme.includes(END), 'README.md keeps the options-table markers');
  assert.equal(block, `\n${renderOptionsTable()}`, 'README.md options table is stale: run `npm run docs`');
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

test('the block is replaced in place, idempotently, and a README without markers is an error', () => {
  const doc = `# x\n\nbefore\n${START}\nold\n${END}\nafter\n`;
  const once = replaceBlock(doc, 'NEW\n');
  assert.equal(once, `# x\n\nbefore\n${START}\nNEW\n${END}\nafter\n`);
  assert.equal(replaceBlock(once, 'NEW\n'), once);
  assert.throws(() => replaceBlock('# no markers\n', 'x'), /no <!-- options-table:start -->/);
});
