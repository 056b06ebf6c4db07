// ODM broadcasts its progress as UDP datagrams "PGUP/<pid>/<project>/<percent>" to
// 127.0.0.1:6367 (opendm/progress.py). Containers of one pod share the network namespace, so the
// sidecar can listen and put the job's progress into its own logs (which ScaleODM shows users).
// Anything on the pod's loopback can send there: packets are bounded (size, project name,
// 0..100 %), and both bad packets and progress lines are logged at a bounded rate.
import { createSocket, type Socket } from 'node:dgram';
import { ConfigError } from '../config/define.js';
import { log } from '../log.js';
import { RateLimitedLog } from '../util/rate-limited-log.js';

export interface Progress {
  pid: number;
  project: string;
  percent: number;
}

/** ODM's packets are a few dozen bytes; a longer one is not ODM's. */
export const MAX_PACKET_BYTES = 512;

export function parsePgup(msg: string): Progress | undefined {
  if (msg.length > MAX_PACKET_BYTES) return undefined;
  const m = /^PGUP\/(\d{1,10})\/([^\n]{0,256})\/([0-9.]{1,32})$/.exec(msg.trim());
  if (!m) return undefined;
  const percent = Number(m[3]);
  return Number.isFinite(percent) && percent <= 100 ? { pid: Number(m[1]), project: m[2]!, percent } : undefined;
}

export function parseUdpAddr(raw: string, name: string): { host: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(raw.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new ConfigError(name, `must be host:port such as 127.0.0.1:6367, or off (got "${raw}")`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

/** Listen and log each new whole percent at info. A busy port is a warning, not a failure. */
export async function listenProgress(addr: { host: string; port: number }, onProgress?: (p: Progress) => void): Promise<{ close(): void }> {
  const sock: Socket = createSocket(addr.host.includes(':') ? 'udp6' : 'udp4');
  let last = -1;
  const bad = new RateLimitedLog({ burst: 3, perMinute: 2 });
  // ODM moves through 100 percents in minutes at the fastest; more than this is someone else
  const lines = new RateLimitedLog({ burst: 20, perMinute: 60 });
  sock.on('message', (buf, from) => {
    const p = buf.length <= MAX_PACKET_BYTES ? parsePgup(buf.toString('utf8')) : undefined;
    if (!p) {
      bad.warn({ bytes: buf.length, from: `${from.address}:${from.port}` }, 'ignoring a UDP packet on the ODM progress port that is not an ODM progress message');
      return;
    }
    onProgress?.(p);
    const whole = Math.floor(p.percent);
    if (whole === last) return;
    last = whole;
    lines.info({ progress: whole, project: p.project }, `ODM progress ${whole}%`);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(addr.port, addr.host, () => {
        sock.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    log.warn({ addr: `${addr.host}:${addr.port}`, err: (err as Error).message }, 'cannot listen for ODM progress messages; continuing without them');
    sock.close();
    return { close: () => {} };
  }
  sock.on('error', (err) => log.warn({ err: err.message }, 'ODM progress listener error'));
  log.debug({ addr: `${addr.host}:${addr.port}` }, 'listening for ODM progress messages');
  return { close: () => sock.close() };
}
