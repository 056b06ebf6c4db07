// Stores that reject the SDK's checksum headers (docs/stores.md) get none.
import type { S3Client } from '@aws-sdk/client-s3';
import type { FinalizeHandler, FinalizeHandlerArguments, MetadataBearer } from '@smithy/types';

/** Checksum headers some stores reject (B2 answers 400 "Unsupported header" to each of them). */
const CHECKSUM_HEADER = /^x-amz-(checksum-|sdk-checksum-algorithm$|trailer$)/i;

/**
 * For a when_required store: no request leaves with a checksum header, even where the code asks
 * for one (the manifest's CRC32, HeadObject's checksum mode). Removed before signing, so the
 * signature covers what is sent; the CRC32 is still computed locally for the journal and manifest.
 */
export function stripChecksumHeaders(client: S3Client): void {
  client.middlewareStack.addRelativeTo(
    <O extends MetadataBearer>(next: FinalizeHandler<object, O>) => async (args: FinalizeHandlerArguments<object>) => {
      const headers = (args.request as { headers?: Record<string, string> }).headers;
      for (const name of Object.keys(headers ?? {})) if (CHECKSUM_HEADER.test(name)) delete headers![name];
      return next(args);
    },
    { relation: 'before', toMiddleware: 'httpSigningMiddleware', name: 'sidecarNoChecksumHeaders' },
  );
}
