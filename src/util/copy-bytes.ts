// Copying bytes with memcpy, also to and from shared memory. Buffer#copy goes through
// TypedArray#set, and where either side lies in a SharedArrayBuffer (the read blocks of
// md5/blocks.ts) V8 copies with relaxed atomic loads and stores, byte by byte when the two
// addresses are not equally aligned, as a body after an HTTP head usually is not. Buffer#fill
// with a buffer for its value is node's own memcpy, several times faster for a download's bodies
// (docs/download.md, "Why the code is as it is").

/** Copy `source` (as much as fits) into `target` at `at`; returns the bytes copied. */
export function copyBytes(source: Uint8Array, target: Buffer, at: number): number {
  const n = Math.min(source.length, target.length - at);
  if (n <= 0) return 0; // fill refuses an empty value
  target.fill(n === source.length ? source : source.subarray(0, n), at, at + n);
  return n;
}
