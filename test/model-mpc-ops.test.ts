/**
 * The pieces the private transformer adds to the protocol layer: the clamped reciprocal (RFA's epsDen), the
 * reciprocal/rsqrt scales over ranges beyond 2^16, and both attentions against plain.ts on padded sequences.
 */
import test from 'ava';
import { rfaAttention, softmaxAttention } from '../ts/model/mpc-attention.js';
import { attentionRfa, attentionRfaExp, attentionSoftmax, rfaFeatures } from '../ts/model/plain.js';
import { Rng } from '../ts/model/random.js';
import { reciprocal, rsqrt } from '../ts/mpc/nonlinear.js';
import { truncate } from '../ts/mpc/truncation.js';
import { backend, randomReals } from './helpers.js';
import { runMpc } from './mpc-harness.js';

const F = 16;
const ULP = 2 ** -F;

function encoded(x: Float64Array): Float64Array {
  const be = backend('native');
  return be.decode(be.encode(x, F), F);
}

test('reciprocal with a floor: 1/max(x, floor) for negative, tiny and in-range x; rsqrt and reciprocal up to 2^28', async (t) => {
  const floor = 0.064;
  const octaves = 18;
  const u = randomReals('floor', 500, 1);
  const inRange = u.map((v) => floor * 2 ** (((v + 1) / 2) * octaves));
  // Down to -floor·2^octaves: the comparisons' bound (|x| < floor·2^octaves), as for RFA's normaliser.
  const below = Float64Array.from([-(floor * 2 ** octaves) + ULP, -100, -1, -1e-3, 0, 1e-4, 0.03, 0.0639, floor]);
  const x = encoded(Float64Array.from([...inRange, ...below]));
  const wide = encoded(u.map((v) => 2 ** (-4 + ((v + 1) / 2) * 32))); // [2^-4, 2^28)
  const r = await runMpc({
    inputs: [{ values: x, shape: [x.length] }, { values: wide, shape: [wide.length] }],
    outputSizes: [x.length, wide.length, wide.length],
    run: async (p, [X, W]) => ({
      reveal: [await reciprocal(p, X!, { floor, octaves }), await reciprocal(p, W!, { lo: -4, hi: 28 }), await rsqrt(p, W!, { lo: -4, hi: 28 })],
    }),
  });
  let worst = 0;
  x.forEach((v, i) => {
    const want = 1 / Math.max(v, floor);
    worst = Math.max(worst, Math.abs(r.outputs[0]![i]! - want) / (2 ** -11 * want + 4 * ULP));
  });
  t.true(worst <= 1, `clamped reciprocal: worst error ${worst} × bound`);
  let worstR = 0;
  let worstS = 0;
  wide.forEach((v, i) => {
    worstR = Math.max(worstR, Math.abs(r.outputs[1]![i]! - 1 / v) / (2 ** -11 / v + 4 * ULP));
    worstS = Math.max(worstS, Math.abs(r.outputs[2]![i]! - 1 / Math.sqrt(v)) / (2 ** -11 / Math.sqrt(v) + 4 * ULP));
  });
  t.true(worstR <= 1, `reciprocal over [2^-4, 2^28): worst error ${worstR} × bound`);
  t.true(worstS <= 1, `rsqrt over [2^-4, 2^28): worst error ${worstS} × bound`);
});

/** Three sequences of 16 tokens, 4 heads of 16, the last keys of two sequences padded. */
const SEQS = 3;
const N = 16;
const HEADS = 4;
const DH = 16;
const H = HEADS * DH;

/** q, k scaled by `qkScale` (v keeps std 1). */
function inputs(seed: number, qkScale = 1) {
  const qkv = new Float64Array(SEQS * N * 3 * H);
  new Rng(seed, 1).fillNormal(qkv, 1);
  for (let i = 0; i < qkv.length; i++) if (i % (3 * H) < 2 * H) qkv[i]! *= qkScale;
  const mask = new Float64Array(SEQS * N).fill(1);
  mask.fill(0, 11, 16);
  mask.fill(0, 30, 32);
  /** Per sequence: plain's q, k, v (n × H each) and mask. */
  const split = (s: number) => {
    const [q, k, v] = [0, 1, 2].map((part) => {
      const m = new Float64Array(N * H);
      for (let t = 0; t < N; t++) m.set(qkv.subarray((s * N + t) * 3 * H + part * H, (s * N + t) * 3 * H + (part + 1) * H), t * H);
      return m;
    }) as [Float64Array, Float64Array, Float64Array];
    return { q, k, v, mask: mask.subarray(s * N, (s + 1) * N) };
  };
  return { qkv: encoded(qkv), mask, split };
}

function maxErr(got: Float64Array, want: Float64Array): number {
  let m = 0;
  for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs(got[i]! - want[i]!));
  return m;
}

