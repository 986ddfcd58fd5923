/**
 * CrypTen against ours on one BERT-base layer (hidden 768, 12 heads, FFN 3072), same shape, same invocation:
 * for each batch, our private forward of one layer with RFA and with softmax attention (all five roles in this
 * process over the in-process network, as `npm run bench:transformer`), then CrypTen's 2-party run of the same
 * layer with softmax attention (bench/crypten/layer.py, two processes, gloo over loopback). Prints time, bytes
 * and rounds of each and the CrypTen / ours ratios, and saves everything to bench/results/crypten-<date>.json.
 *
 *   npm run bench:crypten -- [--batch 8,1] [--seq 128] [--gelu erf,tanh] [--attention rfa,softmax]
 *                            [--python PATH] [--threads 1] [--out FILE]
 *
 * --python: a Python with CrypTen to use; without it the first run makes .cache/crypten/venv, or
 *           $SECP_CRYPTEN_VENV (bench/crypten/setup.sh: torch 2.0.1 and CrypTen 0.4.1 from PyPI, ~2.5 GB,
 *           a few minutes), and later runs check it and go on.
 * --gelu:   CrypTen's GELU by its erf (what the layer is specified with; wrong for this layer's activations, see
 *           bench/crypten/layer.py) and/or by its tanh (accurate); both cost about the same.
 * --threads: torch threads per CrypTen party (default 1: two parties on this machine's two cores).
 *
 * Ours: layer 0 of a one-layer forward, S0's time from its 'layer 0' phase to 'head' (the dealer starts the
 * layer's material when the forward starts, so all of it falls inside); bytes by the meters' l0.* ops,
 * S0 + S1 (online) and the dealer apart; S0's rounds. CrypTen's default provider (TFP) makes its Beaver triples
 * at party 0 and has no dealer traffic: its bytes compare with our S0 + S1 bytes, and the dealer's are printed
 * beside them. Both sides share this machine's cores (and with whatever else runs on it).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadBackend } from '../bindings/index.js';
import { createLocalSession } from '../ts/model/mpc.js';
import { Ring } from '../ts/ring/tensor.js';
import { parseCryptenResult, ratios, table, type CryptenLayer, type OurLayer } from './crypten/compare.js';
import { benchBatch, benchModel, benchPrompts, specOf } from './workloads/transformer.js';

const { values: args } = parseArgs({
  options: {
    batch: { type: 'string', default: '8,1' },
    seq: { type: 'string', default: '128' },
    gelu: { type: 'string', default: 'erf,tanh' },
    attention: { type: 'string', default: 'rfa,softmax' },
    python: { type: 'string' },
    threads: { type: 'string', default: '1' },
    out: { type: 'string' },
  },
});
const int = (name: string, v: string): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
  return n;
};
const list = <T extends string>(name: string, v: string, allowed: readonly T[]): T[] => {
  const xs = v.split(',').map((x) => x.trim());
  for (const x of xs) if (!allowed.includes(x as T)) throw new Error(`--${name} takes a comma-separated list of ${allowed.join(', ')}; got ${x}`);
  return xs as T[];
};
const batches = args.batch!.split(',').map((b) => int('batch', b.trim()));
const seq = int('seq', args.seq!);
const gelus = list('gelu', args.gelu!, ['erf', 'tanh'] as const);
const attentions = list('attention', args.attention!, ['rfa', 'softmax'] as const);
const threads = int('threads', args.threads!);
/** Our bench's prompt rows (bench:transformer's default): added into the sequence, so the layer stays seq wide. */
const PROMPT = 8;

function python(): string {
  if (args.python !== undefined) return args.python;
  const setup = spawnSync('bash', ['bench/crypten/setup.sh'], { stdio: 'inherit' });
  if (setup.status !== 0) throw new Error(`bench/crypten/setup.sh failed (exit ${setup.status ?? setup.signal})`);
  return join(process.env.SECP_CRYPTEN_VENV ?? '.cache/crypten/venv', 'bin', 'python');
}

async function ours(attention: 'rfa' | 'softmax', batch: number): Promise<OurLayer> {
  const model = benchModel('bert-base', 1);
  const spec = specOf({ shape: 'bert-base', attention, layers: 1, batch, seq, prompt: PROMPT, candidates: 1, head: 'mlm', features: 64 }, model);
  const at = new Map<string, { ms: number; cpu: number }>();
  const s = createLocalSession(new Ring(), spec, model.weights, {
    net: { recvTimeoutMs: 2 ** 31 - 1 },
    onPhase: (name, role) => {
      if (role !== 's0') return;
      const c = process.cpuUsage();
      at.set(name, { ms: performance.now(), cpu: (c.user + c.system) / 1e6 });
    },
  });
  s.data.shareBatch(benchBatch(model, batch, seq));
  await s.data.forward(benchPrompts(1, PROMPT, model.config.hidden));
  s.data.close();
  await s.done;
  const sent = (role: 's0' | 's1' | 'dealer') =>
    Object.entries(s.links.get(role)!.meter.snapshot().ops).reduce((n, [op, v]) => (op.startsWith('l0.') ? n + v.bytesSent : n), 0);
  const rounds = Object.entries(s.links.get('s0')!.meter.snapshot().ops).reduce((n, [op, v]) => (op.startsWith('l0.') ? n + v.rounds : n), 0);
  const [a, b] = [at.get('layer 0'), at.get('head')];
  if (a === undefined || b === undefined) throw new Error("our forward reported no 'layer 0' or 'head' phase");
  return { seconds: (b.ms - a.ms) / 1000, cpu: b.cpu - a.cpu, online: sent('s0') + sent('s1'), dealer: sent('dealer'), rounds };
}

