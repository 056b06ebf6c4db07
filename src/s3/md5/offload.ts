// MD5 of downloaded bodies, computed on a worker thread while the event loop goes on receiving.
// Why: MD5 was more than half the event loop's work in a download of large-ish objects while the
// second core sat partly idle (rclone hashes on other goroutines) (docs/download.md, "Why the
// code is as it is").
// How: sockets read into blocks of shared memory (blocks.ts). A piece of a body to hash becomes a
// job on a shared queue (ring.ts) naming its bytes; the worker (crypto-worker.ts, node:crypto)
// hashes them in place and frees the block, and the socket reads into
// another block meanwhile. Pieces that arrived elsewhere (over TLS, one record at a time) are
// copied into a block first. No allocation and no message per piece (transferring fresh buffers
// with postMessage gained nothing and cost a lot of memory); only the digest comes back as a
// message, per object.
// SIDECAR_MD5=simd runs a WebAssembly SIMD MD5 on the same queue instead, four bodies per pass
// (simd-worker.ts): the benchmark's alternative, which no longer saves CPU on Node 24
// (docs/benchmarks.md). Without a second CPU (or WebAssembly SIMD, for that variant) MD5 stays inline.
// The worker belongs to an Md5Engine the download mode creates (one per run, no module state).
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { log } from '../../log.js';
import { copyBytes } from '../../util/copy-bytes.js';
import type { ReadBufferSource } from '../http1/index.js';
import { SharedBlocks } from './blocks.js';
import { BLOCK_BYTES, LAYOUT, controlWords, putJob, type Job } from './ring.js';
import { MD5_VARIABLE, md5Kind } from './choice.js';
import { md5x4Module } from './simd.js';
import type { CryptoWorkerData } from './crypto-worker.js';
import type { Md5WorkerData } from './simd-worker.js';

export interface Md5 {
  /** hash these bytes; the buffer may be reused as soon as this returns */
  update(piece: Buffer): void;
  /** the hex digest of everything given to update; call once, then nothing else */
  digest(): Promise<string>;
  /** forget the bytes (a failed attempt); call instead of digest */
  drop(): void;
}

function inlineMd5(): Md5 {
  const hash = createHash('md5');
  return {
    update: (piece) => hash.update(piece),
    digest: () => Promise.resolve(hash.digest('hex')),
    drop: () => {},
  };
}

/** 32 MiB of address space; only blocks in use are ever touched (count in the RSS). */
const BLOCKS = 128;
/** the worker's scratch after the blocks (lane states, carried and padding blocks) */
const SCRATCH_BYTES = 1024;
const PAGES = Math.ceil((BLOCKS * BLOCK_BYTES + SCRATCH_BYTES) / 65536);
/** Send a part-filled copy block to the worker once less than this is left in it. */
const MIN_ROOM = 64 * 1024;
/** Give up on a worker that frees nothing for this long (it died, or the machine starves it). */
const STALL_MS = 30_000;

/** The MD5 worker of one download run: started on first use, replaced by inline MD5 for good once it fails. */
export class Md5Engine {
  private instance: Md5Offload | undefined;
  private unavailable = false;

  /** A fresh MD5: on the worker when this machine has a second CPU, else inline. */
  md5(): Md5 {
    const off = this.offload();
    return off ? new OffloadedMd5(off, off.newStream()) : inlineMd5();
  }

  /** Read buffers the worker can hash in place, for the download's connections (undefined: MD5 is inline). */
  readBuffers(): ReadBufferSource | undefined {
    return this.offload()?.blocks;
  }

  /** Stop the worker as if it had died (for tests of the fallback). */
  async terminate(): Promise<void> {
    await this.instance?.terminate();
  }

  private offload(): Md5Offload | undefined {
    // after a failure MD5 stays inline: a worker that died once is not restarted (and restarted...)
    if (this.instance?.broken) {
      this.instance = undefined;
      this.unavailable = true;
    }
    if (this.instance || this.unavailable) return this.instance;
    if (availableParallelism() < 2) this.unavailable = true;
    else if (md5Kind() === 'crypto') this.instance = new Md5Offload(undefined);
    else {
      log.info({ md5: 'simd' }, `${MD5_VARIABLE}=simd: MD5 runs WebAssembly SIMD on the worker thread, four bodies per pass`);
      const wasm = md5x4Module(PAGES);
      if (WebAssembly.validate(wasm)) this.instance = new Md5Offload(wasm);
      else this.unavailable = true;
    }
    return this.instance;
  }
}

