// HTTP/1.1 message syntax (RFC 9112), strictly: what a request may carry, what an answer's head
// may hold, how its body is framed. Anything outside the grammar is refused rather than guessed
// at, because a lenient parser is how a response is split or smuggled.
import { HttpProtocolError, RequestHeaderError } from './errors.js';
import type { Http1Head, Http1Request } from './types.js';

/** The status line and headers of one answer (RFC 9112 leaves the limit to the recipient). */
export const MAX_HEAD_BYTES = 64 * 1024;
/** A chunk-size line, extensions included. */
export const MAX_CHUNK_LINE_BYTES = 4096;
/** All trailer lines of a chunked body together. */
export const MAX_TRAILER_BYTES = 16 * 1024;
/** Hex digits of a chunk size: 13 keep it below 2^52, a safe integer. */
const MAX_CHUNK_SIZE_DIGITS = 13;

/** token (RFC 9110 §5.6.2) */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** field-value: visible ASCII, SP, HTAB, obs-text; no CR, LF, NUL or other controls */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** request-target: visible ASCII only (no SP, no controls) */
const TARGET = /^[\x21-\x7e]+$/;

/**
 * The request's head, ready to send. The one place requests are serialised, so the one place a
 * CR, LF or NUL from a key, a listing or a token is stopped before it could split the request.
 */
export function serialiseRequest(req: Pick<Http1Request, 'method' | 'path' | 'headers'>): string {
  if (!TOKEN.test(req.method)) throw new RequestHeaderError(`refused to send a request with method ${JSON.stringify(req.method)}`);
  if (!TARGET.test(req.path)) throw new RequestHeaderError(`refused to send a request for ${JSON.stringify(req.path.slice(0, 200))}: not a valid request target`);
  let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(req.headers)) {
    if (!TOKEN.test(name)) throw new RequestHeaderError(`refused to send header name ${JSON.stringify(name.slice(0, 100))}: not a token`);
    if (!FIELD_VALUE.test(value)) throw new RequestHeaderError(`refused to send header ${name}: its value holds CR, LF, NUL or another control character`);
    head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}

export interface ParsedHead extends Http1Head {
  /** HTTP/1.0: the connection ends after the answer unless it says keep-alive */
  http10: boolean;
}

/** The status line and header lines (latin1 text up to and including the blank line). */
export function parseHead(text: string): ParsedHead {
  const lines = text.split('\r\n');
  // the text ends with CRLF CRLF: two empty strings after the split
  if (lines.length < 3 || lines.pop() !== '' || lines.pop() !== '') throw new HttpProtocolError('the answer\'s head does not end with a blank line');
  const m = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [\t\x20-\x7e\x80-\xff]*)?$/.exec(lines[0]!);
  if (!m) throw new HttpProtocolError(`not an HTTP/1.1 answer: ${JSON.stringify(lines[0]!.slice(0, 40))}`);
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    const colon = l.indexOf(':');
    const name = colon > 0 ? l.slice(0, colon) : '';
    // no whitespace before the colon, no obsolete line folding, no bare CR or LF, no NUL
    if (!TOKEN.test(name) || !FIELD_VALUE.test(l)) throw new HttpProtocolError(`malformed header line ${JSON.stringify(l.slice(0, 40))}`);
    const key = name.toLowerCase();
    const value = l.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (key === 'content-length') {
      if (headers[key] !== undefined) throw new HttpProtocolError('more than one Content-Length');
      if (!/^\d{1,15}$/.test(value)) throw new HttpProtocolError(`bad Content-Length ${JSON.stringify(value.slice(0, 20))}`);
    }
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  }
  const http10 = m[1] === '0';
  if (http10 && !headers.connection?.toLowerCase().includes('keep-alive')) headers.connection ??= 'close';
  return { status: Number(m[2]), headers, http10 };
}

export type BodyMode = 'length' | 'chunked' | 'until-close' | 'none';

/** How the body of an answer to `method` is framed (RFC 9112 §6.3); `close` when the connection must end with it. */
export function bodyFraming(method: string, head: ParsedHead): { mode: BodyMode; length: number; close: boolean } {
  const h = head.headers;
  const close = head.http10 || /(^|[\s,])close($|[\s,])/i.test(h.connection ?? '');
  if (method === 'HEAD' || head.status === 204 || head.status === 304) return { mode: 'none', length: 0, close };
  const te = h['transfer-encoding'];
  if (te !== undefined) {
    if (head.http10) throw new HttpProtocolError('Transfer-Encoding in an HTTP/1.0 answer');
    // no content codings are asked for, so chunked is the only coding an answer may have
    if (te.trim().toLowerCase() !== 'chunked') throw new HttpProtocolError(`unsupported Transfer-Encoding ${JSON.stringify(te.slice(0, 40))}`);
    // with a Content-Length too: chunked wins, and the connection is not trusted again (smuggling)
    return { mode: 'chunked', length: 0, close: close || h['content-length'] !== undefined };
  }
  if (h['content-length'] !== undefined) return { mode: 'length', length: Number(h['content-length']), close };
  return { mode: 'until-close', length: 0, close: true };
}

/** chunk-size [ chunk-ext ] (RFC 9112 §7.1): hex digits only, extensions (ignored) in their grammar. */
export function parseChunkSize(line: string): number {
  const m = /^([0-9A-Fa-f]+)((?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*=[ \t]*(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"))?)*)$/.exec(line);
  if (!m) throw new HttpProtocolError(`malformed chunk size ${JSON.stringify(line.slice(0, 20))}`);
  if (m[1]!.length > MAX_CHUNK_SIZE_DIGITS) throw new HttpProtocolError(`chunk size ${m[1]!.slice(0, 20)} is too large`);
  return parseInt(m[1]!, 16);
}

/** A trailer field line: the same grammar as a header line; its content is not used. */
export function checkTrailerLine(line: string): void {
  const colon = line.indexOf(':');
  if (colon <= 0 || !TOKEN.test(line.slice(0, colon)) || !FIELD_VALUE.test(line)) throw new HttpProtocolError(`malformed trailer line ${JSON.stringify(line.slice(0, 40))}`);
}
