// Which paths below the output dir are uploaded, and which folders are never walked.
// One filter serves the watcher (chokidar `ignored`, so pruned folders cost no inotify watch),
// the reconcile scan and the uploader, so they can never disagree.
import picomatch from 'picomatch';
import { globMatcher } from '../util/glob.js';
import { ODM_NEVER_DIRS, ODM_PRODUCT_DIRS, ODM_ROOT_FILES, ODM_TEMPORARIES } from '../odm/project.js';

export interface FilterSpec {
  preset: 'none' | 'odm';
  include: string[];
  exclude: string[];
  /** paths (relative to the output dir) that are the sidecar's own files: never uploaded */
  ownFiles: string[];
}

type Matcher = (path: string) => boolean;

const never: Matcher = () => false;

/** Globs as in .gitignore / rclone (see globMatcher); an empty list matches nothing. */
function matcher(globs: readonly string[]): Matcher {
  return globMatcher(globs) ?? never;
}

export class OutputFilter {
  private readonly include: Matcher | undefined;
  private readonly exclude: Matcher;
  private readonly own: Set<string>;
  private readonly odm: boolean;
  private readonly productDir: Matcher;
  private readonly neverDir: Matcher;
  private readonly includeTop: Matcher;

  constructor(readonly spec: FilterSpec) {
    this.odm = spec.preset === 'odm';
    const include = this.odm ? [...ODM_ROOT_FILES, ...ODM_PRODUCT_DIRS.map((d) => `${d}/**`), ...spec.include] : spec.include;
    this.include = include.length ? matcher(include) : undefined;
    this.exclude = matcher([...(this.odm ? ODM_TEMPORARIES : []), ...spec.exclude, '.s3-sidecar/**']);
    this.own = new Set(spec.ownFiles);
    this.productDir = picomatch([...ODM_PRODUCT_DIRS], { dot: true });
    this.neverDir = picomatch([...ODM_NEVER_DIRS], { dot: true });
    // with the preset, an include such as `opensfm_extra/**` still needs its top folder walked
    this.includeTop = matcher(spec.include.filter((g) => g.includes('/')).map((g) => g.split('/')[0]!).filter((s) => s !== '**'));
  }

  /** Never walk into this folder (relative path, no trailing slash). */
  pruneDir(rel: string): boolean {
    if (this.exclude(rel)) return true;
    if (!this.odm) return false;
    const top = rel.split('/')[0]!;
    if (this.neverDir(top)) return true;
    return !(this.productDir(top) || this.includeTop(top));
  }

  /** Upload this file (relative path)? */
  wantFile(rel: string): boolean {
    if (this.own.has(rel) || this.isOwnTemp(rel)) return false;
    if (this.exclude(rel)) return false;
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) if (this.pruneDir(parts.slice(0, i).join('/'))) return false;
    return this.include ? this.include(rel) : true;
  }

  /** atomicWrite's temp file for one of our own files: `.<name>.<random>.tmp` in the same folder */
  private isOwnTemp(rel: string): boolean {
    if (!rel.endsWith('.tmp')) return false;
    const slash = rel.lastIndexOf('/');
    const dir = rel.slice(0, slash + 1);
    const base = rel.slice(slash + 1);
    for (const f of this.own) {
      const fs = f.lastIndexOf('/');
      if (f.slice(0, fs + 1) === dir && base.startsWith(`.${f.slice(fs + 1)}.`)) return true;
    }
    return false;
  }

  /** chokidar `ignored`: stats are absent on some calls, so without them ignore only what is ignored either way. */
  ignores(rel: string, isDir: boolean | undefined): boolean {
    if (rel === '') return false;
    if (isDir === undefined) return this.pruneDir(rel) && !this.wantFile(rel);
    return isDir ? this.pruneDir(rel) : !this.wantFile(rel);
  }
}
