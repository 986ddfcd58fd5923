/**
 * The private transformer's part of bench/REPORT.md (workloads of group 'transformer', bench/workloads/transformer.ts):
 * measured runs, their extrapolation to the whole model, the network settings they did not run under, the RFA vs
 * softmax ratios, the analytic traffic against the meter, and the scaling tables.
 *
 * How a number is obtained, and marked in the tables:
 *   measured      the run itself (time: the slowest party's timed part);
 *   extrapolated  a run with fewer layers than the model: + (model layers − layers) × S0's time per layer
 *                 (metrics.layerMs) of the same run, and the meter's bytes and rounds per layer (exact: every
 *                 layer sends the same); a run at a smaller batch than the model's (params.modelBatch): time and
 *                 bytes times the ratio of the batches, but for the data owner's command, label and prompts, which do not
 *                 depend on it (bytes: exact, as the analytic count shows; time: compute grows with the tokens,
 *                 see the batch curve), rounds unchanged;
 *   estimated     a network setting the workload did not run under: the no-emulation time (compute, local
 *                 transport) + the link model's network time over S1's receive trace of that run (bench/netem.ts
 *                 walkTrace), with the last layer's stretch repeated for the layers not measured.
 */
import type { MeterSnapshot } from '../ts/net/index.js';
import { compareWithMeter, type GroupComparison, type LabelTraffic } from './analytic.js';
import type { RunRecord } from './harness/threads.js';
import { SETTING_NAMES, settingFor, walkTrace, type LatencyReading, type SettingName, type TraceEntry } from './netem.js';
import type { FigureWriter } from './report.js';
import { barChart } from './svg.js';

export type Column = 'none' | SettingName;
export const COLUMNS: readonly Column[] = ['none', ...SETTING_NAMES];
const SHORT: Record<Column, string> = { none: 'no emulation', lan: 'LAN', wan200: 'WAN-200', wan100: 'WAN-100' };

export interface Timed {
  ms: number;
  how: 'measured' | 'extrapolated' | 'estimated';
}

/** What the transformer section reads from one invocation's results. */
export interface TransformerInputs {
  runs: RunRecord[];
  plain: { workload: string; ms: number }[];
  analytic: { workload: string; labels: [string, LabelTraffic][] }[];
  reading: LatencyReading;
}

const LAYER = /^l(\d+)\./;
/** The attention's labels (ts/model/mpc.ts: l<i>.rfa.* or l<i>.attn.*). */
const ATTENTION = /^l\d+\.(rfa|attn)\./;
/** Labels whose traffic does not grow with the batch: the data owner's command, the forward's label, the prompts. */
const FIXED = new Set(['cmd', 'forward.label', 'prompt']);

function allBytes(snaps: Partial<Record<string, MeterSnapshot>>): number {
  return Object.values(snaps).reduce((s, x) => s + (x?.total.bytesSent ?? 0), 0);
}

/**
 * S1's receive trace with the last measured layer's stretch repeated up to `modelLayers` layers (the entries of
 * layer i are the contiguous ones labelled l<i>.*).
 */
export function extendTrace(trace: readonly TraceEntry[], layers: number, modelLayers: number): TraceEntry[] {
  const layerOf = (e: TraceEntry): number => Number(LAYER.exec(e[2] ?? '')?.[1] ?? -1);
  const first = trace.findIndex((e) => layerOf(e) >= 0);
  if (first < 0 || modelLayers <= layers) return [...trace];
  let end = trace.length;
  while (end > 0 && layerOf(trace[end - 1]!) < 0) end--;
  const last = trace.slice(first, end).filter((e) => layerOf(e) === layers - 1);
  return [...trace.slice(0, end), ...Array.from({ length: modelLayers - layers }, () => last).flat(), ...trace.slice(end)];
}

/** Compute + network estimate of a run without emulation under setting s (at its own size). */
export function estimatedMs(none: RunRecord, s: SettingName, reading: LatencyReading): number | undefined {
  if (none.trace === undefined) return undefined;
  return none.runMs + walkTrace(none.trace, settingFor(s, reading)).totalMs;
}

