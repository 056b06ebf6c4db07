// Start bench/latency-proxy.mjs (a TCP proxy adding a fixed RTT) as its own process, so its
// forwarding never competes with the harness's event loop, and stop it again.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PROXY = fileURLToPath(new URL('./latency-proxy.mjs', import.meta.url));

export interface LatencyProxy {
  url: string;
  pid: number;
  stop(): void;
}

export async function startLatencyProxy(listenPort: number, targetPort: number, rttMs: number): Promise<LatencyProxy> {
  const child: ChildProcess = spawn(process.execPath, [PROXY, String(listenPort), String(targetPort), String(rttMs)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('latency-proxy:')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`latency proxy exited with ${code}: ${err.trim()}`)));
  });
  return { url: `http://127.0.0.1:${listenPort}`, pid: child.pid!, stop: () => child.kill() };
}