class Md5Offload {
  readonly blocks: SharedBlocks;
  /** set when the worker is gone or stalled: its streams fail (and are retried), new ones hash inline */
  broken: Error | undefined;
  /** streams with a part-filled copy block, sent early when blocks run short */
  readonly filling = new Set<OffloadedMd5>();
  private readonly ctl: Int32Array;
  private readonly control: SharedArrayBuffer;
  private readonly memory: WebAssembly.Memory;
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: (hex: string) => void; reject: (err: Error) => void }>();
  private lastStream = 0;
  private tail = 0;

  /** @param wasm md5x4Module(PAGES), validated; undefined: node:crypto's MD5 on the worker */
  constructor(private readonly wasm: Uint8Array | undefined) {
    this.control = new SharedArrayBuffer(controlWords(BLOCKS) * 4);
    this.ctl = new Int32Array(this.control);
    this.memory = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES, shared: true });
    this.blocks = new SharedBlocks(this.ctl, BLOCKS, this.memory.buffer, () => this.waitForFree());
  }

  newStream(): number {
    this.worker ??= this.start();
    this.lastStream = (this.lastStream + 1) | 0;
    return this.lastStream;
  }

  /** Queue a job; blocks the event loop while the queue is full. */
  push(job: Job): void {
    for (const started = performance.now(); ;) {
      this.check();
      const head = Atomics.load(this.ctl, LAYOUT.head);
      if (((this.tail - head) | 0) < LAYOUT.queue) break;
      this.wait(LAYOUT.head, head, started);
    }
    putJob(this.ctl, this.tail, job);
    this.tail = (this.tail + 1) | 0;
    // the store publishes the job (and the block's bytes written before it) to the worker
    Atomics.store(this.ctl, LAYOUT.tail, this.tail);
    Atomics.notify(this.ctl, LAYOUT.tail, 1);
  }

  awaitDigest(stream: number): Promise<string> {
    this.check();
    // the worker holds the process open only while a digest is awaited
    if (this.pending.size === 0) this.worker!.ref();
    return new Promise((resolve, reject) => this.pending.set(stream, { resolve, reject }));
  }

  check(): void {
    if (this.broken) throw this.broken;
  }

  async terminate(): Promise<void> {
    await this.worker?.terminate();
  }

  private start(): Worker {
    const common: CryptoWorkerData = { control: this.control, memory: this.memory, layout: LAYOUT };
    // files beside this module, in tsc's output and in the bundle alike (scripts/bundle.mjs)
    const worker = this.wasm
      ? new Worker(new URL('./simd-worker.js', import.meta.url), { workerData: { ...common, wasm: this.wasm, scratch: BLOCKS * BLOCK_BYTES } satisfies Md5WorkerData })
      : new Worker(new URL('./crypto-worker.js', import.meta.url), { workerData: common });
    worker.unref();
    worker.on('message', ([stream, hex]: [number, string]) => {
      const p = this.pending.get(stream);
      this.pending.delete(stream);
      if (this.pending.size === 0) worker.unref();
      p?.resolve(hex);
    });
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => this.fail(new Error(`the MD5 worker exited (code ${code})`)));
    return worker;
  }

  /** Blocks run short: send every part-filled copy block, then wait for the worker to free one. */
  private waitForFree(): boolean {
    if (this.broken || !this.worker) return false;
    const freed = Atomics.load(this.ctl, LAYOUT.freed);
    try {
      for (const s of this.filling) s.send();
      this.wait(LAYOUT.freed, freed, performance.now());
      return true;
    } catch {
      return false;
    }
  }

  /** Wait (blocking) until control word `index` moves from `seen`; fails the offload after STALL_MS in all. */
  private wait(index: number, seen: number, startedAt: number): void {
    const left = STALL_MS - (performance.now() - startedAt);
    if (left <= 0 || Atomics.wait(this.ctl, index, seen, left) === 'timed-out' && Atomics.load(this.ctl, index) === seen) {
      this.fail(new Error(`the MD5 worker made no progress for ${STALL_MS / 1000} s`));
      this.check();
    }
  }

  private fail(err: Error): void {
    if (this.broken) return;
    this.broken = err;
    log.warn({ err }, 'MD5 worker failed: objects in flight are fetched again, and hashed on the event loop');
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    void this.worker?.terminate();
  }
}

class OffloadedMd5 implements Md5 {
  /** the block pieces from elsewhere are copied into */
  private block = -1;
  private fill = 0;

  constructor(private readonly off: Md5Offload, private readonly stream: number) {}

  update(piece: Buffer): void {
    const { blocks } = this.off;
    const b = blocks.blockOf(piece);
    if (b >= 0) {
      // read straight into shared memory: hash it there (after any copied bytes before it)
      if (this.block >= 0) this.send();
      this.off.check();
      blocks.ref(b);
      this.off.push({ stream: this.stream, block: b, offset: piece.byteOffset % BLOCK_BYTES, length: piece.length, kind: LAYOUT.data });
      return;
    }
    for (let from = 0; from < piece.length; ) {
      if (this.block < 0) {
        this.block = blocks.take();
        this.off.check();
        if (this.block < 0) throw new Error('the MD5 worker has no free block');
        this.fill = 0;
        this.off.filling.add(this);
      }
      const n = Math.min(piece.length - from, BLOCK_BYTES - this.fill);
      copyBytes(piece.subarray(from, from + n), blocks.bytes, this.block * BLOCK_BYTES + this.fill);
      this.fill += n;
      from += n;
      if (BLOCK_BYTES - this.fill < MIN_ROOM) this.send();
    }
  }

  digest(): Promise<string> {
    if (this.block >= 0) this.send();
    this.off.push({ stream: this.stream, block: -1, offset: 0, length: 0, kind: LAYOUT.finish });
    return this.off.awaitDigest(this.stream);
  }

  drop(): void {
    this.off.filling.delete(this);
    if (this.block >= 0) this.off.blocks.unref(this.block);
    this.block = -1;
    if (!this.off.broken) this.off.push({ stream: this.stream, block: -1, offset: 0, length: 0, kind: LAYOUT.drop });
  }

  /** Hand the part-filled copy block to the worker (its reference goes with the job). */
  send(): void {
    this.off.filling.delete(this);
    const block = this.block;
    this.block = -1;
    if (this.fill > 0) this.off.push({ stream: this.stream, block, offset: 0, length: this.fill, kind: LAYOUT.data });
    else this.off.blocks.unref(block);
    this.fill = 0;
  }
}
