/**
 * Writes bench/REPORT.md and its SVG figures from the results of ONE bench invocation (bench/run-all.ts):
 * every ratio in the report is between runs of that invocation, on the machine it names.
 *
 *   node dist/bench/report.js bench/results/<file>.json     re-renders the report from a saved result
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MeterSnapshot } from '../ts/net/index.js';
import { opGroup, type LabelTraffic } from './analytic.js';
import type { RunRecord } from './harness/threads.js';
import { SETTING_NAMES, settingFor, transferMs, type NetworkSetting, type SettingName } from './netem.js';
import type { NetnsProbe } from './netns/run.js';
import { anyLayer, estimatedMs, transformerSection } from './report-transformer.js';
import { barChart, lineChart, stackedBarChart, type LineSeries } from './svg.js';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memGiB: number;
  kernel: string;
  node: string;
  backend: string;
}

export interface BenchMeta {
  date: string;
  commit: string;
  dirty: boolean;
  machine: MachineInfo;
  command: string;
  full: boolean;
  reading: 'rtt' | 'one-way';
  fracBits: number;
  durationS: number;
  /** 1-minute load average at the start and the end (other processes share the machine). */
  loadavg: [number, number];
  /** Repetitions per (workload, setting); the fastest is reported. */
  reps: number;
}

export interface PlainRecord {
  workload: string;
  /** Best of `reps`, ms. */
  ms: number;
  reps: number;
}

/** A workload's analytic traffic of its timed part (bench/analytic.ts), per meter label. */
export interface AnalyticRecord {
  workload: string;
  labels: [string, LabelTraffic][];
}

export interface FailureRecord {
  workload: string;
  setting: string;
  transport: string;
  error: string;
}

export interface BenchResults {
  meta: BenchMeta;
  settings: NetworkSetting[];
  netns: NetnsProbe;
  runs: RunRecord[];
  plain: PlainRecord[];
  failures: FailureRecord[];
  /** Absent in results written before the analytic model existed. */
  analytic?: AnalyticRecord[];
}

/** Steady-state rounds of a network pattern may differ from the link model by at most this much (WAN settings). */
export const CHECK_TOLERANCE = 0.1;

const SETTING_COLUMNS: (SettingName | 'none')[] = ['none', ...SETTING_NAMES];
const SHORT: Record<string, string> = { none: 'no emulation', lan: 'LAN', wan200: 'WAN-200', wan100: 'WAN-100' };

