// Which listed keys to fetch: include/exclude globs (a layout's default excludes among them), --max-depth.
// Patterns are matched against the key relative to the input prefix. A pattern without "/"
// matches the file name at any depth ("*.jpg"), as in rclone and .gitignore; a pattern with
// "/" is anchored at the prefix ("flight1/**").
import { globMatcher } from '../util/glob.js';
import { depthOf } from '../util/keys.js';

export interface FilterOptions {
  include: readonly string[];
  exclude: readonly string[];
  maxDepth?: number | undefined;
}

/** Returns why a relative key is skipped, or undefined to fetch it. */
export type KeyFilter = (rel: string) => string | undefined;

export function makeKeyFilter(opts: FilterOptions): KeyFilter {
  const include = globMatcher(opts.include);
  const exclude = globMatcher(opts.exclude);
  return (rel) => {
    if (opts.maxDepth !== undefined && depthOf(rel) > opts.maxDepth) return `deeper than --max-depth ${opts.maxDepth}`;
    const path = rel.endsWith('/') ? rel.slice(0, -1) : rel;
    if (exclude?.(path)) return 'matches an exclude pattern';
    if (include && !include(path)) return 'matches no include pattern';
    return undefined;
  };
}
