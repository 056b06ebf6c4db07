// Hand-off 3: a shell file of exports for scripts (`. /shared/aws/env`). Environment variables
// are read once per process, so this suits short scripts only.
import { atomicWrite } from '../../util/atomic-write.js';
import type { Credentials } from '../types.js';
import { shellWord } from './config-file.js';
import type { FileOptions } from './file-options.js';

export function envFileText(c: Credentials): string {
  const vars: [string, string | undefined][] = [
    ['AWS_ACCESS_KEY_ID', c.accessKeyId],
    ['AWS_SECRET_ACCESS_KEY', c.secretAccessKey],
    ['AWS_SESSION_TOKEN', c.sessionToken],
    ['AWS_CREDENTIAL_EXPIRATION', c.expiration?.toISOString()],
  ];
  const lines = vars.map(([k, v]) => (v === undefined ? `unset ${k}` : `export ${k}=${shellWord(v)}`));
  return `# written by s3-sidecar; rewritten on every refresh\n${lines.join('\n')}\n`;
}

export function envFileSink(path: string, opts: FileOptions) {
  return (c: Credentials) => atomicWrite(path, envFileText(c), opts);
}