function ms(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  if (v >= 10_000) return `${(v / 1000).toFixed(1)} s`;
  if (v >= 100) return `${v.toFixed(0)}`;
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function mb(bytes: number | undefined): string {
  if (bytes === undefined) return '–';
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(2)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} B`;
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !(b > 0)) return '–';
  const r = a / b;
  return r >= 100 ? `${r.toFixed(0)}×` : `${r.toFixed(r >= 10 ? 1 : 2)}×`;
}

function table(head: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const al = head.map((_, i) => ((align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'l' ? ':---' : '---:'));
  return [`| ${head.join(' | ')} |`, `| ${al.join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function bytesBetween(snap: MeterSnapshot | undefined, to: string): number {
  return (snap?.peers as Record<string, { bytesSent: number }> | undefined)?.[to]?.bytesSent ?? 0;
}

/**
 * Op labels grouped: a transformer forward's by layer component over all layers (analytic.ts opGroup, 'layer.gelu'),
 * others to the shallowest depth (1..3 dot-separated components) that still leaves at least three groups, so a
 * workload whose labels all start with 'attn.' is broken down by 'attn.x'.
 */
export function groupOps(snap: MeterSnapshot, group: string): Map<string, { rounds: number; bytesSent: number }> {
  let keyOf = (l: string): string => anyLayer(opGroup(l));
  if (group !== 'transformer') {
    const labels = Object.keys(snap.ops);
    let depth = 1;
    while (depth < 3 && new Set(labels.map((l) => l.split('.').slice(0, depth).join('.'))).size < 3) depth++;
    keyOf = (l) => l.split('.').slice(0, depth).join('.');
  }
  const out = new Map<string, { rounds: number; bytesSent: number }>();
  for (const [label, o] of Object.entries(snap.ops)) {
    const key = keyOf(label);
    const g = out.get(key) ?? { rounds: 0, bytesSent: 0 };
    g.rounds += o.rounds;
    g.bytesSent += o.bytesSent;
    out.set(key, g);
  }
  return out;
}

function find(runs: RunRecord[], workload: string, setting: string, transport: 'threads' | 'netns'): RunRecord | undefined {
  return runs.find((r) => r.workload === workload && r.setting === setting && r.transport === transport);
}

function orderedWorkloads(runs: RunRecord[], filter: (r: RunRecord) => boolean): RunRecord[] {
  const seen = new Map<string, RunRecord>();
  for (const r of runs) if (filter(r) && !seen.has(r.workload)) seen.set(r.workload, r);
  return [...seen.values()];
}

/** Workloads worth a per-op breakdown: those that are no point of a scaling curve, and each curve's largest point. */
function breakdownWorkloads(ws: RunRecord[]): RunRecord[] {
  const top = new Map<string, number>();
  for (const w of ws) if (w.series) top.set(`${w.series.name}/${w.series.variant}`, Math.max(top.get(`${w.series.name}/${w.series.variant}`) ?? -Infinity, w.series.x));
  return ws.filter((w) => w.series === undefined || w.series.x === top.get(`${w.series.name}/${w.series.variant}`));
}

// ---------------------------------------------------------------------------------------------------------

function checkSection(res: BenchResults): string[] {
  const out: string[] = ['## Link model (a) against real links (b)', ''];
  out.push(
    'The same network patterns run twice per setting: (a) every party a worker thread, messages delayed by the',
    'deterministic link model of ts/net (`LinkOptions.linkModel`, presets in bench/netem.ts); (b) every party a',
    'process in its own network namespace, talking TCP (connectTcp) over a tun device whose egress HTB shapes each',
    'directed pair to the bandwidth, with the one-way latency added by bench/netns/delayline.c (this kernel has no',
    '`sch_netem`). "model" is the formula the link model implements: exchange rounds · (one-way + 8·bytes/bw), ping-pong',
    'rounds · 2 · (one-way + 8·bytes/bw). TCP pays slow start on the first round of a fresh connection, which the',
    'model leaves out, so the rounds after the first ("steady") are compared separately.',
    `Agreement criterion: on the WAN settings the steady rounds of (b) are within ±${CHECK_TOLERANCE * 100}% of (a).`,
    '',
  );
  if (!res.netns.available) {
    out.push(`**(b) did not run here**: ${res.netns.detail.replace(/\n/g, ' ')}`, '');
  }
  const pats = orderedWorkloads(res.runs, (r) => r.group === 'net');
  const dev = (x: number | undefined, ref: number | undefined): string => {
    if (x === undefined || ref === undefined || !(ref > 0)) return '';
    const d = x / ref - 1;
    return ` (${d >= 0 ? '+' : ''}${(d * 100).toFixed(0)}%)`;
  };
  const rows: string[][] = [];
  for (const w of pats) {
    for (const s of SETTING_COLUMNS) {
      const a = find(res.runs, w.workload, s, 'threads');
      const b = find(res.runs, w.workload, s, 'netns');
      if (a === undefined && b === undefined) continue;
      const rounds = Number(w.params.rounds);
      const model = s === 'none' ? undefined : a?.predictedMs ?? b?.predictedMs;
      const perRound = model !== undefined ? model / rounds : undefined;
      const aSteady = a?.metrics.meanRestRoundMs;
      const bSteady = b?.metrics.meanRestRoundMs;
      let verdict = '–';
      if (s !== 'none' && aSteady !== undefined && bSteady !== undefined) {
        const d = bSteady / aSteady - 1;
        const pct = `${d >= 0 ? '+' : ''}${(d * 100).toFixed(1)}%`;
        verdict = s === 'lan' ? `${pct} (below the floors, see text)` : `${pct} ${Math.abs(d) <= CHECK_TOLERANCE ? '✓' : '✗'}`;
      }
      rows.push([
        w.title,
        SHORT[s]!,
        ms(model),
        `${ms(a?.runMs)}${dev(a?.runMs, model)}`,
        `${ms(b?.runMs)}${dev(b?.runMs, model)}`,
        ms(perRound),
        `${ms(aSteady)}${dev(aSteady, perRound)}`,
        `${ms(bSteady)}${dev(bSteady, perRound)}`,
        ms(b?.metrics.firstRoundMs),
        verdict,
      ]);
    }
  }
  out.push(table(['pattern', 'setting', 'model total', '(a) total', '(b) total', 'model / round', '(a) steady / round', '(b) steady / round', '(b) first round', 'steady (b) vs (a)'], rows));
  out.push(
    '',
    'All times in ms; percentages are against the model. "no emulation" rows are the floors: the same transports',
    'with no link model and no shaping or delay, i.e. what a round costs in this thread/process layout before any',
    'network is added. On the LAN the emulated latency (0.4 ms one way) is of the order of these floors, and the',
    'link model cannot delay by less than about 1 ms (Node timers), so LAN rows measure the transports more than',
    'the network: they are reported, not held to the tolerance.',
    '',
  );
  return out;
}

function workloadTables(res: BenchResults): string[] {
  const out: string[] = ['## Workloads', ''];
  out.push(
    'Each run: every party in its own worker thread on this machine, the link model of the setting between every',
    'pair (s0, s1, dealer, data owner, model owner all on separate emulated links); time = the slowest party\'s',
    'timed part (inputs and weights are shared, and fixed weights opened, in an untimed set-up; results are revealed',
    'to the data owner after the timer stops and checked against a float64 reference: "check"). "rounds" and bytes',
    'are per server (S0 → S1) and dealer → S1 over the timed part; "net est." is bench/netem.ts `estimateTime` over',
    'S1\'s receive trace: each opening costs one-way + its bytes / bandwidth, plus any stall waiting for dealer material',
    'queued on the dealer\'s link (the dealer is online here; compute left out). "plain" is the same computation in',
    'float32 as plain JavaScript loops on one thread (no BLAS, no SIMD), while the MPC kernels are native Rust on all',
    'cores: for matmul-bound work the MPC/plain ratio understates the MPC overhead against an optimised plaintext.',
    'All parties share this machine\'s cores, so compute is not parallel as it would be on separate hosts.',
    '',
  );
  const plain = new Map(res.plain.map((p) => [p.workload, p]));
  const groups = [...new Set(res.runs.filter((r) => r.group !== 'net' && r.group !== 'transformer').map((r) => r.group))];
  for (const g of groups) {
    out.push(`### ${g}`, '');
    const ws = orderedWorkloads(res.runs, (r) => r.group === g && r.transport === 'threads');
    const rows: string[][] = [];
    for (const w of ws) {
      const base = find(res.runs, w.workload, 'none', 'threads') ?? w;
      const s0 = base.snapshots.s0;
      const times = SETTING_COLUMNS.map((s) => find(res.runs, w.workload, s, 'threads')?.runMs);
      const est = find(res.runs, w.workload, 'wan100', 'threads')?.estimate?.totalMs;
      const p = plain.get(w.workload)?.ms;
      const check = Object.entries(base.metrics).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toExponential(1)}`).join(', ');
      rows.push([
        w.title,
        String(s0?.total.rounds ?? '–'),
        mb(s0?.total.bytesSent),
        mb(bytesBetween(base.snapshots.dealer, 's1')),
        ...times.map(ms),
        ms(est),
        ms(p),
        ratio(times[0], p),
        ratio(times[1], p),
        check || '–',
      ]);
    }
    out.push(table(['workload', 'rounds', 'S0→S1', 'dealer→S1', ...SETTING_COLUMNS.map((s) => `${SHORT[s]} ms`), 'net est. WAN-100', 'plain f32 ms', 'MPC/plain (none)', 'MPC/plain (LAN)', 'check'], rows));
    out.push('');
    const real = ws.map((w) => SETTING_NAMES.map((s) => find(res.runs, w.workload, s, 'netns'))).filter((xs) => xs.some((x) => x !== undefined));
    if (real.length > 0) {
      out.push(`Real links (b) for the same workloads, ms (ratio to the link model (a) in brackets):`, '');
      const rr = ws.filter((w) => SETTING_NAMES.some((s) => find(res.runs, w.workload, s, 'netns'))).map((w) => [
        w.title,
        ...SETTING_NAMES.map((s) => {
          const b = find(res.runs, w.workload, s, 'netns');
          const a = find(res.runs, w.workload, s, 'threads');
          return b === undefined ? '–' : `${ms(b.runMs)} (${ratio(b.runMs, a?.runMs)})`;
        }),
      ]);
      out.push(table(['workload', ...SETTING_NAMES.map((s) => SHORT[s]!)], rr), '');
    }
  }
  return out;
}

function perOpSection(res: BenchResults): string[] {
  const out: string[] = ['## Per-op breakdown', ''];
  out.push(
    'From S0\'s meter of the no-emulation run: rounds and bytes S0 sent per op group, and the network time they cost',
    'on each setting (rounds · one-way + bytes / bandwidth). Dealer traffic is not in these rows.',
    '',
  );
  const ws = breakdownWorkloads(orderedWorkloads(res.runs, (r) => r.group !== 'net' && r.setting === 'none' && r.transport === 'threads'));
  for (const w of ws) {
    const s0 = w.snapshots.s0;
    if (s0 === undefined) continue;
    const groups = [...groupOps(s0, w.group).entries()].sort((a, b) => b[1].bytesSent - a[1].bytesSent);
    out.push(`<details><summary>${w.title}</summary>`, '');
    out.push(
      table(
        ['op group', 'rounds', 'bytes', ...SETTING_NAMES.map((s) => `${SHORT[s]} ms`)],
        groups.map(([k, g]) => [
          `\`${k}\``,
          String(g.rounds),
          mb(g.bytesSent),
          ...SETTING_NAMES.map((s) => {
            const st = settingFor(s, res.meta.reading);
            return ms(g.rounds * st.oneWayMs + transferMs(g.bytesSent, st));
          }),
        ]),
      ),
      '',
      '</details>',
      '',
    );
  }
  return out;
}

