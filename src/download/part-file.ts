// Where an object is written while it arrives, and how a verified one is put in its place.
// Part files live in the sidecar's state dir, which no key may write into, and are named by a
// hash of the target: so keys `x` and `x.part` (or `x.part.ranges`) never share a file, and a name
// that fits NAME_MAX only without a suffix still gets a part file.
import { hash } from 'node:crypto';
import { rename, utimes } from 'node:fs/promises';
import { join } from 'node:path';

export function partPath(tmpDir: string, target: string): string {
  return join(tmpDir, `${hash('sha256', target, 'hex').slice(0, 32)}.part`);
}

/** Stamp the verified part with the object's time and move it into place (atomic on one filesystem). */
export async function finish(part: string, target: string, lastModified: Date | undefined): Promise<void> {
  if (lastModified) await utimes(part, lastModified, lastModified);
  await rename(part, target);
}