export interface Summary {
  id: string;
  title: string;
  params: Record<string, number | string>;
  series?: RunRecord['series'];
  layers: number;
  modelLayers: number;
  modelBatch: number;
  /** At the measured size. */
  bytes: number;
  rounds: number;
  time: Partial<Record<Column, Timed>>;
  /** At the measured batch; `attention*`: the attention alone (after the QKV product, before the output projection). */
  perLayer: { bytes: number; rounds: number; ms: number; attentionBytes: number; attentionMs: number };
  /**
   * Extrapolated to the model's layers and batch (the measured values when all were run); `estimated`: every
   * network setting estimated, also those that were measured.
   */
  full: { bytes: number; rounds: number; time: Partial<Record<Column, Timed>>; estimated: Partial<Record<SettingName, Timed>> };
  plainMs?: number;
  analytic?: GroupComparison[];
}

/** A transformer workload's runs (worker threads) summarised, or undefined when it has no run without emulation. */
export function summarize(inp: TransformerInputs, id: string): Summary | undefined {
  const runs = inp.runs.filter((r) => r.workload === id && r.transport === 'threads');
  const none = runs.find((r) => r.setting === 'none');
  const withOps = runs.find((r) => !r.opsOmitted);
  if (none === undefined || withOps === undefined) return undefined;
  const layers = Number(none.params.layers);
  const modelLayers = Number(none.params.modelLayers);
  const extra = modelLayers - layers;
  const k = Number(none.params.modelBatch ?? none.params.batch) / Number(none.params.batch);
  let layerBytes = 0;
  let layerRounds = 0;
  let attentionBytes = 0;
  let fixedBytes = 0;
  for (const [role, snap] of Object.entries(withOps.snapshots)) {
    for (const [label, o] of Object.entries(snap!.ops)) {
      if (FIXED.has(label)) fixedBytes += o.bytesSent;
      if (!LAYER.test(label)) continue;
      layerBytes += o.bytesSent;
      if (ATTENTION.test(label)) attentionBytes += o.bytesSent;
      if (role === 's0') layerRounds += o.rounds;
    }
  }
  const perLayer = {
    bytes: layerBytes / layers,
    rounds: layerRounds / layers,
    ms: none.metrics.layerMs!,
    attentionBytes: attentionBytes / layers,
    attentionMs: none.metrics.attentionMs!,
  };
  const time: Summary['time'] = {};
  const fullTime: Summary['time'] = {};
  const estimated: Summary['full']['estimated'] = {};
  const trace = none.trace && extendTrace(none.trace, layers, modelLayers).map(([from, b, op]): TraceEntry => [from, FIXED.has(op ?? '') ? b : b * k, op]);
  for (const s of COLUMNS) {
    if (s !== 'none' && trace !== undefined) {
      estimated[s] = { ms: (none.runMs + extra * perLayer.ms) * k + walkTrace(trace, settingFor(s, inp.reading)).totalMs, how: 'estimated' };
    }
    const r = runs.find((x) => x.setting === s);
    if (r !== undefined) {
      time[s] = { ms: r.runMs, how: 'measured' };
      fullTime[s] = { ms: (r.runMs + extra * r.metrics.layerMs!) * k, how: extra > 0 || k !== 1 ? 'extrapolated' : 'measured' };
    } else if (s !== 'none' && none.trace !== undefined) {
      time[s] = { ms: estimatedMs(none, s, inp.reading)!, how: 'estimated' };
      fullTime[s] = estimated[s];
    }
  }
  const bytes = allBytes(none.snapshots);
  const rounds = none.snapshots.s0?.total.rounds ?? 0;
  const a = inp.analytic.find((x) => x.workload === id);
  const plainMs = inp.plain.find((p) => p.workload === id)?.ms;
  return {
    id,
    title: none.title,
    params: none.params,
    ...(none.series ? { series: none.series } : {}),
    layers,
    modelLayers,
    bytes,
    rounds,
    time,
    perLayer,
    modelBatch: Number(none.params.modelBatch ?? none.params.batch),
    full: { bytes: fixedBytes + (bytes - fixedBytes + extra * perLayer.bytes) * k, rounds: rounds + extra * perLayer.rounds, time: fullTime, estimated },
    ...(plainMs !== undefined ? { plainMs } : {}),
    ...(a ? { analytic: compareWithMeter(a.labels, withOps.snapshots) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Formatting (the same conventions as report.ts).

function fmtMs(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  if (v >= 1000) return `${(v / 1000).toFixed(v >= 10_000 ? 0 : 1)} s`;
  return `${v.toFixed(0)} ms`;
}

function fmtBytes(b: number | undefined): string {
  if (b === undefined) return '–';
  if (b >= 1e9) return `${(b / 1e9).toFixed(2)} GB`;
  if (b >= 1e6) return `${(b / 1e6).toFixed(2)} MB`;
  return `${(b / 1e3).toFixed(1)} kB`;
}

function fmtRatio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !(b > 0)) return '–';
  return `${(a / b).toFixed(2)}×`;
}

function pct(a: number, b: number): string {
  if (!(b > 0)) return a === 0 ? '0%' : '–';
  const d = (a / b - 1) * 100;
  return `${d >= 0 ? '+' : ''}${d.toFixed(d !== 0 && Math.abs(d) < 0.01 ? 4 : 2)}%`;
}

const MARK: Record<Timed['how'], string> = { measured: '', extrapolated: ' ᵉˣ', estimated: ' ᵉˢᵗ' };

function fmtTimed(t: Timed | undefined): string {
  return t === undefined ? '–' : `${fmtMs(t.ms)}${MARK[t.how]}`;
}

function table(head: string[], rows: string[][]): string {
  const al = head.map((_, i) => (i === 0 ? ':---' : '---:'));
  return [`| ${head.join(' | ')} |`, `| ${al.join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** The op group of a label with the layer index dropped ('layer.gelu'), for breakdowns over all layers. */
export function anyLayer(group: string): string {
  return group.replace(/^l\d+\./, 'layer.');
}

// ---------------------------------------------------------------------------------------------------------

const LEGEND = 'ᵉˣ extrapolated per layer from the layers measured; ᵉˢᵗ estimated: compute without emulation + the link model\'s network time over the run\'s receive trace (see the text).';

const MODELS = ['bert-base', 'roberta-large'] as const;

/** The RFA and softmax runs closest to a whole model: all layers, else one layer at the model's batch, else the smaller batch. */
function headlinePair(sums: Map<string, Summary>, model: string): [Summary, Summary] | undefined {
  const pick = (a: string): Summary | undefined => ['.full', '.b32', ''].map((v) => sums.get(`${model}.forward.${a}${v}`)).find((x) => x !== undefined);
  const rfa = pick('rfa');
  const soft = pick('softmax');
  return rfa && soft ? [rfa, soft] : undefined;
}

function headline(sums: Map<string, Summary>, model: string, paper: string): string[] {
  const pair = headlinePair(sums, model);
  if (pair === undefined) return [];
  const [rfa, soft] = pair;
  const run = `${rfa.layers} layer(s) at batch ${rfa.params.batch} measured`;
  const out = [`#### ${model}: ${rfa.modelLayers} layers, batch ${rfa.modelBatch} × seq ${rfa.params.seq} (${rfa.params.prompt} prompt tokens); ${run}`, ''];
  const rows: string[][] = [
    ['bytes per forward, all parties', fmtBytes(rfa.full.bytes), fmtBytes(soft.full.bytes), fmtRatio(soft.full.bytes, rfa.full.bytes)],
    ['rounds (S0)', String(Math.round(rfa.full.rounds)), String(Math.round(soft.full.rounds)), fmtRatio(soft.full.rounds, rfa.full.rounds)],
    ...COLUMNS.flatMap((s) => {
      const row = (label: string, a: Timed | undefined, b: Timed | undefined) => [label, fmtTimed(a), fmtTimed(b), fmtRatio(b?.ms, a?.ms)];
      const rows = [row(`time, ${SHORT[s]}`, rfa.full.time[s], soft.full.time[s])];
      // A setting that was run under the link model: its estimate too (see the text on the link model at the LAN).
      if (s !== 'none' && rfa.full.time[s]?.how !== 'estimated') rows.push(row(`time, ${SHORT[s]}, estimated`, rfa.full.estimated[s], soft.full.estimated[s]));
      return rows;
    }),
    [`per layer at batch ${rfa.params.batch}: bytes`, fmtBytes(rfa.perLayer.bytes), fmtBytes(soft.perLayer.bytes), fmtRatio(soft.perLayer.bytes, rfa.perLayer.bytes)],
    [`per layer at batch ${rfa.params.batch}: time without emulation`, fmtMs(rfa.perLayer.ms), fmtMs(soft.perLayer.ms), fmtRatio(soft.perLayer.ms, rfa.perLayer.ms)],
    [`… of which the attention: bytes`, fmtBytes(rfa.perLayer.attentionBytes), fmtBytes(soft.perLayer.attentionBytes), fmtRatio(soft.perLayer.attentionBytes, rfa.perLayer.attentionBytes)],
    [`… of which the attention: time (S0)`, fmtMs(rfa.perLayer.attentionMs), fmtMs(soft.perLayer.attentionMs), fmtRatio(soft.perLayer.attentionMs, rfa.perLayer.attentionMs)],
  ];
  const common = rfa.perLayer.bytes - rfa.perLayer.attentionBytes;
  out.push(
    table(['', 'RFA', 'softmax', 'softmax ÷ RFA'], rows),
    '',
    `The paper reports ${paper}. Everything outside the attention (projections, LayerNorms, the FFN and its GELU) is `
      + `the same computation in both forwards: ${fmtBytes(common)} of RFA's ${fmtBytes(rfa.perLayer.bytes)} per layer `
      + `(${((100 * common) / rfa.perLayer.bytes).toFixed(0)}%). Were it free, softmax ÷ RFA would be the attention's own ratio, `
      + `${fmtRatio(soft.perLayer.attentionBytes, rfa.perLayer.attentionBytes)} bytes and ${fmtRatio(soft.perLayer.attentionMs, rfa.perLayer.attentionMs)} time: `
      + 'the ceiling of any forward at this shape with this softmax.',
    '',
  );
  return out;
}

function workloadsTable(list: Summary[]): string[] {
  // RFA and softmax of the same case next to each other.
  const key = (s: Summary) => s.id.replace(/\.(rfa|softmax)/, '');
  const order = [...new Set(list.map(key))];
  const rows = [...list].sort((a, b) => order.indexOf(key(a)) - order.indexOf(key(b))).map((s) => [
    s.title,
    `${s.layers} / ${s.modelLayers}`,
    String(s.rounds),
    fmtBytes(s.bytes),
    ...COLUMNS.map((c) => fmtTimed(s.time[c])),
    fmtMs(s.plainMs),
    fmtRatio(s.time.none?.ms, s.plainMs),
    fmtRatio(s.time.lan?.ms, s.plainMs),
  ]);
  return [
    table(['workload', 'layers run / model', 'rounds', 'bytes, all parties', ...COLUMNS.map((c) => SHORT[c]), 'plain', 'MPC/plain (none)', 'MPC/plain (LAN)'], rows),
    '',
  ];
}

function fullTable(list: Summary[]): string[] {
  const rows = list
    .filter((s) => s.layers < s.modelLayers || s.modelBatch !== Number(s.params.batch))
    .map((s) => [
      s.title,
      `${s.layers} / ${s.modelLayers}`,
      `${s.params.batch} / ${s.modelBatch}`,
      fmtMs(s.perLayer.ms),
      fmtBytes(s.perLayer.bytes),
      String(s.perLayer.rounds),
      fmtBytes(s.full.bytes),
      String(Math.round(s.full.rounds)),
      ...COLUMNS.map((c) => fmtTimed(s.full.time[c])),
    ]);
  if (rows.length === 0) return [];
  return [
    '### Whole models, extrapolated',
    '',
    'Workloads measured with fewer layers (or a smaller batch) than their model: per layer as measured (no',
    'emulation), and the whole model.',
    '',
    table(['workload', 'layers run / model', 'batch run / model', 'per layer: time', 'per layer: bytes', 'per layer: rounds', 'bytes ᵉˣ', 'rounds ᵉˣ', ...COLUMNS.map((c) => SHORT[c])], rows),
    '',
  ];
}

/** Compute + network estimate against the measured time, for every run under a setting (all groups). */
function estimateCheck(inp: TransformerInputs): string[] {
  const rows: string[][] = [];
  for (const r of inp.runs) {
    if (r.setting === 'none' || r.transport !== 'threads' || r.group === 'net') continue;
    const none = inp.runs.find((x) => x.workload === r.workload && x.setting === 'none' && x.transport === 'threads');
    const est = none ? estimatedMs(none, r.setting, inp.reading) : undefined;
    if (est === undefined) continue;
    rows.push([r.title, SHORT[r.setting], fmtMs(r.runMs), fmtMs(est), pct(est, r.runMs)]);
  }
  if (rows.length === 0) return [];
  return [
    '### The estimate against measured runs',
    '',
    'Where a workload did run under a setting (the micro-workloads under all of them, the BERT-base forward under',
    'the LAN), the estimate used for the settings it did not run under, next to the measurement. The estimate adds',
    'compute and network time; where the two overlap (the dealer sends while the servers compute) it is high, and',
    'machine load during either run moves it both ways (the times of one workload come from different runs).',
    '',
    '<details><summary>estimate vs measured, every run under a network setting</summary>',
    '',
    table(['workload', 'setting', 'measured', 'estimate', 'estimate vs measured'], rows),
    '',
    '</details>',
    '',
  ];
}

function analyticSection(list: Summary[]): string[] {
  const withA = list.filter((s) => s.analytic !== undefined);
  if (withA.length === 0) return [];
  const sum = (g: GroupComparison[], k: keyof Omit<GroupComparison, 'group'>) => g.reduce((a, x) => a + x[k], 0);
  const out = [
    '### Bytes and rounds: analytic count against the meter',
    '',
    'bench/analytic.ts replays each forward with every protocol of ts/mpc replaced by what it sends (the cost',
    'comments of ts/mpc/*.ts, docs/protocols.md), and predicts the payload bytes of every party and S0\'s rounds',
    'per meter label; here against the meters of every party over the timed part (the run without emulation).',
    'Acceptance: within 1% (test/bench-analytic.test.ts checks it on a tiny model).',
    '',
    table(
      ['workload', 'analytic bytes', 'metered bytes', 'difference', 'analytic rounds', 'metered rounds', 'difference', 'op groups that differ'],
      withA.map((s) => {
        const g = s.analytic!;
        const off = g.filter((x) => x.analyticBytes !== x.meterBytes || x.analyticRounds !== x.meterRounds).length;
        return [s.title, String(sum(g, 'analyticBytes')), String(sum(g, 'meterBytes')), pct(sum(g, 'analyticBytes'), sum(g, 'meterBytes')),
          String(sum(g, 'analyticRounds')), String(sum(g, 'meterRounds')), pct(sum(g, 'analyticRounds'), sum(g, 'meterRounds')), `${off} of ${g.length}`];
      }),
    ),
    '',
  ];
  for (const s of withA.filter((x) => x.params.model !== undefined && !String(x.id).startsWith('bert.'))) {
    const merged = new Map<string, GroupComparison>();
    for (const g of s.analytic!) {
      const k = anyLayer(g.group);
      const m = merged.get(k) ?? { group: k, analyticBytes: 0, meterBytes: 0, analyticRounds: 0, meterRounds: 0 };
      m.analyticBytes += g.analyticBytes;
      m.meterBytes += g.meterBytes;
      m.analyticRounds += g.analyticRounds;
      m.meterRounds += g.meterRounds;
      merged.set(k, m);
    }
    out.push(
      `<details><summary>per op group: ${s.title}</summary>`,
      '',
      table(['op group (all layers)', 'analytic bytes', 'metered bytes', 'difference', 'share of bytes', 'analytic rounds', 'metered rounds'],
        [...merged.values()].sort((a, b) => b.meterBytes - a.meterBytes).map((g) => [`\`${g.group}\``, String(g.analyticBytes), String(g.meterBytes),
          pct(g.analyticBytes, g.meterBytes), `${((100 * g.meterBytes) / s.bytes).toFixed(1)}%`, String(g.analyticRounds), String(g.meterRounds)])),
      '',
      '</details>',
      '',
    );
  }
  return out;
}

/** The first x from which softmax ÷ RFA stays above 1, or a note that it does not in the measured range. */
function crossover(points: { x: number; ratio: number }[]): string {
  for (let i = 0; i < points.length; i++) if (points.slice(i).every((p) => p.ratio > 1)) return `from ${points[i]!.x}`;
  return 'nowhere in this range';
}

function scalingSection(list: Summary[]): string[] {
  const families = new Map<string, Summary[]>();
  for (const s of list) if (s.series) families.set(s.series.name, [...(families.get(s.series.name) ?? []), s]);
  if (families.size === 0) return [];
  const out = [
    '### Scaling: where RFA\'s linear cost overtakes softmax\'s quadratic one',
    '',
    'One BERT-base layer (with the prompt input, the MLM head and the logits): against the sequence length at batch 1,',
    'and against the batch at sequence length 128. Times without emulation are measured; WAN-100 times are',
    'estimated (compute + network). Every column is softmax ÷ RFA where it says so.',
    '',
  ];
  for (const ss of families.values()) {
    const xOf = (s: Summary): number => s.series!.x;
    const xs = [...new Set(ss.map(xOf))].sort((a, b) => a - b);
    const at = (x: number, a: string) => ss.find((s) => xOf(s) === x && s.params.attention === a);
    const rows: string[][] = [];
    const ratios = { none: [] as { x: number; ratio: number }[], wan100: [] as { x: number; ratio: number }[], bytes: [] as { x: number; ratio: number }[] };
    for (const x of xs) {
      const r = at(x, 'rfa');
      const s = at(x, 'softmax');
      rows.push([String(x), fmtMs(r?.time.none?.ms), fmtMs(s?.time.none?.ms), fmtRatio(s?.time.none?.ms, r?.time.none?.ms),
        fmtTimed(r?.time.wan100), fmtTimed(s?.time.wan100), fmtRatio(s?.time.wan100?.ms, r?.time.wan100?.ms),
        fmtBytes(r?.bytes), fmtBytes(s?.bytes), fmtRatio(s?.bytes, r?.bytes), fmtRatio(s?.rounds, r?.rounds)]);
      if (r && s) {
        if (r.time.none && s.time.none) ratios.none.push({ x, ratio: s.time.none.ms / r.time.none.ms });
        if (r.time.wan100 && s.time.wan100) ratios.wan100.push({ x, ratio: s.time.wan100.ms / r.time.wan100.ms });
        ratios.bytes.push({ x, ratio: s.bytes / r.bytes });
      }
    }
    out.push(
      `#### against the ${ss[0]!.series!.xLabel}`,
      '',
      table([ss[0]!.series!.xLabel, 'RFA', 'softmax', 'time ratio', 'RFA WAN-100', 'softmax WAN-100', 'WAN-100 ratio', 'RFA bytes', 'softmax bytes', 'bytes ratio', 'rounds ratio'], rows),
      '',
      `Softmax costs more than RFA: in time without emulation ${crossover(ratios.none)}; at WAN-100 ${crossover(ratios.wan100)}; in bytes ${crossover(ratios.bytes)}.`,
      '',
    );
  }
  return out;
}

function headlineFigures(sums: Map<string, Summary>, write: FigureWriter): string[] {
  const pairs = MODELS.flatMap((m) => {
    const p = headlinePair(sums, m);
    return p ? [[m, p] as const] : [];
  });
  if (pairs.length === 0) return [];
  const series = pairs.flatMap(([m, [rfa, soft]]) => [
    { name: `${m} RFA`, s: rfa },
    { name: `${m} softmax`, s: soft },
  ]);
  return [
    write('transformer-time.svg', barChart({
      title: 'Whole-model forward: time per setting (measured, extrapolated or estimated)',
      yLabel: 'ms (log)',
      categories: COLUMNS.map((c) => SHORT[c]),
      series: series.map(({ name, s }) => ({ name, values: COLUMNS.map((c) => s.full.time[c]?.ms ?? null) })),
      log: true,
    }), 'whole-model time per setting'),
    '',
    write('transformer-bytes.svg', barChart({
      title: 'Whole-model forward: bytes, all parties',
      yLabel: 'bytes (log)',
      categories: pairs.map(([m]) => m),
      series: (['RFA', 'softmax'] as const).map((v, i) => ({ name: v, values: pairs.map(([, p]) => p[i]!.full.bytes) })),
      log: true,
    }), 'whole-model bytes'),
    '',
  ];
}

/** The section, given every transformer workload id that ran, in registry order. */
export function transformerSection(inp: TransformerInputs, ids: readonly string[], write: FigureWriter): string[] {
  const sums = new Map<string, Summary>();
  for (const id of ids) {
    const s = summarize(inp, id);
    if (s !== undefined) sums.set(id, s);
  }
  if (sums.size === 0) return [];
  const list = [...sums.values()];
  return [
    '## Private transformer',
    '',
    'The MPC forward of ts/model/mpc.ts on seeded random weights of real model shapes (bench/workloads/transformer.ts),',
    'every party a worker thread as above. The timed part is one forward as the data owner sees it: its command and',
    'prompts, every layer, the head, the logits back; the weights, the batch and its embedding are set up before.',
    '"bytes" are the payload bytes every party sent (S0, S1, the dealer, the data owner), "rounds" S0\'s. Full',
    'models are too slow for the default run on this machine: most workloads run one layer, and the whole model is',
    'extrapolated per layer (`npm run bench -- --full` runs the whole BERT-base and RoBERTa-large forwards). The',
    'settings a workload did not run under are estimated: its compute time without emulation plus the link model\'s',
    'network time over S1\'s receive trace of that run (every opening one-way + its bytes at the bandwidth, S1\'s',
    'waits for dealer material queued on the dealer\'s link); the check below compares the estimate with runs that',
    'were measured. "plain" is the same forward in plaintext (ts/model/plain.ts: float32 weights, float64',
    'activations, JavaScript on one thread), so MPC/plain compares a native-kernel MPC with an unoptimised baseline.',
    '',
    '**The link model and long computations.** The link model (ts/net/link.ts) stamps each message with its',
    'emulated delivery time when it is sent (the wire is serialised at the bandwidth, then the latency) and the',
    'receiver holds it until then. A sender busy computing (the dealer computes seconds of correlated randomness',
    'at a time) thus no longer delays its own messages: S1 waits for the later of the dealer\'s compute and the',
    'transfer, as on a real link.',
    '',
    LEGEND,
    '',
    '### RFA against softmax',
    '',
    ...headline(sums, 'bert-base', '3.2× time and 3.6× communication (softmax ÷ RFA) for RoBERTa-large on the LAN'),
    ...headline(sums, 'roberta-large', '3.2× time and 3.6× communication (softmax ÷ RFA) on the LAN'),
    ...headlineFigures(sums, write),
    '### Workloads as run',
    '',
    ...workloadsTable(list),
    ...fullTable(list),
    ...estimateCheck(inp),
    ...analyticSection(list),
    ...scalingSection(list),
  ];
}