/** Writes a figure into `dir` and returns its markdown line (`rel`: the folder as the report links it). */
export type FigureWriter = (name: string, svg: string, caption: string) => string;

function figureWriter(dir: string, rel: string): FigureWriter {
  mkdirSync(dir, { recursive: true });
  return (name, svg, caption) => {
    writeFileSync(join(dir, name), svg);
    return `![${caption}](${rel}/${name})`;
  };
}

function figures(res: BenchResults, write: FigureWriter): string[] {
  const out: string[] = ['## Figures', ''];
  const put = (name: string, svg: string, caption: string): void => void out.push(write(name, svg, caption), '');
  const ws = breakdownWorkloads(orderedWorkloads(res.runs, (r) => r.group !== 'net' && r.transport === 'threads'));
  if (ws.length > 0) {
    put(
      'time-per-setting.svg',
      barChart({
        title: 'Time per network setting (link model, worker threads)',
        yLabel: 'ms (log)',
        categories: ws.map((w) => w.workload.replace(/^micro\./, '')),
        series: SETTING_COLUMNS.map((s) => ({ name: SHORT[s]!, values: ws.map((w) => find(res.runs, w.workload, s, 'threads')?.runMs ?? null) })),
        log: true,
      }),
      'time per setting',
    );
    put(
      'bytes.svg',
      barChart({
        title: 'Bytes per run (timed part)',
        yLabel: 'bytes (log)',
        categories: ws.map((w) => w.workload.replace(/^micro\./, '')),
        series: [
          { name: 'S0 → S1', values: ws.map((w) => (find(res.runs, w.workload, 'none', 'threads') ?? w).snapshots.s0?.total.bytesSent ?? null) },
          { name: 'dealer → S1', values: ws.map((w) => bytesBetween((find(res.runs, w.workload, 'none', 'threads') ?? w).snapshots.dealer, 's1') || null) },
        ],
        log: true,
      }),
      'bytes',
    );
    put(
      'measured-vs-estimate.svg',
      barChart({
        title: 'WAN-100: measured vs analytic network estimate',
        yLabel: 'ms (log)',
        categories: ws.map((w) => w.workload.replace(/^micro\./, '')),
        series: [
          { name: 'measured (link model)', values: ws.map((w) => find(res.runs, w.workload, 'wan100', 'threads')?.runMs ?? null) },
          { name: 'estimate (netem.ts)', values: ws.map((w) => find(res.runs, w.workload, 'wan100', 'threads')?.estimate?.totalMs ?? null) },
          { name: 'compute only (no emulation)', values: ws.map((w) => find(res.runs, w.workload, 'none', 'threads')?.runMs ?? null) },
        ],
        log: true,
      }),
      'measured vs estimate',
    );
    // Per-op: one stacked bar per workload of each group, WAN-100 network time by op group.
    const wan = settingFor('wan100', res.meta.reading);
    for (const g of [...new Set(ws.map((w) => w.group))]) {
      const bars = ws
        .filter((w) => w.group === g)
        .map((w) => {
          const base = find(res.runs, w.workload, 'none', 'threads') ?? w;
          const parts = [...groupOps(base.snapshots.s0!, g).entries()].map(([name, o]) => ({ name, value: o.rounds * wan.oneWayMs + transferMs(o.bytesSent, wan) }));
          const waitMs = find(res.runs, w.workload, 'wan100', 'threads')?.estimate?.waitMs;
          if (waitMs !== undefined && waitMs > 0) parts.push({ name: 'S1 waiting for dealer', value: waitMs });
          return { label: w.workload.replace(/^micro\./, ''), parts };
        });
      if (bars.length === 0) continue;
      put(`per-op-${g}.svg`, stackedBarChart({ title: `Per-op network time at WAN-100 (${g})`, yLabel: 'ms (estimate)', bars }), `per-op ${g}`);
    }
  }
  // Scaling curves: one chart of time and one of bytes per series family.
  const families = [...new Set(res.runs.filter((r) => r.series).map((r) => r.series!.name))];
  for (const fam of families) {
    const pts = res.runs.filter((r) => r.series?.name === fam && r.transport === 'threads');
    const variants = [...new Set(pts.map((r) => r.series!.variant))];
    const xLabel = pts[0]!.series!.xLabel;
    // A setting no point ran under is drawn from the estimates (compute + network over the trace), marked so.
    const series: LineSeries[] = [];
    SETTING_COLUMNS.forEach((s, si) => {
      variants.forEach((v, vi) => {
        const mine = pts.filter((r) => r.series!.variant === v);
        let p = mine.filter((r) => r.setting === s).map((r) => [r.series!.x, r.runMs] as [number, number]);
        let name = `${v} · ${SHORT[s]}`;
        if (p.length === 0 && s !== 'none') {
          p = mine.filter((r) => r.setting === 'none').flatMap((r) => {
            const e = estimatedMs(r, s, res.meta.reading);
            return e === undefined ? [] : [[r.series!.x, e] as [number, number]];
          });
          name += ' (est.)';
        }
        if (p.length > 0) series.push({ name, points: p.sort((a, b) => a[0] - b[0]), dashed: vi > 0, colorIndex: si });
      });
    });
    put(`scaling-${fam}-time.svg`, lineChart({ title: `${fam}: time vs ${xLabel}`, xLabel, yLabel: 'ms (log)', series, logX: true, logY: true }), `${fam} time`);
    // Bytes do not depend on the setting: take each point from whichever setting ran it first.
    const bytes: LineSeries[] = variants.map((v, vi) => {
      const byX = new Map<number, number>();
      for (const r of pts) if (r.series!.variant === v && !byX.has(r.series!.x)) byX.set(r.series!.x, r.snapshots.s0?.total.bytesSent ?? 0);
      return { name: `${v}: S0 → S1`, points: [...byX.entries()].sort((a, b) => a[0] - b[0]), colorIndex: vi };
    });
    put(`scaling-${fam}-bytes.svg`, lineChart({ title: `${fam}: bytes vs ${xLabel}`, xLabel, yLabel: 'bytes (log)', series: bytes, logX: true, logY: true }), `${fam} bytes`);
  }
  return out;
}