async function crypten(py: string, gelu: 'erf' | 'tanh', batch: number): Promise<CryptenLayer> {
  const dir = mkdtempSync(join(tmpdir(), 'secp-crypten-'));
  try {
    const out = join(dir, 'result.json');
    const argv = ['bench/crypten/layer.py', '--batch', String(batch), '--seq', String(seq), '--gelu', gelu, '--threads', String(threads), '--out', out];
    // stdout carries only the result line (also in `out`); CrypTen's log goes to stderr, shown as it comes.
    const child = spawn(py, argv, { stdio: ['ignore', 'ignore', 'inherit'] });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (c, sig) => resolve(c ?? (sig ? -1 : null)));
    });
    if (code !== 0) throw new Error(`${py} ${argv.join(' ')} failed (exit ${code})`);
    return parseCryptenResult(readFileSync(out, 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const mib = (b: number) => (b / 2 ** 20).toFixed(1);
const x = (r: number) => `${r.toFixed(2)}×`;
const git = (a: string[]) => {
  try {
    return execFileSync('git', a, { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
};

const py = python();
const be = loadBackend();
const date = new Date().toISOString();
const machine = { cpu: cpus()[0]!.model.trim(), cores: cpus().length, node: process.version, kernels: be.name, loadStart: loadavg()[0]! };
console.log(`machine: ${machine.cpu}, ${machine.cores} cores; node ${machine.node}; kernels: ${machine.kernels}; load ${machine.loadStart.toFixed(1)}`);
console.log(`one BERT-base layer (hidden 768, 12 heads, FFN 3072), seq ${seq}, batches ${batches.join(', ')}; ours: ${attentions.join(', ')}; CrypTen: softmax, GELU by ${gelus.join(', ')}`);

const runs = [];
for (const batch of batches) {
  const our = new Map<string, OurLayer>();
  for (const a of attentions) {
    console.log(`\n[batch ${batch}] ours, ${a} attention ...`);
    const r = await ours(a, batch);
    our.set(a, r);
    console.log(`  ${r.seconds.toFixed(1)} s, ${mib(r.online)} MiB S0+S1, ${mib(r.dealer)} MiB dealer, ${r.rounds} rounds`);
  }
  const theirs = new Map<string, CryptenLayer>();
  for (const g of gelus) {
    console.log(`\n[batch ${batch}] CrypTen, softmax attention, GELU by ${g} ...`);
    const r = await crypten(py, g, batch);
    theirs.set(g, r);
    console.log(`  ${r.seconds.toFixed(1)} s, ${mib(r.bytes)} MiB, ${r.rounds} rounds; output's max |error| ${r.maxAbsError.toPrecision(3)} (values up to ${r.refMaxAbs.toFixed(1)})`);
  }
  const rows = [['batch ' + batch + ', one layer', 'seconds', 'cpu s', 'MiB S0+S1', 'MiB dealer', 'rounds', 'max |err|']];
  for (const [a, r] of our) rows.push([`ours, ${a}`, r.seconds.toFixed(1), r.cpu.toFixed(1), mib(r.online), mib(r.dealer), String(r.rounds), '']);
  for (const [g, r] of theirs) rows.push([`CrypTen ${r.crypten}, softmax, GELU by ${g}`, r.seconds.toFixed(1), r.cpu.toFixed(1), mib(r.bytes), '0 (TFP)', String(r.rounds), r.maxAbsError.toPrecision(3)]);
  const ratioRows = [['CrypTen / ours', 'time', 'cpu', 'bytes vs S0+S1', 'bytes vs S0+S1+dealer', 'rounds']];
  const pairs = [];
  for (const [g, c] of theirs) {
    for (const [a, o] of our) {
      const q = ratios(c, o);
      pairs.push({ gelu: g, attention: a, ...q });
      ratioRows.push([`GELU by ${g} / ours ${a}`, x(q.time), x(q.cpu), x(q.online), x(q.withDealer), x(q.rounds)]);
    }
  }
  console.log(`\n${table(rows)}\n\n${table(ratioRows)}`);
  runs.push({ batch, seq, ours: Object.fromEntries(our), crypten: Object.fromEntries(theirs), ratios: pairs });
}

const commit = git(['rev-parse', 'HEAD']) || 'unknown';
const result = {
  date,
  commit,
  dirty: git(['status', '--porcelain']).length > 0,
  machine: { ...machine, loadEnd: loadavg()[0]! },
  args: { batches, seq, gelus, attentions, threads, prompt: PROMPT, features: 64 },
  runs,
};
const file = args.out ?? join('bench', 'results', `crypten-${date.slice(0, 10)}.json`);
mkdirSync(join(file, '..'), { recursive: true });
writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
console.log(`\nsaved ${file} (load ${result.machine.loadStart.toFixed(1)} at the start, ${result.machine.loadEnd.toFixed(1)} at the end)`);
