// Turn samples into the tables of docs/benchmarks.md: per tool the median wall time (all runs
// listed), MB/s from it, median client CPU seconds per GiB, the median CPU seconds of the server
// and of the whole machine (client + server + proxy, see system-cpu.ts) per run, the largest
// peak RSS of any run, and how many times faster s3-sidecar was; then each target of the case,
// met or missed; and, when s3-sidecar's variants ran (--variants), what each costs against it.
import { GiB, MiB } from './data.js';
import type { Target, TransferCase } from './cases.js';
import type { Sample } from './measure.js';
import { isSidecar, TOOL_LABEL, type ToolId } from './tools.js';

export interface ToolRuns {
  tool: ToolId;
  samples: Sample[];
  /** why a run does not count (non-zero exit, wrong result); any failure disqualifies the tool */
  failures: string[];
}

export interface CaseResult {
  tc: TransferCase;
  /** "600 × 4 MiB" */
  shape: string;
  files: number;
  bytes: number;
  load: string;
  runs: ToolRuns[];
}

interface Summary {
  tool: ToolId;
  ok: boolean;
  wallS: number;
  walls: number[];
  mibPerS: number;
  cpuPerGiB: number;
  serverCpuS: number;
  machineCpuS: number;
  rssMiB: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function summarize(r: ToolRuns, bytes: number): Summary {
  const walls = r.samples.map((s) => s.wallS);
  const wallS = walls.length ? median(walls) : NaN;
  return {
    tool: r.tool,
    ok: r.failures.length === 0 && r.samples.length > 0,
    wallS,
    walls,
    mibPerS: bytes / MiB / wallS,
    cpuPerGiB: median(r.samples.map((s) => s.cpuS)) / (bytes / GiB),
    serverCpuS: median(r.samples.map((s) => s.serverCpuS ?? NaN)),
    machineCpuS: median(r.samples.map((s) => s.cpuS + (s.serverCpuS ?? NaN) + (s.proxyCpuS ?? 0))),
    rssMiB: Math.max(...r.samples.map((s) => s.maxRssMiB)),
  };
}

const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '–');

function judge(t: Target, me: Summary | undefined, all: Summary[]): string {
  const peers = all.filter((s) => !isSidecar(s.tool) && s.ok);
  if (!me?.ok) return `✗ ${describe(t)}: s3-sidecar did not complete`;
  if (t.kind === 'rss-below') {
    return `${me.rssMiB < t.mib ? '✓' : '✗'} peak RSS < ${t.mib} MiB: ${f1(me.rssMiB)} MiB`;
  }
  const peer = t.peer === 'fastest-peer'
    ? peers.reduce<Summary | undefined>((best, s) => (!best || s.wallS < best.wallS ? s : best), undefined)
    : peers.find((s) => s.tool === t.peer);
  if (!peer) return `? ${describe(t)}: no successful peer run to compare with`;
  if (t.kind === 'cpu-below') {
    const ok = me.cpuPerGiB < peer.cpuPerGiB;
    return `${ok ? '✓' : '✗'} fewer CPU s/GiB than ${TOOL_LABEL[peer.tool]}: ${f2(me.cpuPerGiB)} vs ${f2(peer.cpuPerGiB)}`;
  }
  const speedup = peer.wallS / me.wallS;
  return `${speedup >= t.min ? '✓' : '✗'} ≥ ${t.min}× ${t.peer === 'fastest-peer' ? `the fastest peer (${TOOL_LABEL[peer.tool]})` : TOOL_LABEL[peer.tool]}: ${f2(speedup)}×`;
}

function describe(t: Target): string {
  if (t.kind === 'rss-below') return `peak RSS < ${t.mib} MiB`;
  if (t.kind === 'cpu-below') return `fewer CPU s/GiB than ${TOOL_LABEL[t.peer]}`;
  return `≥ ${t.min}× ${t.peer}`;
}

/** What s3-sidecar (hand-written client, SIMD MD5) saves against one of its variants, in client CPU per GiB. */
function compareVariant(me: Summary, v: Summary): string {
  if (!me.ok || !v.ok) return `${TOOL_LABEL[v.tool]}: ? (a run failed)`;
  const saving = (v.cpuPerGiB - me.cpuPerGiB) / v.cpuPerGiB;
  const keep = saving >= 0.1;
  return `${TOOL_LABEL[v.tool]}: ${f2(v.cpuPerGiB)} client CPU s/GiB against s3-sidecar's ${f2(me.cpuPerGiB)}: s3-sidecar saves ${(saving * 100).toFixed(1)} % ` +
    `(${keep ? 'keep s3-sidecar\'s' : 'the variant is within 10 %'}); wall ${f2(v.wallS)} vs ${f2(me.wallS)} s, RSS ${f1(v.rssMiB)} vs ${f1(me.rssMiB)} MiB`;
}

/** The baseline build against this one: the same measures, as changes. */
function compareBaseline(before: Summary, after: Summary): string {
  if (!before.ok || !after.ok) return '? (a run failed)';
  const pct = (a: number, b: number) => `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)} %`;
  return `wall ${f2(before.wallS)} → ${f2(after.wallS)} s (${pct(before.wallS, after.wallS)}), ` +
    `client CPU ${f2(before.cpuPerGiB)} → ${f2(after.cpuPerGiB)} s/GiB (${pct(before.cpuPerGiB, after.cpuPerGiB)}), ` +
    `peak RSS ${f1(before.rssMiB)} → ${f1(after.rssMiB)} MiB`;
}

export function caseTable(r: CaseResult): string {
  const rows = r.runs.map((x) => summarize(x, r.bytes));
  const me = rows.find((s) => s.tool === 'sidecar');
  const lines = [
    `### ${r.tc.title}, ${r.shape}`,
    '',
    `${r.files} files, ${f1(r.bytes / MiB)} MiB; load average before the case: ${r.load}`,
    '',
    '| tool | wall s (median) | runs | MiB/s | client CPU s/GiB | server CPU s | all CPU s | peak RSS MiB | s3-sidecar is faster by |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of rows) {
    const speed = me?.ok && s.tool !== 'sidecar' && s.ok ? `${f2(s.wallS / me.wallS)}×` : '';
    const failed = r.runs.find((x) => x.tool === s.tool)!.failures;
    const note = failed.length ? ` **FAILED: ${failed[0]}**` : '';
    lines.push(`| ${TOOL_LABEL[s.tool]}${note} | ${f2(s.wallS)} | ${s.walls.map(f2).join(', ')} | ${f1(s.mibPerS)} | ${f2(s.cpuPerGiB)} | ${f2(s.serverCpuS)} | ${f2(s.machineCpuS)} | ${f1(s.rssMiB)} | ${speed} |`);
  }
  if (me) {
    lines.push('', '(server CPU: the lab\'s Ceph daemons during the run; all CPU: client + server + latency proxy per run, median.)');
    lines.push('', 'Targets:', ...r.tc.targets.map((t) => `- ${judge(t, me, rows)}`));
    const baseline = rows.find((s) => s.tool === 'sidecar-baseline');
    if (baseline) lines.push('', `Before and after: ${compareBaseline(baseline, me)}`);
    const variants = rows.filter((s) => s.tool !== 'sidecar' && s.tool !== 'sidecar-baseline' && isSidecar(s.tool));
    if (variants.length) lines.push('', 'Variants (client CPU s/GiB against s3-sidecar\'s; a hand-written part stays only if it saves ≥ 10 % against its maintained alternative):', ...variants.map((v) => `- ${compareVariant(me, v)}`));
  }
  return lines.join('\n');
}
