// The repository speaks of the product, never of how its development was organised: a reader
// cannot tell what a numbered stretch of work or "the last build of it" was. History is keyed by
// version (commit) and date instead. This scans every file git knows of (tracked, and new files
// not ignored), so a stray phrase fails the suite with its file and line.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// Written so that this file does not match itself (\s where the phrase has a space).
export const PROCESS_WORDS: RegExp[] = [
  /\bsessions?\s\d+/i, // a numbered session, with or without 's
  /\bwork\s(periods?|sessions?)\b/i,
  /\bfinal\stransfer\scode\b/i,
  /\bturns?\s\d+\b/i,
  /\bthis\ssession\b(?!['’]s)(?!\s(token|policy|name|tags?|duration|credentials|expir))/i,
  /\bfinal\sbuild\b/i,
  /\bmile[s]tones?\b/i,
];

export function processWordHits(text: string): { line: number; text: string }[] {
  return text.split('\n').flatMap((l, i) => (PROCESS_WORDS.some((re) => re.test(l)) ? [{ line: i + 1, text: l.trim() }] : []));
}

test('no file in the repository speaks of how the development work was organised', () => {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  assert.ok(files.length > 50, `git lists the repository's files (got ${files.length})`);
  const hits: string[] = [];
  for (const file of files) {
    let buf: Buffer;
    try {
      buf = readFileSync(join(ROOT, file));
    } catch {
      continue; // listed but deleted in the work tree
    }
    if (buf.includes(0)) continue; // binary
    for (const h of processWordHits(buf.toString('utf8'))) hits.push(`${file}:${h.line}: ${h.text.slice(0, 120)}`);
  }
  assert.deepEqual(hits, [], `development-process words (key history by commit and date instead):\n${hits.join('\n')}`);
});

test('the patterns catch the phrases they are for and leave the product vocabulary alone', () => {
  // ~ stands for a space and | for nothing, so that this file does not contain the phrases it forbids
  const bad = ["session~5's~final~build", 'Session~4~(f02e15c)', 'the~end~of~a~work~session', 'a~work~period', 'at~the~final~transfer~code', 'in~turn~3', 'other~runs~this~session', 'the~first~mile|stone'];
  for (const phrase of bad.map((b) => b.replaceAll('~', ' ').replaceAll('|', ''))) assert.equal(processWordHits(phrase).length, 1, phrase);
  for (const ok of ['the session token expires', 'a session policy scoped to the job', 'role session name', 'this session policy', 'one waiting for its turn', 'output-session.ts', 'STS sessions last 1 hour']) {
    assert.equal(processWordHits(ok).length, 0, ok);
  }
});
