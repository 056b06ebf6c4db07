// Placeholder until the credentials mode lands.
import type { Config } from '../config.js';

export async function credentialsMode(_config: Config): Promise<number> {
  throw new Error('the credentials mode is not implemented yet');
}
