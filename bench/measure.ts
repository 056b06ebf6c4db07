// Run one tool invocation under GNU time: wall clock (ours, monotonic), user + system CPU and peak
// RSS (GNU time's %U %S %M: rusage of the child and the descendants it waited for; %M is the
// largest single process, which is the whole tool here: rclone, s3-sidecar and awscli each run
// as one process).
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

export interface Sample {
  wallS: number;
  cpuS: number;
  maxRssMiB: number;
  exitCode: number | null;
  /** the lab's daemons' CPU seconds during the run (system-cpu.ts) */
  serverCpuS?: number;
  /** the latency proxy's, when the case goes through it */
  proxyCpuS?: number;
}

const GNU_TIME = '/usr/bin/time';

export function checkGnuTime(): void {
  if (!existsSync(GNU_TIME)) throw new Error(`${GNU_TIME} not found: apt-get install time`);
}

export interface Invocation {
  cmd: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

export async function measure(inv: Invocation, logFile: string, timeoutMs: number): Promise<Sample> {
  const timeFile = `${logFile}.time`;
  const log = openSync(logFile, 'w');
  const t0 = process.hrtime.bigint();
  const child = spawn(GNU_TIME, ['-o', timeFile, '-f', '%U %S %M', inv.cmd, ...inv.args], {
    env: inv.env,
    stdio: ['ignore', log, log],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  }).finally(() => {
    clearTimeout(timer);
    closeSync(log);
  });
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  // GNU time may print "Command exited with non-zero status N" first; the figures are the last line
  const last = (await readFile(timeFile, 'utf8')).trim().split('\n').pop() ?? '';
  const [user, sys, rssKiB] = last.split(' ').map(Number);
  if (user === undefined || sys === undefined || rssKiB === undefined || [user, sys, rssKiB].some(Number.isNaN)) {
    throw new Error(`cannot parse GNU time output "${last}" (${timeFile})`);
  }
  return { wallS, cpuS: user + sys, maxRssMiB: rssKiB / 1024, exitCode };
}
