// The two clients uploadFile() takes, against the lab with its static keys, closed after the test.
import type { TestContext } from 'node:test';
import { loadConfig } from '../../../src/config.js';
import { ObjectPutter } from '../../../src/s3/object-put.js';
import { createS3Client } from '../../../src/s3/sdk-client.js';
import type { UploadClients } from '../../../src/upload/file-upload.js';
import { staticHolder } from '../../helpers/holders.js';
import type { Lab } from '../../helpers/lab.js';

export function uploadClients(t: TestContext, lab: Lab): UploadClients {
  const config = loadConfig('upload', ['--endpoint-url', lab.endpoint, '--region', lab.region], {});
  const client = createS3Client(config, staticHolder(lab), { maxSockets: 8 });
  const putter = new ObjectPutter(config, staticHolder(lab), { maxSockets: 8, socketTimeoutMs: 30_000, signPayload: true });
  t.after(() => { client.destroy(); putter.destroy(); });
  return { client, putter };
}
