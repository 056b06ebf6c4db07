// pino JSON logs on stdout. Two guards keep secrets out of them:
// 1. `redact` paths for every field name a credential travels under;
// 2. a scrubber on the output stream that replaces any registered secret value wherever it
//    appears (an error message, a URL, a nested object nobody thought of).
import pino from 'pino';

const secrets = new Set<string>();

/** Register a value that must never appear in a log line (secret key, session token, bearer token). */
export function registerSecret(value: string | undefined): void {
  // Very short values would scrub innocent text; real secrets are long.
  if (value && value.length >= 8) secrets.add(value);
}

export function forgetSecret(value: string | undefined): void {
  if (value) secrets.delete(value);
}

export function scrub(line: string): string {
  for (const s of secrets) if (line.includes(s)) line = line.split(s).join('[REDACTED]');
  return line;
}

const REDACT = [
  'secretAccessKey', 'sessionToken', 'SecretAccessKey', 'SessionToken', 'Token', 'token',
  'authorization', 'Authorization', 'password',
  '*.secretAccessKey', '*.sessionToken', '*.SecretAccessKey', '*.SessionToken', '*.Token', '*.token',
  '*.authorization', '*.Authorization', '*.password',
  'credentials.*', '*.credentials.*', 'Credentials.*', '*.Credentials.*',
  'headers.authorization', '*.headers.authorization', 'headers["x-amz-security-token"]', '*.headers["x-amz-security-token"]',
];

export const log = pino(
  {
    level: process.env.SIDECAR_LOG_LEVEL ?? 'info',
    base: { name: 's3-sidecar' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT, censor: '[REDACTED]' },
    formatters: { level: (label) => ({ level: label }) },
    hooks: { streamWrite: scrub },
    serializers: { err: pino.stdSerializers.err },
  },
  // Synchronous: a process.exit() right after a fatal line must not lose it.
  pino.destination({ dest: process.env.SIDECAR_LOG_FD ? Number(process.env.SIDECAR_LOG_FD) : 1, sync: true }),
);

export type Logger = pino.Logger;

/** A line for a person on stderr, scrubbed like the log: error messages quote what servers said. */
export function printError(line: string): void {
  process.stderr.write(scrub(`${line}\n`));
}

/** Last 4 characters of an access key id: enough to match CloudTrail, useless to an attacker. */
export function keyHint(accessKeyId: string | undefined): string {
  return accessKeyId ? `…${accessKeyId.slice(-4)}` : 'none';
}
