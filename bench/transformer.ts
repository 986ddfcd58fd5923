/**
 * The private transformer in one process: one MPC forward with RFA attention and one with softmax attention (the
 * baseline) on the same seeded model and the same batch as the bench's transformer workloads
 * (bench/workloads/transformer.ts: benchModel, benchBatch, benchPrompts), all five roles in this process over the
 * in-process network. Prints time, bytes and rounds per layer and in total, and the softmax/RFA ratios (the paper
 * reports 3.2× time and 3.6× communication for RoBERTa-large). The once-per-session embedding step (one-hot product
 * and embedding LayerNorm) is measured apart and excluded from the per-forward numbers. `npm run bench` measures
 * the same forwards under the network settings and writes them into bench/REPORT.md; this is the quick look.
 *
 *   npm run bench:transformer -- [--model bert-base|roberta-large|minilm] [--layers N] [--seq N] [--batch N]
 *                                [--prompt N] [--candidates N] [--features N] [--attention rfa|softmax|both]
 *                                [--protocols v2|v1|both] [--full]
 *
 * Default: BERT-base shape, seq 128 with 8 prompt tokens, batch 8, 2 layers; the whole model's totals are
 * extrapolated from the measured per-layer mean and labelled so. --full runs all of the model's layers.
 * Bytes are payload bytes sent by all parties together (S0, S1, the dealer, and the data owner's inputs and
 * outputs), also split into online (S0 + S1, with the owners' inputs and outputs) and dealer bytes; rounds are
 * S0's (both servers count the same). --protocols both (default) runs every attention with the current protocols
 * (v2) and with those of commit bc2c1c5 (v1, ts/mpc/party.ts ProtocolVersion) in this one invocation, and prints
 * the v1/v2 ratios.
 * Time is wall-clock with all parties sharing this machine's cores, so it is the sum of their compute; 'cpu s' is
 * this process's CPU time over the same step (all threads), which other load on the machine does not inflate.
 * The dealer runs up to one layer ahead of the servers (MpcEncoder paces it), so some of its work lands in the
 * previous layer's time: 'mean per layer' (the total divided by the layers) is the number to compare.
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { loadBackend } from '../bindings/index.js';
import { createLocalSession } from '../ts/model/mpc.js';
import type { ProtocolVersion } from '../ts/mpc/party.js';
import { Ring } from '../ts/ring/tensor.js';
import { MODEL_SHAPES, benchBatch, benchModel, benchPrompts, specOf, type ShapeName } from './workloads/transformer.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'bert-base' },
    layers: { type: 'string' },
    seq: { type: 'string', default: '128' },
    batch: { type: 'string', default: '8' },
    prompt: { type: 'string', default: '8' },
    candidates: { type: 'string', default: '1' },
    features: { type: 'string', default: '64' },
    attention: { type: 'string', default: 'both' },
    protocols: { type: 'string', default: 'both' },
    full: { type: 'boolean', default: false },
  },
});
const int = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
  return n;
};
if (!(args.model! in MODEL_SHAPES)) throw new Error(`--model must be one of ${Object.keys(MODEL_SHAPES).join(', ')}`);
const shape = args.model as ShapeName;
/** Layers of the model the per-layer numbers are extrapolated to. */
const FULL_LAYERS = MODEL_SHAPES[shape].layers;
const layers = args.layers !== undefined ? int('layers', args.layers) : args.full ? FULL_LAYERS : 2;
const seq = int('seq', args.seq);
const B = int('batch', args.batch);
const P = int('prompt', args.prompt);
const C = int('candidates', args.candidates);
const features = int('features', args.features);
const attentions = args.attention === 'both' ? (['rfa', 'softmax'] as const) : [args.attention as 'rfa' | 'softmax'];
if (!attentions.every((a) => a === 'rfa' || a === 'softmax')) throw new Error('--attention must be rfa, softmax or both');
const versions = args.protocols === 'both' ? (['v2', 'v1'] as const) : [args.protocols as ProtocolVersion];
if (!versions.every((v) => v === 'v1' || v === 'v2')) throw new Error('--protocols must be v2, v1 or both');

const t = performance.now();
const model = benchModel(shape, layers);
const modelSeconds = (performance.now() - t) / 1000;
const { config } = model;
const examples = benchBatch(model, B, seq);
const prompts = benchPrompts(C, P, config.hidden);

interface Stats {
  seconds: number;
  /** CPU seconds of this process (user + system, all threads): robust to other load on the machine. */
  cpu: number;
  bytes: number;
  /** Of which the dealer sent. */
  dealer: number;
  rounds: number;
}

interface Result {
  embed: Stats;
  layers: Stats[];
  /** The attention alone (after QKV, before the output projection), per layer. */
  attention: Stats[];
  head: Stats;
  total: Stats;
  /** Per op group of layer 0 (qkv, rfa/attn, o, ln1, ffn1, gelu, ffn2, ln2): bytes and rounds. */
  groups: Map<string, { bytes: number; rounds: number }>;
}

const PARTIES = ['s0', 's1', 'dealer', 'data', 'model'] as const;

