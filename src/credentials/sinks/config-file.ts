// The AWS config file: region, and `credential_process = cat <process file>` so SDKs that honour
// it re-run the command when the Expiration in the JSON comes near. Written once at start-up.
import { rewrite, type FileOptions } from './file-options.js';
import { sectionName, upsertSection } from './profile-ini.js';

export interface ConfigFileValues {
  region: string;
  processFile?: string | undefined;
}

export async function writeConfigFile(path: string, profile: string, v: ConfigFileValues, opts: FileOptions): Promise<void> {
  await rewrite(path, (old) => upsertSection(old, sectionName(profile, 'config'), {
    region: v.region,
    credential_process: v.processFile ? `cat ${shellWord(v.processFile)}` : undefined,
  }), opts);
}

/** SDKs split credential_process like a shell; quote paths that need it. */
export function shellWord(s: string): string {
  return /^[\w./@%+=:,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