/** Renders REPORT.md (and the figures next to it, under `figuresDir`) from one invocation's results. */
export function writeReport(res: BenchResults, reportPath: string, figuresDir: string): void {
  const m = res.meta;
  const lines: string[] = [
    '# Benchmark report',
    '',
    `Generated by \`${m.command}\` (bench/run-all.ts); do not edit by hand. Every number and ratio below comes from this one`,
    'invocation on this one machine.',
    '',
    table(['', ''], [
      ['date', m.date],
      ['commit', `\`${m.commit}\`${m.dirty ? ' (working tree had uncommitted changes)' : ''}`],
      ['machine', `${m.machine.cpu}, ${m.machine.cores} logical cores, ${m.machine.memGiB.toFixed(0)} GiB RAM, Linux ${m.machine.kernel}`],
      ['runtime', `Node ${m.machine.node}, kernel backend \`${m.machine.backend}\`, ring Z_2^64 with f = ${m.fracBits}`],
      ['variant', m.full ? '`--full` (heavy workloads and real-link runs of the MPC workloads included)' : 'default (heavy workloads skipped; run with `--full` for them)'],
      ['latency reading', m.reading === 'rtt' ? 'the paper\'s figures are round-trip times; one-way = half' : 'the paper\'s figures are one-way latencies'],
      ['real links (netns)', res.netns.available ? 'available' : `not available: ${res.netns.detail.replace(/\n/g, ' ')}`],
      ['wall time', `${m.durationS.toFixed(0)} s; ${m.reps ?? 1} repetition(s) per run, fastest kept`],
      ['load average', m.loadavg ? `${m.loadavg[0].toFixed(1)} at the start, ${m.loadavg[1].toFixed(1)} at the end (1 min; ${m.machine.cores} cores; other processes on the machine add noise)` : 'not recorded'],
    ], ['l', 'l']),
    '',
    '## Network settings',
    '',
    table(
      ['setting', 'bandwidth', 'paper\'s latency', 'one-way (used)', 'RTT', 'MTU of the real link'],
      res.settings.map((s) => [s.label, `${s.bandwidthBitsPerSec / 1e6} Mbit/s`, `${s.statedMs} ms`, `${s.oneWayMs} ms`, `${s.rttMs} ms`, String(s.mtu)]),
    ),
    '',
  ];
  lines.push(...checkSection(res));
  lines.push(...workloadTables(res));
  const write = figureWriter(figuresDir, relative(dirname(reportPath), figuresDir).split('\\').join('/'));
  const transformerIds = orderedWorkloads(res.runs, (r) => r.group === 'transformer' && r.transport === 'threads').map((r) => r.workload);
  lines.push(...transformerSection({ runs: res.runs, plain: res.plain, analytic: res.analytic ?? [], reading: res.meta.reading }, transformerIds, write));
  lines.push(...figures(res, write));
  lines.push(...perOpSection(res));
  if (res.failures.length > 0) {
    lines.push('## Failures', '', table(['workload', 'setting', 'transport', 'error'], res.failures.map((f) => [f.workload, f.setting, f.transport, f.error.replace(/\|/g, '\\|').replace(/\n/g, ' ')])), '');
  }
  mkdirSync(dirname(reportPath), { recursive: true });
  writeFileSync(reportPath, `${lines.join('\n')}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (file === undefined) {
    console.error('usage: node dist/bench/report.js bench/results/<file>.json [REPORT.md]');
    process.exit(2);
  }
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const res = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
  const out = process.argv[3] ?? join(root, 'bench', 'REPORT.md');
  writeReport(res, out, join(dirname(out), 'results', 'figures'));
  console.log(`wrote ${out}`);
}
