// Names below the input dir that belong to the sidecar, not to any key: its state dir (part
// files, range journals, archives and their markers) and the ready file. A key placed there would
// overwrite the sidecar's own files or be overwritten by them, so it is refused with a reason.
import { rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** The sidecar's private state dir below the input dir (archives, markers, part files). */
export const STATE_DIR = '.s3-sidecar';

export class ReservedNames {
  private readonly readyFile: string | undefined;

  constructor(readyFile: string | undefined) {
    this.readyFile = readyFile === undefined ? undefined : resolve(readyFile);
  }

  /** Why a key placed at `segments` (resolved to `target`) is refused, or undefined when it may land there. */
  reason(segments: readonly string[], target: string): string | undefined {
    if (segments[0] === STATE_DIR) return `lands in the sidecar's state dir ${STATE_DIR}/ (kept for its part files and archives)`;
    if (this.readyFile !== undefined && (target === this.readyFile || this.readyFile.startsWith(`${target}/`))) {
      return `lands on the ready file ${this.readyFile}`;
    }
    return undefined;
  }
}

/** Remove the state dir's tmp/ and the state dir itself when a run leaves them empty (rmdir fails on anything else). */
export async function removeEmptyStateDirs(root: string): Promise<void> {
  for (const dir of [join(root, STATE_DIR, 'tmp'), join(root, STATE_DIR)]) await rmdir(dir).catch(() => {});
}
