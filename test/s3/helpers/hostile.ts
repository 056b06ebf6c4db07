// A small hostile HTTP server: a net.createServer on 127.0.0.1 that answers each request with
// whatever bytes a test crafts. This is the one place a fake server is right: Ceph RGW (the real
// server every other S3 test uses) cannot be made to break HTTP framing, trickle bytes, repeat a
// continuation token or send a body longer than it announced.
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

export type Answer = (socket: Socket, request: string, n: number) => void | Promise<void>;

export interface Hostile {
  port: number;
  /** connections accepted so far */
  connections(): number;
  /** every request head received, in order */
  requests: string[];
}

export async function hostile(t: TestContext, answer: Answer, host = '127.0.0.1'): Promise<Hostile> {
  let connections = 0;
  const requests: string[] = [];
  const server = createServer((socket) => {
    connections++;
    let buffered = '';
    socket.on('data', (d) => {
      buffered += d.toString('latin1');
      let end;
      while ((end = buffered.indexOf('\r\n\r\n')) >= 0) {
        const request = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        requests.push(request);
        void answer(socket, request, requests.length - 1);
      }
    });
    socket.on('error', () => {});
  });
  server.listen(0, host);
  await once(server, 'listening');
  t.after(() => {
    server.close();
    // a trickling answer may still hold a connection open
    server.unref();
  });
  return { port: (server.address() as { port: number }).port, connections: () => connections, requests };
}

/** Write `bytes` `step` at a time, `delayMs` apart, until done or the socket is gone. */
export async function trickle(socket: Socket, bytes: string, step = 1, delayMs = 20): Promise<void> {
  for (let i = 0; i < bytes.length && !socket.destroyed; i += step) {
    socket.write(bytes.slice(i, i + step), 'latin1');
    await sleep(delayMs);
  }
}
