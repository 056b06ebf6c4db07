// A layout decides where each listed key (already filtered and checked safe) lands below the
// input dir. Layouts see keys in listing order (S3 lists in UTF-8 byte order), which is what
// makes their renames deterministic across re-runs.

export type Role = 'file' | 'image' | 'mask' | 'video' | 'ancillary';

export type Placement =
  /** fetch the object to this path (segments relative to the input dir) */
  | { kind: 'file'; segments: string[]; role: Role; renamedFrom?: string }
  /** a directory marker: create the directory */
  | { kind: 'dir'; segments: string[] }
  /** an archive to fetch aside and extract after the listing (odm layout) */
  | { kind: 'archive' }
  /** not wanted by this layout */
  | { kind: 'ignore'; reason: string }
  /** wanted but cannot be placed (counted as a failure) */
  | { kind: 'refuse'; reason: string };

export interface Layout {
  readonly name: 'mirror' | 'odm';
  /**
   * Place one key. `scope` groups keys that share directories (one input prefix, or one archive),
   * `segments` is the checked relative key split on "/", `isDir` marks a directory-marker key.
   */
  place(scope: string, segments: readonly string[], isDir: boolean): Placement;
  /** Mark a path as taken without placing a key (files extracted by an earlier run). */
  claim(segments: readonly string[]): void;
}
