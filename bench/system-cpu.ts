// CPU seconds the rest of the machine spends while a tool runs: the lab's Ceph daemons (RGW, OSD,
// monitor) and the latency proxy. Why the bench reports them: on these 2-core machines the
// latency case keeps both cores busy with the client, the proxy and the server together, so a
// tool's wall time follows the whole machine's CPU, not its own. The server does most of it
// (measured: 2.5 of 5.5 CPU s for 2,000 × 64 KiB), and varies from run to run with everything
// else on the host.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** utime + stime of a live process in seconds; 0 once it is gone */
function cpuOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "(comm) ": state is field 3, utime and stime are fields 14 and 15
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** A meter of these processes' CPU: call it before a run, and what it returns after. */
export function cpuMeter(pids: number[]): () => () => number {
  const total = () => pids.reduce((sum, pid) => sum + cpuOf(pid), 0);
  return () => {
    const before = total();
    return () => total() - before;
  };
}