async function run(attention: 'rfa' | 'softmax', protocols: ProtocolVersion): Promise<Result> {
  const ring = new Ring();
  const spec = { ...specOf({ shape, attention, layers, batch: B, seq, prompt: P, candidates: C, head: 'mlm', features }, model), protocols };
  // S0's phase starts time the steps; the dealer runs ahead of the servers, so bytes and rounds are taken
  // from the op labels (l<i>.*, head.*, ...) of the final meters instead.
  const phases = new Map<string, { at: number; cpu: number }>();
  const now = () => {
    const c = process.cpuUsage();
    return { at: performance.now(), cpu: (c.user + c.system) / 1e6 };
  };
  const s = createLocalSession(ring, spec, model.weights, {
    net: { recvTimeoutMs: 2 ** 31 - 1 },
    onPhase: (name, role) => {
      if (role === 's0') phases.set(name, now());
    },
  });
  s.data.shareBatch(examples);
  await s.data.forward(prompts);
  phases.set('end', now());
  s.data.close();
  await s.done;
  const snaps = new Map(PARTIES.map((r) => [r, s.links.get(r)!.meter.snapshot()]));
  const stats = (from: string, to: string, match: (op: string) => boolean): Stats => {
    let bytes = 0;
    for (const snap of snaps.values()) for (const [op, v] of Object.entries(snap.ops)) if (match(op)) bytes += v.bytesSent;
    let dealer = 0;
    for (const [op, v] of Object.entries(snaps.get('dealer')!.ops)) if (match(op)) dealer += v.bytesSent;
    let rounds = 0;
    for (const [op, v] of Object.entries(snaps.get('s0')!.ops)) if (match(op)) rounds += v.rounds;
    const [a, b] = [phases.get(from)!, phases.get(to)!];
    return { seconds: (b.at - a.at) / 1000, cpu: b.cpu - a.cpu, bytes, dealer, rounds };
  };
  const prefix = (...ps: string[]) => (op: string) => ps.some((q) => op.startsWith(q));
  const inForward = (op: string) => op === 'prompt' || op === 'logits' || /^(l\d+|head)\./.test(op);
  const groups = new Map<string, { bytes: number; rounds: number }>();
  for (const [role, snap] of snaps) {
    for (const [op, v] of Object.entries(snap.ops)) {
      if (!op.startsWith('l0.')) continue;
      const g = op.split('.')[1]!;
      const e = groups.get(g) ?? { bytes: 0, rounds: 0 };
      e.bytes += v.bytesSent;
      if (role === 's0') e.rounds += v.rounds;
      groups.set(g, e);
    }
  }
  return {
    groups,
    attention: Array.from({ length: layers }, (_, l) => stats(`layer ${l} attention`, `layer ${l} output`, prefix(`l${l}.rfa.`, `l${l}.attn.`))),
    embed: stats('embed', 'forward', prefix('batch.', 'embed.')),
    layers: Array.from({ length: layers }, (_, l) => stats(`layer ${l}`, l + 1 < layers ? `layer ${l + 1}` : 'head', prefix(`l${l}.`))),
    head: stats('head', 'end', prefix('head.', 'logits')),
    total: stats('forward', 'end', inForward),
  };
}

const mb = (b: number) => (b / 2 ** 20).toFixed(1);
const NOTE = 'time per layer: the dealer works up to one layer ahead of the servers, so compare the mean per layer';
const fmt = (r: Stats) => [r.seconds.toFixed(2), r.cpu.toFixed(2), mb(r.bytes), mb(r.bytes - r.dealer), mb(r.dealer), String(r.rounds)];
const table = (rows: string[][]) => {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')).join('\n');
};

