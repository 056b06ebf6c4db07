// Over plain HTTP the SDK signs every request body with SHA-256 (x-amz-content-sha256), on top
// of the CRC32 checksum it already sends: two hashes of every byte (docs/upload.md, "Why the code is as it is").
// When a body carries a CRC32 checksum we send it as UNSIGNED-PAYLOAD
// instead, so each byte is hashed once. AWS S3 and MinIO verify the CRC32; Ceph RGW 16 does
// not (it still checks the length), which is why --sign-payload brings the SHA-256 back.
import type { S3Client } from '@aws-sdk/client-s3';
import type { FinalizeHandler, FinalizeHandlerArguments, MetadataBearer } from '@smithy/types';

export function sendBodiesUnsigned(client: S3Client): void {
  client.middlewareStack.addRelativeTo(
    <O extends MetadataBearer>(next: FinalizeHandler<object, O>) => async (args: FinalizeHandlerArguments<object>) => {
      const headers = (args.request as { headers?: Record<string, string> }).headers;
      if (headers?.['x-amz-checksum-crc32']) headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { relation: 'before', toMiddleware: 'httpSigningMiddleware', name: 'sidecarUnsignedPayload' },
  );
}
