// The memory the event loop shares with the MD5 worker (offload.ts → simd-worker.ts or
// crypto-worker.ts): fixed-size blocks that sockets read into (or body pieces are copied into),
// a queue of jobs naming a range of a block, and a reference count per block. One producer (the event loop) and one consumer
// (the worker); each queue index is written by one side only, and the Atomics calls order a
// block's bytes before the job that names them.
const QUEUE = 1024;
const FIRST_JOB = 4;
const JOB_WORDS = 5;

export const LAYOUT = {
  blockBytes: 256 * 1024,
  /** jobs the queue holds (a power of two: indices wrap); a full queue makes the event loop wait for the worker */
  queue: QUEUE,
  // control words
  /** next job the worker takes; written by the worker */
  head: 0,
  /** next free job slot; written by the event loop */
  tail: 1,
  /** blocks freed by the worker so far; the event loop waits on it when none is free */
  freed: 2,
  /** first job: stream id, block, offset, length, kind */
  jobs: FIRST_JOB,
  jobWords: JOB_WORDS,
  /** the blocks' reference counts, after the jobs (see countIndex) */
  counts: FIRST_JOB + QUEUE * JOB_WORDS,
  // job kinds
  /** hash `length` bytes of `block` from `offset`, then drop the job's reference to the block */
  data: 0,
  /** post the stream's digest */
  finish: 1,
  /** forget the stream (a failed attempt) */
  drop: 2,
} as const;
export type RingLayout = typeof LAYOUT;

export const BLOCK_BYTES = LAYOUT.blockBytes;

export const controlWords = (blocks: number) => LAYOUT.counts + blocks;
/**
 * A block's reference count: one for the socket reading into it or the stream filling it, one
 * per queued job naming it. 0: free. Only the event loop takes references; the worker drops one
 * per job done.
 */
export const countIndex = (block: number) => LAYOUT.counts + block;

export interface Job {
  stream: number;
  block: number;
  offset: number;
  length: number;
  kind: number;
}

export function putJob(ctl: Int32Array, index: number, job: Job): void {
  const at = LAYOUT.jobs + (index & (LAYOUT.queue - 1)) * LAYOUT.jobWords;
  ctl[at] = job.stream;
  ctl[at + 1] = job.block;
  ctl[at + 2] = job.offset;
  ctl[at + 3] = job.length;
  ctl[at + 4] = job.kind;
}
