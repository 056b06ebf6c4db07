// Placeholder until the run mode lands.
import type { Config } from '../config.js';

export async function runMode(_config: Config): Promise<number> {
  throw new Error('the run mode is not implemented yet');
}
