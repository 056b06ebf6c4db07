// The s3-sidecar under test is a copy of dist/ taken when the bench starts: other engineers
// rebuild dist/ from the shared working tree at any time, and a bench must measure one build
// from start to end. The copy lives in <repo>/.bench/ (git-ignored) so that node still resolves
// the repo's node_modules from it.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SNAPSHOT = join(ROOT, '.bench');
export const SIDECAR_CLI = join(SNAPSHOT, 'dist', 'cli.js');

/** Copy dist/ (and package.json, which the CLI reads) into .bench/; returns which code it is. */
export function snapshotSidecar(): string {
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: npm run build first (npm run bench does)');
  rmSync(join(SNAPSHOT, 'dist'), { recursive: true, force: true });
  cpSync(join(ROOT, 'dist'), join(SNAPSHOT, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(SNAPSHOT, 'package.json'));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  const dirty = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length;
  return `s3-sidecar ${git('rev-parse', '--short', 'HEAD')}${dirty ? ` + ${dirty} uncommitted change(s) in src/` : ''}`;
}

/** Which code another checkout holds (the --baseline build). */
export function describeBuild(dir: string): string {
  const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim();
  return `s3-sidecar ${rev} (${dir})`;
}
