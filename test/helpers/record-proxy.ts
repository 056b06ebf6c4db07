// A pass-through HTTP proxy in front of the real lab server that records every request's method,
// path and headers: how the tests see what goes on the wire (checksum headers, addressing).
// Requests are forwarded unchanged (same Host header), so SigV4 signatures stay valid.
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  /** path and query, as sent */
  url: string;
  headers: IncomingHttpHeaders;
}

export interface RecordProxy {
  url: string;
  requests: Recorded[];
  close(): Promise<void>;
}

export async function startRecordProxy(target: string): Promise<RecordProxy> {
  const upstream = new URL(target);
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers } });
    const up = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