test('RFA attention on padded sequences matches attentionRfa (same features), 1 round for the sin/cos', async (t) => {
  const { qkv, mask, split } = inputs(5);
  const D = 64;
  const tau = 1;
  const feats = Array.from({ length: HEADS }, (_, h) => rfaFeatures(3, 0, h, D, DH, tau));
  const want = new Float64Array(SEQS * N * H);
  for (let s = 0; s < SEQS; s++) {
    const x = split(s);
    want.set(attentionRfa(encoded(x.q), encoded(x.k), encoded(x.v), N, HEADS, x.mask, feats, 1e-6, 1e-3), s * N * H);
  }
  const r = await runMpc({
    // The mask enters as integer shares: 1 ulp is the integer 1.
    inputs: [{ values: qkv, shape: [SEQS * N, 3 * H] }, { values: mask.map((m) => m * ULP), shape: [SEQS * N] }],
    outputSizes: [SEQS * N * H],
    run: async (p, [x, m]) => {
      const kernels = feats.map((w) => p.ring.backend.angleScale(w, 2 * F));
      const settings = { kernel: 'normalized' as const, features: D, kernels, epsNorm: 1e-6, denFloor: D * 1e-3, denOctaves: 16, normRange: { lo: -6, hi: 14 } };
      const { ctx, fracBits } = await rfaAttention(p, x!, m!, { seqs: SEQS, n: N, heads: HEADS, dh: DH }, settings, 'rfa');
      // v2: the context leaves with 2f fractional bits (the output projection truncates by 2f).
      t.is(fracBits, 2 * F);
      return { reveal: [await truncate(p, ctx, F)] };
    },
  });
  const err = maxErr(r.outputs[0]!, want);
  t.log(`RFA attention: max |error| ${err.toExponential(2)}`);
  t.true(err <= 5e-3, `max error ${err}`);
  t.is(r.links.get('s0')!.meter.snapshot().ops['rfa.cos']!.rounds, 1);
});

test("RFA 'exp' kernel (softmax's exp(q·k/√d)) on padded sequences matches attentionRfaExp (same features)", async (t) => {
  // q and k of entries ~ N(0, 1/4): kernel values ~e^-0.5·… stay well above the random-feature noise, so the
  // normaliser is far from its clamp (a clamped or noise-level normaliser is a function fixed point cannot follow).
  const { qkv, mask, split } = inputs(7, 0.5);
  const D = 64;
  const feats = Array.from({ length: HEADS }, (_, h) => rfaFeatures(4, 0, h, D, DH, 1));
  const want = new Float64Array(SEQS * N * H);
  for (let s = 0; s < SEQS; s++) {
    const x = split(s);
    want.set(attentionRfaExp(encoded(x.q), encoded(x.k), encoded(x.v), N, HEADS, x.mask, feats, 1e-3), s * N * H);
  }
  // MPC side: q and k pre-scaled by dh^(-1/4), as the model owner does.
  const c = DH ** -0.25;
  const scaled = encoded(Float64Array.from(qkv, (v, i) => (i % (3 * H) < 2 * H ? v * c : v)));
  const r = await runMpc({
    inputs: [{ values: scaled, shape: [SEQS * N, 3 * H] }, { values: mask.map((m) => m * ULP), shape: [SEQS * N] }],
    outputSizes: [SEQS * N * H],
    run: async (p, [x, m]) => {
      const kernels = feats.map((w) => p.ring.backend.angleScale(w, F));
      const settings = { kernel: 'exp' as const, features: D, kernels, epsNorm: 0, denFloor: D * 1e-3, denOctaves: 16, normRange: { lo: -6, hi: 14 } };
      const { ctx, fracBits } = await rfaAttention(p, x!, m!, { seqs: SEQS, n: N, heads: HEADS, dh: DH }, settings, 'rfa');
      // v2: the context leaves with 2f fractional bits (the output projection truncates by 2f).
      t.is(fracBits, 2 * F);
      return { reveal: [await truncate(p, ctx, F)] };
    },
  });
  const err = maxErr(r.outputs[0]!, want);
  t.log(`RFA exp attention: max |error| ${err.toExponential(2)}`);
  t.true(err <= 1e-2, `max error ${err}`);
  t.is(r.links.get('s0')!.meter.snapshot().ops['rfa.cos']!.rounds, 1);
});

/** The MPC baseline's exp in float64: clip at -16, then (1 + x/2^8)^(2^8) (nonlinear.ts). */
const limitExp = (x: number): number => (1 + Math.max(x, -16) / 256) ** 256;

test('softmax attention on padded sequences matches attentionSoftmax with the same exp', async (t) => {
  const { qkv, mask, split } = inputs(6);
  const scale = 1 / Math.sqrt(DH);
  const want = new Float64Array(SEQS * N * H);
  // MPC side: q pre-scaled by 1/√dh as the model owner does.
  const scaled = Float64Array.from(qkv, (v, i) => (i % (3 * H) < H ? v * scale : v));
  for (let s = 0; s < SEQS; s++) {
    const x = split(s);
    want.set(attentionSoftmax(encoded(x.q), encoded(x.k), encoded(x.v), N, HEADS, x.mask, limitExp), s * N * H);
  }
  const bias = Float64Array.from(mask, (m) => (m - 1) * 4096);
  const r = await runMpc({
    inputs: [{ values: scaled, shape: [SEQS * N, 3 * H] }, { values: bias, shape: [SEQS * N] }],
    outputSizes: [SEQS * N * H],
    outputBits: [2 * F],
    run: async (p, [x, b]) => ({ reveal: [(await softmaxAttention(p, x!, b!, { seqs: SEQS, n: N, heads: HEADS, dh: DH }, 'attn')).ctx] }),
  });
  const err = maxErr(r.outputs[0]!, want);
  t.log(`softmax attention: max |error| ${err.toExponential(2)}`);
  // Against the same exp approximation in float64: only fixed-point rounding (exp's squarings, the reciprocal) remains.
  t.true(err <= 1e-3, `max error ${err}`);
});
