// What the lean HTTP/1.1 client refuses, as classes the retry policy can tell apart.

/**
 * The answer broke HTTP/1.1 framing (RFC 9112) or a limit: the connection is dropped and never
 * reused. The server (or something on the path) misbehaved for this request: retried, within the
 * object's budget.
 */
export class HttpProtocolError extends Error {
  readonly code = 'EPROTO';
  constructor(message: string) {
    super(message);
    this.name = 'HttpProtocolError';
  }
}

/** A collected body (an error, a listing page) grew past its cap. */
export class BodyTooLargeError extends HttpProtocolError {
  constructor(message: string) {
    super(message);
    this.name = 'BodyTooLargeError';
  }
}

/**
 * A request would have carried CR, LF, NUL or another character HTTP forbids in its line or a
 * header: never sent. Its input (a key, an ETag from a listing) is at fault, so retrying cannot help.
 */
export class RequestHeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RequestHeaderError';
  }
}

/**
 * The whole exchange outlived its deadline although bytes kept coming (a trickling server).
 * Shaped like the idle timeout (name TimeoutError, code ETIMEDOUT): a network-level failure.
 */
export class DeadlineError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}
