/**
 * Communication cost of every protocol of ts/mpc, read from the meter (no timing): rounds, payload bytes
 * per element one server sends, and bytes per element the dealer sends S1. This is what the table in
 * docs/protocols.md is made from.
 *   npm run build:ts && node dist/bench/mpc-costs.js [--n 4096]
 * Every protocol runs in a fresh in-process session (S0, S1, dealer, data owner) on inputs inside its
 * documented range; costs depend on sizes only (not on values, seeds or transport: see
 * test/mpc-transports.test.ts), and are linear in the element count for n a multiple of 64 (ltz opens
 * bit planes, 64 elements to a word).
 */
import { loadBackend } from '../bindings/index.js';
import { fixWeight, type FixedWeight, matmulFixedRaw, matmulManyRaw, matmulPublic, mul, mulFixedRowRaw, mulRaw, squareRaw } from '../ts/mpc/beaver.js';
import { ltz, relu, select } from '../ts/mpc/compare.js';
import { anglesFromFeatures, cosSin, cosSinCrypten } from '../ts/mpc/cosine.js';
import { InputParty, input, reveal } from '../ts/mpc/io.js';
import { exp, gelu, layerNorm, reciprocal, rowMax, rsqrt, softmax } from '../ts/mpc/nonlinear.js';
import { Party, type Role } from '../ts/mpc/party.js';
import type { Shared } from '../ts/mpc/shared.js';
import { truncate } from '../ts/mpc/truncation.js';
import { createLocalNetwork } from '../ts/net/local.js';
import type { OpStats } from '../ts/net/meter.js';
import { FRAC_BITS, Ring } from '../ts/ring/tensor.js';

const i = process.argv.indexOf('--n');
const N = i >= 0 ? Number(process.argv[i + 1]) : 4096;
if (!Number.isInteger(N) || N < 64 || N % 64 !== 0) throw new Error(`--n must be a positive multiple of 64, got ${process.argv[i + 1]}`);

const be = loadBackend();
const ring = new Ring({ backend: be, fracBits: FRAC_BITS });

interface Case {
  name: string;
  shape: string;
  /** Elements the bytes are divided by. */
  elements: number;
  /** Inputs the data owner shares: shape and values. */
  inputs: Array<{ shape: number[]; values: Float64Array }>;
  /** Untimed, unmetered preparation (fixing a weight, making a bit); its result is passed to `run`. */
  setup?: (p: Party, xs: Shared[]) => Promise<unknown>;
  run: (p: Party, xs: Shared[], prepared: never) => Promise<unknown>;
  /** The traffic of the input itself (the `input` row). */
  measureInput?: boolean;
}

interface Cost {
  rounds: number;
  serverBytes: number;
  serverMsgs: number;
  dealerBytes: number;
  ownerBytes: number;
}

const reals = (n: number, lo: number, hi: number): Float64Array => Float64Array.from({ length: n }, (_, j) => lo + (hi - lo) * (((j + 1) * 0.6180339887498949) % 1));
const vec = (lo: number, hi: number, n = N): { shape: number[]; values: Float64Array } => ({ shape: [n], values: reals(n, lo, hi) });
const mat = (r: number, c: number, lo: number, hi: number): { shape: number[]; values: Float64Array } => ({ shape: [r, c], values: reals(r * c, lo, hi) });

function diff(a: OpStats, b: OpStats): OpStats {
  return { rounds: b.rounds - a.rounds, msgsSent: b.msgsSent - a.msgsSent, msgsReceived: b.msgsReceived - a.msgsReceived, bytesSent: b.bytesSent - a.bytesSent, bytesReceived: b.bytesReceived - a.bytesReceived };
}

