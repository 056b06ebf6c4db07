// `host:port` for the sidecar's listeners, and the rule that keeps them inside the pod:
// every container of a pod shares its network namespace, so loopback reaches the main container
// and nothing else. Any other address needs the operator's explicit --endpoint-allow-remote.
import { isIP } from 'node:net';
import { ConfigError } from './define.js';

export interface ListenAddress {
  host: string;
  port: number;
  loopback: boolean;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return /^::ffff:127\./.test(h);
}

/**
 * Parse `127.0.0.1:9912`, `[::1]:9912`, `localhost:9912`, or a bare `9912` / `:9912` (loopback).
 * A host name other than localhost counts as remote: what it resolves to is not ours to know.
 */
export function parseListenAddress(raw: string, name: string): ListenAddress {
  const text = raw.trim();
  // [v6]:port | host:port | :port | port
  const m = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):)?(\d+)$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port > 65535) {
    throw new ConfigError(name, `must be host:port such as 127.0.0.1:9912 (got "${raw}")`);
  }
  const host = m[1] ?? (m[2] || '127.0.0.1');
  if (m[1] !== undefined && isIP(host) !== 6) throw new ConfigError(name, `"${host}" is not an IPv6 address`);
  return { host, port, loopback: isLoopbackHost(host) };
}

/** Throws unless the address is loopback or the operator allowed remote binding. */
export function assertExposureAllowed(addr: ListenAddress, allowRemote: boolean, name: string): void {
  if (!addr.loopback && !allowRemote) {
    throw new ConfigError(name, `${formatAddress(addr)} is reachable from outside the pod; bind 127.0.0.1, or set --endpoint-allow-remote / SIDECAR_ENDPOINT_ALLOW_REMOTE if that is intended`);
  }
}

export function formatAddress(addr: { host: string; port: number }): string {
  return isIP(addr.host) === 6 ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}
