// Include/exclude globs with rclone / .gitignore semantics, shared by the input filter (download)
// and the output filter (run/upload) so both read patterns the same way.
import picomatch from 'picomatch';

/**
 * One predicate for a list of globs. A glob with a slash matches the whole relative path
 * ("flight1/**"); one without matches the last segment at any depth ("*.jpg"). picomatch's own
 * `basename` option applies to every pattern, slashes or not (then "**\/tmp/**" never matches),
 * so the two kinds are compiled apart. `dot`: ODM and users have dotfiles.
 * Returns undefined for an empty list, so callers can tell "no include filter" from "matches".
 */
export function globMatcher(globs: readonly string[]): ((path: string) => boolean) | undefined {
  if (globs.length === 0) return undefined;
  const anchored = globs.filter((g) => g.includes('/'));
  const names = globs.filter((g) => !g.includes('/'));
  const full = anchored.length ? picomatch(anchored, { dot: true }) : undefined;
  const base = names.length ? picomatch(names, { dot: true }) : undefined;
  return (path) => Boolean(full?.(path) || base?.(path.slice(path.lastIndexOf('/') + 1)));
}
