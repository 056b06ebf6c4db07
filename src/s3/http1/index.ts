// The lean HTTP/1.1 client: a self-contained module (imports nothing outside this folder but Node).
export { Http1Pool } from './pool.js';
export { BodyTooLargeError, DeadlineError, HttpProtocolError, RequestHeaderError } from './errors.js';
export { DEFAULT_COLLECT_LIMIT, DEFAULT_DEADLINE_MS } from './types.js';
export type { BodyHandler, Http1Head, Http1PoolOptions, Http1Request, Http1Response, ReadBufferSource } from './types.js';
