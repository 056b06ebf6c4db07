// A TCP proxy on loopback in front of the shared lab, for the tests that need the S3 server to
// vanish (cut: listener closed and every connection reset, so clients get ECONNREFUSED/RESET
// just as with a stopped server) or to be slow (a shared upload rate limit, so a multipart
// upload lasts long enough to kill, signal or rotate credentials in the middle of it).
// Stopping the lab itself is not an option: it is shared, and its memstore would lose all data.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';

export interface TcpProxy {
  port: number;
  endpoint: string;
  /** bytes per second client → server, shared by all connections (undefined: unlimited) */
  rate: number | undefined;
  /** bytes forwarded client → server so far */
  bytesUp: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(t: TestContext, targetPort: number, rate?: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  // pacing: the time at which the shared link is free again
  let freeAt = 0;

  const pipeUp = (from: Socket, to: Socket) => {
    from.on('data', (chunk: Buffer) => {
      proxy.bytesUp += chunk.length;
      const ok = to.write(chunk);
      if (proxy.rate) {
        const now = Date.now();
        freeAt = Math.max(freeAt, now) + (chunk.length / proxy.rate) * 1000;
        const wait = freeAt - now;
        if (wait > 5) {
          from.pause();
          setTimeout(() => { if (ok || to.writableLength === 0) from.resume(); else to.once('drain', () => from.resume()); }, wait);
          return;
        }
      }
      if (!ok) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
  };

  const listen = async () => {
    server = createServer((client) => {
      const upstream = new (client.constructor as typeof Socket)();
      upstream.connect(targetPort, '127.0.0.1');
      sockets.add(client).add(upstream);
      const close = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
      pipeUp(client, upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', () => resolve()));
    port = (server.address() as AddressInfo).port;
  };

  const proxy: TcpProxy = {
    port: 0,
    endpoint: '',
    rate,
    bytesUp: 0,
    async cut() {
      const s = server;
      server = undefined;
      for (const sock of sockets) sock.destroy();
      sockets.clear();
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    async restore() {
      if (!server) await listen();
    },
    async close() {
      await proxy.cut();
    },
  };
  await listen();
  proxy.port = port;
  proxy.endpoint = `http://127.0.0.1:${port}`;
  t.after(() => proxy.close());
  return proxy;
}
