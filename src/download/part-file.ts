// Where an object is written while it arrives, and how a verified one is put in its place.
import { rename, utimes } from 'node:fs/promises';

export function partPath(target: string): string {
  return `${target}.part`;
}

/** Stamp the verified part with the object's time and move it into place (atomic on one filesystem). */
export async function finish(part: string, target: string, lastModified: Date | undefined): Promise<void> {
  if (lastModified) await utimes(part, lastModified, lastModified);
  await rename(part, target);
}
