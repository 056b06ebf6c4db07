// Placeholder until the download mode lands.
import type { Config } from '../config.js';

export async function downloadMode(_config: Config): Promise<number> {
  throw new Error('the download mode is not implemented yet');
}
