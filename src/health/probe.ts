// Kubernetes exec probe for a loopback-only health listener. The kubelet's httpGet probes come
// from the node, not from inside the pod, so they cannot reach 127.0.0.1; an exec probe runs in
// the container and can. It reads the same SIDECAR_HTTP_ADDR as the sidecar:
//   node /app/dist/health/probe.js /readyz        exit 0 on 2xx, 1 otherwise (body on stdout)
//   node /app/dist/health/probe.js /healthz 127.0.0.1:9912
// Deliberately tiny (no config table, no logger): it runs every few seconds.
import { pathToFileURL } from 'node:url';
import { parseListenAddress } from '../config/listen-address.js';

const TIMEOUT_MS = 3000;

export async function probe(path: string, rawAddr: string | undefined): Promise<{ ok: boolean; text: string }> {
  if (!rawAddr) return { ok: false, text: 'probe: SIDECAR_HTTP_ADDR is not set and no address was given' };
  const addr = parseListenAddress(rawAddr, 'SIDECAR_HTTP_ADDR');
  // a wildcard bind is reached through loopback from inside the pod
  const host = addr.host === '0.0.0.0' ? '127.0.0.1' : addr.host === '::' ? '::1' : addr.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}${path}`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    const body = (await res.text()).slice(0, 1024);
    return { ok: res.ok, text: `${res.status} ${body.trim()}` };
  } catch (err) {
    return { ok: false, text: `probe: ${url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}` };
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const [path = '/readyz', addr = process.env.SIDECAR_HTTP_ADDR] = process.argv.slice(2);
  probe(path.startsWith('/') ? path : `/${path}`, addr).then(
    ({ ok, text }) => {
      process.stdout.write(`${text}\n`);
      process.exitCode = ok ? 0 : 1;
    },
    (err: unknown) => {
      process.stdout.write(`probe: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
