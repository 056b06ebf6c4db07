// Which listed keys to fetch: include/exclude globs, ScaleODM's default excludes, --max-depth.
// Patterns are matched against the key relative to the input prefix. A pattern without "/"
// matches the file name at any depth ("*.jpg"), as in rclone and .gitignore; a pattern with
// "/" is anchored at the prefix ("flight1/**").
import { globMatcher } from '../util/glob.js';
import { depthOf } from './keys.js';

/**
 * ScaleODM's exclude set for input prefixes (app/s3/files.go alwaysExcludePatterns + the API's
 * DefaultProjectExcludes), anchored anywhere as rclone does: a previous run's products must
 * never be fed back into ODM as input imagery.
 */
export const ODM_DEFAULT_EXCLUDES = [
  'output', 'odm', 'odm_orthophoto', 'odm_dem', 'odm_dem_tiles', 'odm_texturing', 'odm_texturing_25d',
  'odm_meshing', 'odm_filterpoints', 'odm_georeferencing', 'odm_report', 'images_resize',
  'entwine_pointcloud', 'mapproxy', 'submodels', '*-output', 'thumbs',
].map((dir) => `**/${dir}/**`).concat(['all.zip']);

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
