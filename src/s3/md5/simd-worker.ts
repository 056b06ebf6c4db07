// The SIMD MD5 worker. It takes jobs from the shared queue (ring.ts) as they come, keeps each stream's
// bytes in order, and hashes four streams at a time with md5x4 (simd.ts), straight from the
// blocks the sockets read into. A job's block is freed once its bytes are hashed; a stream's
// digest is posted once its FINISH job came and all its bytes are hashed. It only ever waits on
// the queue, so it needs no event loop of its own.
// MD5 pads each stream itself here (RFC 1321): md5x4 only runs whole 64-byte blocks. Bytes that do
// not fill a block wait in the stream's carry until the next job (or the padding) completes it.
// offload.ts starts this file as the worker's module. It imports nothing of ours at run time
// (only types), so scripts/bundle.mjs can place it beside the bundled code as it is.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { RingLayout } from './ring.js';

export interface Md5WorkerData {
  control: SharedArrayBuffer;
  memory: WebAssembly.Memory;
  /** md5x4Module's bytes for this memory */
  wasm: Uint8Array;
  layout: RingLayout;
  /** where the worker's 1 KiB of scratch starts in the memory (after the blocks) */
  scratch: number;
}

if (!isMainThread) md5WorkerMain();

function md5WorkerMain(): void {
  const { control, memory, wasm, layout: L, scratch } = workerData as Md5WorkerData;
  const ctl = new Int32Array(control);
  const md5x4 = new WebAssembly.Instance(new WebAssembly.Module(wasm), { env: { mem: memory } }).exports.md5x4 as
    (state: number, p0: number, p1: number, p2: number, p3: number, blocks: number) => void;
  const bytes = new Uint8Array(memory.buffer);
  const words = new Int32Array(memory.buffer);
  // scratch: the four lanes' states (64 bytes), then one 128-byte area per lane for a carried or padding block
  const stateAt = scratch;
  const laneArea = (lane: number) => scratch + 64 + lane * 128;

  interface Piece { block: number; at: number; left: number }
  interface Stream { id: number; state: number[]; total: number; carry: Uint8Array; carried: number; pieces: Piece[]; finishing: boolean }
  const streams = new Map<number, Stream>();
  const stream = (id: number): Stream => {
    let s = streams.get(id);
    if (!s) streams.set(id, (s = { id, state: [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476], total: 0, carry: new Uint8Array(64), carried: 0, pieces: [], finishing: false }));
    return s;
  };
  const free = (block: number) => {
    if (Atomics.sub(ctl, L.counts + block, 1) === 1) {
      Atomics.add(ctl, L.freed, 1);
      Atomics.notify(ctl, L.freed);
    }
  };
  /** Run md5x4 over `blocks` blocks for up to four streams (lane i reads from addresses[i]); an unused lane repeats lane 0. */
  const run = (lanes: Stream[], addresses: number[], blocks: number) => {
    for (let l = 0; l < 4; l++) for (let r = 0; r < 4; r++) words[(stateAt >> 2) + r * 4 + l] = (lanes[l] ?? lanes[0]!).state[r]!;
    md5x4(stateAt, addresses[0]!, addresses[1] ?? addresses[0]!, addresses[2] ?? addresses[0]!, addresses[3] ?? addresses[0]!, blocks);
    for (const [l, s] of lanes.entries()) for (let r = 0; r < 4; r++) s.state[r] = words[(stateAt >> 2) + r * 4 + l]!;
  };
  /** Move a stream's bytes into its carry until it holds a whole block or the stream has no more; true when whole. */
  const fillCarry = (s: Stream): boolean => {
    while (s.carried < 64 && s.pieces.length > 0) {
      const p = s.pieces[0]!;
      const n = Math.min(64 - s.carried, p.left);
      s.carry.set(bytes.subarray(p.block * L.blockBytes + p.at, p.block * L.blockBytes + p.at + n), s.carried);
      s.carried += n;
      p.at += n;
      p.left -= n;
      if (p.left === 0) {
        s.pieces.shift();
        free(p.block);
      }
    }
    return s.carried === 64;
  };
  const finish = (s: Stream) => {
    // the padding: 0x80, zeros, the length in bits (64-bit little-endian), in one or two blocks
    const area = laneArea(0);
    bytes.fill(0, area, area + 128);
    bytes.set(s.carry.subarray(0, s.carried), area);
    bytes[area + s.carried] = 0x80;
    const blocks = s.carried < 56 ? 1 : 2;
    const bits = s.total * 8;
    words[(area + blocks * 64 - 8) >> 2] = bits % 2 ** 32 | 0;
    words[(area + blocks * 64 - 4) >> 2] = Math.floor(bits / 2 ** 32) | 0;
    run([s], [area], blocks);
    const digest = Buffer.alloc(16);
    for (let r = 0; r < 4; r++) digest.writeInt32LE(s.state[r]!, r * 4);
    streams.delete(s.id);
    parentPort!.postMessage([s.id, digest.toString('hex')]);
  };

  // A pass costs the same with one lane as with four. With fewer than four streams ready, wait a
  // moment for more, unless a digest is awaited or the pieces waiting hold many blocks (the event
  // loop may be waiting for one: sockets hold at most half of them); then run a short group only
  // a little at a time. Measured on 600 × 4 MiB: 3.67 lanes per pass on average; without the
  // short runs 2.9, which cost a quarter of the SIMD's gain.
  let patient = true;
  const PATIENCE_MS = 1;
  const MANY_PIECES = 56;
  const SHORT_GROUP_BLOCKS = 256;
  for (let head = Atomics.load(ctl, L.head); ; ) {
    // take every job queued: their bytes stay in the blocks until hashed
    for (const tail = Atomics.load(ctl, L.tail); head !== tail; head = (head + 1) | 0) {
      const at = L.jobs + (head & (L.queue - 1)) * L.jobWords;
      const [id, block, offset, length, kind] = [ctl[at]!, ctl[at + 1]!, ctl[at + 2]!, ctl[at + 3]!, ctl[at + 4]!];
      if (kind === L.data) {
        const s = stream(id);
        s.pieces.push({ block, at: offset, left: length });
        s.total += length;
      } else if (kind === L.finish) {
        stream(id).finishing = true;
      } else if (kind === L.drop) {
        for (const p of streams.get(id)?.pieces ?? []) free(p.block);
        streams.delete(id);
      }
      Atomics.store(ctl, L.head, (head + 1) | 0);
      Atomics.notify(ctl, L.head);
    }
    // whole blocks carried over from earlier pieces first, then up to four streams in bulk
    const carried: Stream[] = [];
    const bulk: Stream[] = [];
    for (const s of streams.values()) {
      // bytes carried over, or a piece shorter than a block: made whole from what follows, if anything does
      if (s.carried > 0 || (s.pieces.length > 0 && s.pieces[0]!.left < 64)) {
        if (fillCarry(s)) carried.push(s);
      } else if (s.pieces.length > 0) {
        bulk.push(s);
      }
    }
    for (let i = 0; i < carried.length; i += 4) {
      const lanes = carried.slice(i, i + 4);
      lanes.forEach((s, l) => bytes.set(s.carry, laneArea(l)));
      run(lanes, lanes.map((_, l) => laneArea(l)), 1);
      for (const s of lanes) s.carried = 0;
    }
    let pieces = 0;
    for (const s of streams.values()) pieces += s.pieces.length;
    const waitForLanes = bulk.length % 4 !== 0 && patient && pieces < MANY_PIECES && !bulk.some((s) => s.finishing);
    for (let i = 0; i < bulk.length; i += 4) {
      const lanes = bulk.slice(i, i + 4);
      if (lanes.length < 4 && waitForLanes) break;
      // a short group runs a little at a time: by the next pass more streams may be ready to fill its lanes
      const blocks = Math.min(lanes.length < 4 ? SHORT_GROUP_BLOCKS : Infinity, ...lanes.map((s) => Math.floor(s.pieces[0]!.left / 64)));
      run(lanes, lanes.map((s) => s.pieces[0]!.block * L.blockBytes + s.pieces[0]!.at), blocks);
      for (const s of lanes) {
        const p = s.pieces[0]!;
        p.at += blocks * 64;
        p.left -= blocks * 64;
        if (p.left === 0) {
          s.pieces.shift();
          free(p.block);
        } else if (p.left < 64) {
          fillCarry(s);
        }
      }
    }
    let busy = false;
    for (const s of [...streams.values()]) {
      if (s.pieces.length > 0 || s.carried === 64) busy = true;
      else if (s.finishing) finish(s);
    }
    if (waitForLanes) {
      // no new job within the moment: run what is ready, with the lanes there are
      patient = Atomics.wait(ctl, L.tail, head, PATIENCE_MS) !== 'timed-out';
    } else {
      patient = true;
      if (!busy && head === Atomics.load(ctl, L.tail)) Atomics.wait(ctl, L.tail, head);
    }
  }
}
