// The node:crypto MD5 worker: the alternative to the SIMD one (simd-worker.ts) on the same shared
// queue and blocks (ring.ts, blocks.ts), so that the two differ in the hash alone. It hashes each
// job's bytes in place with createHash('md5') (OpenSSL), one stream at a time, frees the block and
// posts a stream's digest at its FINISH job. SIDECAR_MD5=crypto picks it (offload.ts).
// Like the SIMD worker, it imports nothing of ours at run time (scripts/bundle.mjs places it as it is).
import { createHash, type Hash } from 'node:crypto';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { Md5WorkerData } from './simd-worker.js';

export type CryptoWorkerData = Omit<Md5WorkerData, 'wasm' | 'scratch'>;

if (!isMainThread) cryptoWorkerMain();

function cryptoWorkerMain(): void {
  const { control, memory, layout: L } = workerData as CryptoWorkerData;
  const ctl = new Int32Array(control);
  const bytes = Buffer.from(memory.buffer);
  const hashes = new Map<number, Hash>();
  const free = (block: number) => {
    if (Atomics.sub(ctl, L.counts + block, 1) === 1) {
      Atomics.add(ctl, L.freed, 1);
      Atomics.notify(ctl, L.freed);
    }
  };
  for (let head = Atomics.load(ctl, L.head); ; ) {
    if (head === Atomics.load(ctl, L.tail)) {
      Atomics.wait(ctl, L.tail, head);
      continue;
    }
    const at = L.jobs + (head & (L.queue - 1)) * L.jobWords;
    const [id, block, offset, length, kind] = [ctl[at]!, ctl[at + 1]!, ctl[at + 2]!, ctl[at + 3]!, ctl[at + 4]!];
    head = (head + 1) | 0;
    Atomics.store(ctl, L.head, head);
    Atomics.notify(ctl, L.head);
    if (kind === L.data) {
      let h = hashes.get(id);
      if (!h) hashes.set(id, (h = createHash('md5')));
      const from = block * L.blockBytes + offset;
      h.update(bytes.subarray(from, from + length));
      free(block);
    } else if (kind === L.finish) {
      const digest = (hashes.get(id) ?? createHash('md5')).digest('hex');
      hashes.delete(id);
      parentPort!.postMessage([id, digest]);
    } else if (kind === L.drop) {
      hashes.delete(id);
    }
  }
}
