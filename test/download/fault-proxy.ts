// An HTTP proxy in front of the real lab server that damages chosen responses: a flipped byte, a
// body cut short, a 503, or no answer at all (a stall: the request hangs until the proxy closes,
// which holds a run deterministically "half way"). This is the one mocked part of the download tests: a real server does
// not corrupt data on demand. Requests pass through unchanged (same Host header), so SigV4
// signatures stay valid.
import { request, createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultKind = 'corrupt' | 'truncate' | 'slowdown' | 'stall';

export interface Fault {
  kind: FaultKind;
  /** which requests, e.g. GET of a key: (req) => req.method === 'GET' && req.url.includes('/c.bin') */
  match: (req: IncomingMessage) => boolean;
  /** how many matching responses to damage (Infinity: all) */
  times: number;
}

export interface FaultProxy {
  url: string;
  /** damaged responses so far, by kind */
  hits: Record<FaultKind, number>;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string, faults: Fault[]): Promise<FaultProxy> {
  const upstream = new URL(target);
  const hits: Record<FaultKind, number> = { corrupt: 0, truncate: 0, slowdown: 0, stall: 0 };
  const server: Server = createServer((req, res) => {
    const fault = faults.find((f) => f.times > 0 && f.match(req));
    if (fault) fault.times--;
    if (fault?.kind === 'stall') {
      hits.stall++;
      req.resume();
      return;
    }
    if (fault?.kind === 'slowdown') {
      hits.slowdown++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      return;
    }
    const up = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      if (!fault || (ur.statusCode ?? 500) >= 300) {
        ur.pipe(res);
        return;
      }
      const length = Number(ur.headers['content-length'] ?? 0);
      let sent = 0;
      let damaged = false;
      ur.on('data', (chunk: Buffer) => {
        if (fault.kind === 'corrupt' && !damaged && chunk.length > 0) {
          damaged = true;
          hits.corrupt++;
          chunk = Buffer.from(chunk);
          chunk[chunk.length - 1]! ^= 0xff;
        }
        if (fault.kind === 'truncate' && sent + chunk.length >= length / 2) {
          if (!damaged) {
            damaged = true;
            hits.truncate++;
            res.write(chunk.subarray(0, Math.max(0, Math.floor(length / 2) - sent)));
            // the client was promised `length` bytes: cutting the connection leaves it short
            res.socket?.destroy();
            ur.destroy();
          }
          return;
        }
        sent += chunk.length;
        res.write(chunk);
      });
      ur.on('end', () => res.end());
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
