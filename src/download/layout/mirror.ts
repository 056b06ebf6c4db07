// mirror: the key below the prefix is the path below the input dir, unchanged.
import type { Layout, Placement } from './types.js';

export class MirrorLayout implements Layout {
  readonly name = 'mirror' as const;
  /** paths already placed, so two input prefixes cannot silently overwrite each other */
  private readonly taken = new Set<string>();
  private readonly multiScope: boolean;

  constructor(prefixCount: number) {
    // with one prefix keys are unique by construction: skip the bookkeeping
    this.multiScope = prefixCount > 1;
  }

  place(_scope: string, segments: readonly string[], isDir: boolean): Placement {
    if (isDir) return { kind: 'dir', segments: [...segments] };
    if (this.multiScope) {
      const path = segments.join('/');
      if (this.taken.has(path)) return { kind: 'refuse', reason: 'an earlier input prefix already provides this path' };
      this.taken.add(path);
    }
    return { kind: 'file', segments: [...segments], role: 'file' };
  }

  claim(segments: readonly string[]): void {
    if (this.multiScope) this.taken.add(segments.join('/'));
  }
}