async function measure(c: Case): Promise<Cost> {
  const links = createLocalNetwork('costs', ['s0', 's1', 'dealer', 'data']);
  const owner = new InputParty(links.get('data')!, be);
  c.inputs.forEach((x, j) => owner.share(`in${j}`, be.encode(x.values, FRAC_BITS)));
  const ownerBytes = links.get('data')!.meter.snapshot().total.bytesSent;
  const run = async (role: Role): Promise<OpStats> => {
    const p = await Party.join(role, { ring, link: links.get(role)! });
    const xs: Shared[] = [];
    for (const [j, x] of c.inputs.entries()) xs.push(await input(p, 'data', `in${j}`, x.shape));
    const prepared = await c.setup?.(p, xs);
    const before = p.link.meter.snapshot().total;
    await c.run(p, xs, prepared as never);
    return diff(before, p.link.meter.snapshot().total);
  };
  const [s0, s1, dealer] = await Promise.all([run('s0'), run('s1'), run('dealer')]);
  if (s0.bytesSent !== s1.bytesSent || s0.rounds !== s1.rounds) throw new Error(`${c.name}: S0 and S1 differ`);
  return { rounds: s0.rounds, serverBytes: s0.bytesSent, serverMsgs: s0.msgsSent, dealerBytes: dealer.bytesSent, ownerBytes: c.measureInput ? ownerBytes : 0 };
}

const [MM, MK, MN] = [256, 768, 768];
const kT = be.angleScale(Float64Array.of(1), FRAC_BITS);
const wPublic = be.encode(reals(MK * MN, -0.1, 0.1), FRAC_BITS);

