// How S3 errors are read, for the SDK's errors and the lean requests' (transport.ts) alike. Kept
// apart from sdk-client.ts so that the lean paths do not load the SDK just to read an error.

export function errorCode(err: unknown): string {
  const e = err as { name?: string; Code?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  return e?.Code ?? e?.name ?? e?.code ?? 'Unknown';
}

export function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/**
 * What arrived or landed is not what the server promised or what was sent (length, MD5, CRC32,
 * part count): the transfer is done again (classify.ts).
 */
export class VerifyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VerifyError';
  }
}

/** An ETag from a listing that cannot be sent back in If-Match. The listing is at fault: not retried. */
export class InvalidEtagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidEtagError';
  }
}

/** The listing broke S3's ordering or paging: retrying the page cannot help. */
export class ListingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListingError';
  }
}
