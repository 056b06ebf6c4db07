// One bench at a time: two would share the bench lab (the one that ends first stops it under
// the other) and the work dir (a starting one wipes it). The lock file holds the owner's PID; a
// lock whose owner is gone is taken over.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

const LOCK = '/tmp/s3-sidecar-bench.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Take the bench lock or throw naming the holder; returns the release function. */
export function lockBench(): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(LOCK, String(process.pid), { flag: 'wx' });
      return () => rmSync(LOCK, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(LOCK, 'utf8'));
      if (holder && alive(holder)) throw new Error(`another bench is running (pid ${holder}, ${LOCK}); run one at a time`);
      rmSync(LOCK, { force: true }); // stale: its owner is gone
    }
  }
  throw new Error(`cannot take ${LOCK}`);
}
