// Placeholder until the upload mode lands.
import type { Config } from '../config.js';

export async function uploadMode(_config: Config): Promise<number> {
  throw new Error('the upload mode is not implemented yet');
}