const be = loadBackend();
console.log(`machine: ${cpus()[0]!.model.trim()}, ${cpus().length} cores; node ${process.version}; kernels: ${be.name}`);
console.log(
  `model: ${shape}, ${layers} of ${FULL_LAYERS} layers, hidden ${config.hidden}, ${config.heads} heads, intermediate ${config.intermediate}, vocab ${config.vocabSize} ` +
    `(seeded, built in ${modelSeconds.toFixed(1)} s); batch ${B} × seq ${seq}, ${C} candidate(s), prompt ${P} rows; RFA D = ${features}`,
);
const results = new Map<string, Result>();
for (const a of attentions) for (const v of versions) {
  const t0 = performance.now();
  const r = await run(a, v);
  results.set(`${a} ${v}`, r);
  const rows = [['step', 'seconds', 'cpu s', 'MiB', 'online MiB', 'dealer MiB', 'rounds']];
  rows.push(['embedding (once per session)', ...fmt(r.embed)]);
  r.layers.forEach((l, i) => {
    rows.push([`layer ${i}`, ...fmt(l)]);
    rows.push([`  of which attention`, ...fmt(r.attention[i]!)]);
  });
  const mean = (k: keyof Stats) => r.layers.reduce((s, l) => s + l[k], 0) / layers;
  const meanStats = (): Stats => ({ seconds: mean('seconds'), cpu: mean('cpu'), bytes: mean('bytes'), dealer: mean('dealer'), rounds: mean('rounds') });
  rows.push(['mean per layer', ...fmt(meanStats())]);
  rows.push(['heads (MLM, label words)', ...fmt(r.head)]);
  rows.push([`forward total (${layers} layers)`, ...fmt(r.total)]);
  if (layers !== FULL_LAYERS) {
    const more = FULL_LAYERS - layers;
    const ex = {
      seconds: r.total.seconds + more * mean('seconds'),
      cpu: r.total.cpu + more * mean('cpu'),
      bytes: r.total.bytes + more * mean('bytes'),
      dealer: r.total.dealer + more * mean('dealer'),
      rounds: Math.round(r.total.rounds + more * mean('rounds')),
    };
    rows.push([`EXTRAPOLATED forward, ${FULL_LAYERS} layers`, ...fmt(ex)]);
    results.set(`${a} ${v}`, { ...r, total: ex });
  }
  const name = v === 'v1' ? 'previous protocols (v1, bc2c1c5)' : 'current protocols (v2)';
  console.log(`\n${a} attention, ${name} (run took ${((performance.now() - t0) / 1000).toFixed(1)} s)\n${table(rows)}\n${NOTE}`);
  const m = meanStats();
  console.log(`LINE ${a} ${v}: per layer ${m.seconds.toFixed(2)} s, ${mb(m.bytes)} MiB (online ${mb(m.bytes - m.dealer)}, dealer ${mb(m.dealer)}), ${m.rounds} rounds`);
  const total = [...r.groups.values()].reduce((x, g) => x + g.bytes, 0);
  const groupRows = [['layer 0 by op', 'MiB', 'share', 'rounds']];
  for (const [g, gv] of r.groups) groupRows.push([g, mb(gv.bytes), `${((100 * gv.bytes) / total).toFixed(0)}%`, String(gv.rounds)]);
  console.log(table(groupRows));
}
const sum = (xs: Stats[], k: 'seconds' | 'cpu' | 'bytes' | 'dealer') => xs.reduce((s, l) => s + l[k], 0);
for (const v of versions) {
  const rfa = results.get(`rfa ${v}`);
  const soft = results.get(`softmax ${v}`);
  if (!rfa || !soft) continue;
  const perLayer = (r: Result, k: 'seconds' | 'cpu' | 'bytes') => sum(r.layers, k);
  const label = layers === FULL_LAYERS ? '' : ` (${FULL_LAYERS}-layer totals extrapolated)`;
  console.log(`\nsoftmax / RFA, protocols ${v}${label}; the paper reports 3.2× time and 3.6× bytes (RoBERTa-large, LAN)`);
  console.log(
    table([
      ['ratio', 'time', 'cpu', 'bytes', 'rounds'],
      ['per layer', (perLayer(soft, 'seconds') / perLayer(rfa, 'seconds')).toFixed(2), (perLayer(soft, 'cpu') / perLayer(rfa, 'cpu')).toFixed(2), (perLayer(soft, 'bytes') / perLayer(rfa, 'bytes')).toFixed(2), (soft.layers[0]!.rounds / rfa.layers[0]!.rounds).toFixed(2)],
      ['forward', (soft.total.seconds / rfa.total.seconds).toFixed(2), (soft.total.cpu / rfa.total.cpu).toFixed(2), (soft.total.bytes / rfa.total.bytes).toFixed(2), (soft.total.rounds / rfa.total.rounds).toFixed(2)],
      ['attention only', (sum(soft.attention, 'seconds') / sum(rfa.attention, 'seconds')).toFixed(2), (sum(soft.attention, 'cpu') / sum(rfa.attention, 'cpu')).toFixed(2), (sum(soft.attention, 'bytes') / sum(rfa.attention, 'bytes')).toFixed(2), (soft.attention[0]!.rounds / rfa.attention[0]!.rounds).toFixed(2)],
    ]),
  );
}
for (const a of attentions) {
  const v1 = results.get(`${a} v1`);
  const v2 = results.get(`${a} v2`);
  if (!v1 || !v2) continue;
  const per = (r: Result, k: 'seconds' | 'cpu' | 'bytes' | 'dealer') => sum(r.layers, k);
  console.log(`\n${a}: previous (v1) / current (v2) protocols, per layer (same run)`);
  console.log(
    table([
      ['ratio', 'time', 'cpu', 'bytes', 'online bytes', 'dealer bytes', 'rounds'],
      ['per layer', (per(v1, 'seconds') / per(v2, 'seconds')).toFixed(2), (per(v1, 'cpu') / per(v2, 'cpu')).toFixed(2), (per(v1, 'bytes') / per(v2, 'bytes')).toFixed(2),
        ((per(v1, 'bytes') - per(v1, 'dealer')) / (per(v2, 'bytes') - per(v2, 'dealer'))).toFixed(2), (per(v1, 'dealer') / per(v2, 'dealer')).toFixed(2), (v1.layers[0]!.rounds / v2.layers[0]!.rounds).toFixed(2)],
    ]),
  );
}
