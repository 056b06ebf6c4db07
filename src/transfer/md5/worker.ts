// The MD5 worker: takes jobs from the shared queue (ring.ts) in order, hashes the named bytes in
// place, drops the job's reference to the block, and posts a stream's digest when its FINISH job
// comes. It only ever waits on the queue, so it needs no event loop of its own.
// It runs from its source text (offload.ts starts it with `eval`), so it needs no module loader
// (a TypeScript one, in the tests, would need the event loop this worker's caller blocks): it
// takes everything from Node's builtins and workerData, and has no inner functions (a loader's
// helpers around them would be missing from the text).
import type { RingLayout } from './ring.js';

export function md5WorkerMain(): void {
  const { createHash } = process.getBuiltinModule('node:crypto') as typeof import('node:crypto');
  const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads') as typeof import('node:worker_threads');
  const { control, memory, layout: L } = workerData as { control: SharedArrayBuffer; memory: SharedArrayBuffer; layout: RingLayout };
  const ctl = new Int32Array(control);
  const counts = L.jobs + L.queue * L.jobWords;
  const hashes = new Map<number, ReturnType<typeof createHash>>();

  for (let head = Atomics.load(ctl, L.head); ; ) {
    if (head === Atomics.load(ctl, L.tail)) {
      Atomics.wait(ctl, L.tail, head);
      continue;
    }
    const at = L.jobs + (head & (L.queue - 1)) * L.jobWords;
    const [stream, block, offset, length, kind] = [ctl[at]!, ctl[at + 1]!, ctl[at + 2]!, ctl[at + 3]!, ctl[at + 4]!];
    if (kind === L.data) {
      let hash = hashes.get(stream);
      if (!hash) hashes.set(stream, (hash = createHash('md5')));
      hash.update(new Uint8Array(memory, block * L.blockBytes + offset, length));
      if (Atomics.sub(ctl, counts + block, 1) === 1) {
        Atomics.add(ctl, L.freed, 1);
        Atomics.notify(ctl, L.freed);
      }
    } else if (kind === L.finish) {
      parentPort!.postMessage([stream, (hashes.get(stream) ?? createHash('md5')).digest('hex')]);
      hashes.delete(stream);
    } else if (kind === L.drop) {
      hashes.delete(stream);
    }
    head = (head + 1) | 0;
    Atomics.store(ctl, L.head, head);
    Atomics.notify(ctl, L.head);
  }
}
