// Placeholder until the run mode lands (see bench/run.ts).
import type { BenchLab } from './lab.js';

export interface OdmLatencyOptions { work: string; home: string; runs: number; quick: boolean; bucket: string }

export async function runOdmLatency(_lab: BenchLab, _o: OdmLatencyOptions): Promise<string> {
  return '### Upload latency (run --preset odm)\n\nnot measured yet: the run mode is not implemented';
}