const CASES: Case[] = [
  { name: 'input from D (to each server)', shape: `[${N}]`, elements: 2 * N, inputs: [vec(-4, 4)], run: async () => undefined, measureInput: true },
  { name: 'reveal to D', shape: `[${N}]`, elements: N, inputs: [vec(-4, 4)], run: async (p, [x]) => reveal(p, 'data', 'out', x!) },
  { name: 'truncation', shape: `[${N}]`, elements: N, inputs: [vec(-4, 4)], run: (p, [x]) => truncate(p, x!) },
  { name: 'Beaver product (no truncation)', shape: `[${N}]`, elements: N, inputs: [vec(-4, 4), vec(-4, 4)], run: (p, [x, y]) => mulRaw(p, x!, y!) },
  { name: 'fixed-point mul (product + truncation)', shape: `[${N}]`, elements: N, inputs: [vec(-4, 4), vec(-4, 4)], run: (p, [x, y]) => mul(p, x!, y!) },
  { name: 'square (no truncation)', shape: `[${N}]`, elements: N, inputs: [vec(-4, 4)], run: (p, [x]) => squareRaw(p, x!) },
  {
    name: 'matmul secret×secret (per output element)', shape: `[${MM},${MK}]·[${MK},${MN}]`, elements: MM * MN,
    inputs: [mat(MM, MK, -2, 2), mat(MK, MN, -0.1, 0.1)], run: (p, [x, w]) => matmulManyRaw(p, [x!], [w!]),
  },
  {
    name: 'fixed weight: open F = W − B, once per session (per weight entry)', shape: `[${MK},${MN}]`, elements: MK * MN,
    inputs: [mat(MK, MN, -0.1, 0.1)], run: (p, [w]) => fixWeight(p, w!),
  },
  {
    name: 'matmul with a fixed weight (per output element)', shape: `[${MM},${MK}]·[${MK},${MN}]`, elements: MM * MN,
    inputs: [mat(MM, MK, -2, 2), mat(MK, MN, -0.1, 0.1)],
    setup: (p, [, w]) => fixWeight(p, w!, 'setup.fix'),
    run: (p, [x], fw: FixedWeight) => matmulFixedRaw(p, x!, fw),
  },
  {
    name: 'elementwise product with a fixed row weight', shape: `[${N / 64},64]`, elements: N,
    inputs: [mat(N / 64, 64, -2, 2), mat(1, 64, 0.5, 1.5)],
    setup: (p, [, g]) => fixWeight(p, g!, 'setup.fix'),
    run: (p, [x], fw: FixedWeight) => mulFixedRowRaw(p, x!, fw),
  },
  {
    name: 'public-weight matmul (per output element)', shape: `[${MM},${MK}]·[${MK},${MN}]`, elements: MM * MN,
    inputs: [mat(MM, MK, -2, 2)], run: (p, [x]) => matmulPublic(p, x!, wPublic, MN),
  },
  { name: 'cosine/sine (turns), ours', shape: `[${N}]`, elements: N, inputs: [vec(-4, 4)], run: (p, [x]) => cosSin(p, anglesFromFeatures(p, x!.reshape([N, 1]), kT, 1)) },
  { name: 'cosine/sine, CrypTen 10 squarings', shape: `[${N}]`, elements: N, inputs: [vec(-4, 4)], run: (p, [x]) => cosSinCrypten(p, x!) },
  { name: 'sign / ltz', shape: `[${N}]`, elements: N, inputs: [vec(-4, 4)], run: (p, [x]) => ltz(p, x!) },
  { name: 'sign / ltz at width k = 32 (|x| < 2^31 raw)', shape: `[${N}]`, elements: N, inputs: [vec(-4, 4)], run: (p, [x]) => ltz(p, x!, 'ltz', { bits: 32 }) },
  { name: 'ReLU', shape: `[${N}]`, elements: N, inputs: [vec(-4, 4)], run: (p, [x]) => relu(p, x!) },
  {
    name: 'select (given a bit)', shape: `[${N}]`, elements: N, inputs: [vec(-4, 4), vec(-4, 4), vec(-1, 1)],
    setup: (p, [, , b]) => ltz(p, b!, 'setup.bit'),
    run: (p, [x, y], bit: Shared) => select(p, bit, x!, y!),
  },
  { name: 'reciprocal on [2^-8, 2^12) (default)', shape: `[${N}]`, elements: N, inputs: [vec(2 ** -4, 2 ** 8)], run: (p, [x]) => reciprocal(p, x!, { lo: -8, hi: 12 }) },
  { name: 'reciprocal on [2^-4, 2^8)', shape: `[${N}]`, elements: N, inputs: [vec(2 ** -4, 2 ** 8)], run: (p, [x]) => reciprocal(p, x!, { lo: -4, hi: 8 }) },
  { name: 'inverse square root on [2^-12, 2^12) (default)', shape: `[${N}]`, elements: N, inputs: [vec(2 ** -4, 2 ** 8)], run: (p, [x]) => rsqrt(p, x!, { lo: -12, hi: 12 }) },
  { name: 'inverse square root on [2^-4, 2^8)', shape: `[${N}]`, elements: N, inputs: [vec(2 ** -4, 2 ** 8)], run: (p, [x]) => rsqrt(p, x!, { lo: -4, hi: 8 }) },
  { name: 'exp (x ≤ 0, softmax baseline)', shape: `[${N}]`, elements: N, inputs: [vec(-12, 0)], run: (p, [x]) => exp(p, x!) },
  { name: 'GELU', shape: `[${N}]`, elements: N, inputs: [vec(-6, 6)], run: (p, [x]) => gelu(p, x!) },
  ...([[256, 256], [128, 768]] as const).map(([r, c]): Case => ({
    name: 'LayerNorm (secret γ, β)', shape: `[${r},${c}]`, elements: r * c,
    inputs: [mat(r, c, -3, 3), mat(1, c, 0.5, 1.5), vec(-0.5, 0.5, c)],
    setup: (p, [, g]) => fixWeight(p, g!, 'setup.fix'),
    run: (p, [x, , b], gamma: FixedWeight) => layerNorm(p, x!, { gamma, beta: b!, eps: 1e-5 }),
  })),
  { name: 'row max (tournament)', shape: '[128,128]', elements: 128 * 128, inputs: [mat(128, 128, -4, 4)], run: (p, [x]) => rowMax(p, x!) },
  { name: 'softmax (baseline)', shape: '[128,128]', elements: 128 * 128, inputs: [mat(128, 128, -4, 4)], run: (p, [x]) => softmax(p, x!) },
];

const per = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(3).replace(/0+$/, ''));
console.log(`Costs from the meter (payload bytes; f = ${FRAC_BITS}; n = ${N}; kernels: ${be.name}). Set-up steps (fixing a weight, making a bit) are not counted in the rows that use them.\n`);
console.log('| protocol | shape | rounds | bytes/element/server | dealer → S1 bytes/element | messages/server |');
console.log('|---|---|---:|---:|---:|---:|');
for (const c of CASES) {
  const cost = await measure(c);
  const bytes = c.measureInput ? cost.ownerBytes : cost.serverBytes;
  console.log(`| ${c.name} | ${c.shape} | ${cost.rounds} | ${per(bytes / c.elements)} | ${per(cost.dealerBytes / c.elements)} | ${c.measureInput ? '-' : cost.serverMsgs} |`);
}
