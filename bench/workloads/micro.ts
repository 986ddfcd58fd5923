/**
 * MPC micro-workloads built straight from ts/mpc, each with a float32 plaintext baseline of the same
 * computation and a check of the revealed result against a float64 reference:
 *   cossin           the one-round cosine protocol on 2^16 angles (SecP-Tuning Π_cosine)
 *   cossin.crypten   CrypTen's 10-squaring cos/sin on the same count (the baseline Π_cosine replaces)
 *   ltz              2^16 comparisons with zero
 *   matmul.fixed     X [256, 768] · W [768, 768] with W a fixed (session-constant) weight, then truncation
 *   attn.rfa / attn.softmax
 *                    a tiny attention layer: one sequence of n tokens, one head of width 64, a fixed-weight
 *                    QKV projection, then RFA (D = 32 random features, q/k normalised) or softmax attention
 * Weights come from the model owner, inputs from the data owner, both in the untimed set-up (the fixed-weight
 * opening F = W - B happens there too: once per session, DESIGN §3).
 */
import { fixWeight, matmulFixedRaw, matmulManyRaw, mulRaw, squareRaw, type FixedWeight } from '../../ts/mpc/beaver.js';
import { ltz } from '../../ts/mpc/compare.js';
import { cosSin, cosSinCrypten } from '../../ts/mpc/cosine.js';
import { broadcastCols, reciprocal, rsqrt, softmax } from '../../ts/mpc/nonlinear.js';
import type { Party } from '../../ts/mpc/party.js';
import { Shared, addPublic } from '../../ts/mpc/shared.js';
import { truncate } from '../../ts/mpc/truncation.js';
import type { KernelBackend } from '../../bindings/types.js';
import type { Shape } from '../../ts/ring/tensor.js';
import type { Workload } from './types.js';
import { maxAbsError, normal, revealTo, share, uniform, words } from './util.js';

const MPC_ROLES = ['s0', 's1', 'dealer', 'data'] as const;
const MPC_ROLES_WITH_MODEL = ['s0', 's1', 'dealer', 'data', 'model'] as const;

function local(p: Party, shape: Shape, f: () => BigUint64Array): Shared {
  return new Shared(shape, p.isDealer ? null : f());
}

// ---------------------------------------------------------------------------------------------------------
// cos/sin

interface VecState {
  x: Shared | null;
  out: Shared | null;
}

/** Angles in turns as ring words (2^64 = one turn): the data owner's input for Π_cosine. */
function turnsOf(be: KernelBackend, n: number): BigUint64Array {
  return words(be, 'micro.cossin.angles', n);
}

function cosSinWorkload(n: number): Workload<VecState> {
  return {
    id: `micro.cossin.${n}`,
    group: 'micro',
    title: `cos+sin, one-round protocol, ${n} elements`,
    mpc: true,
    roles: MPC_ROLES,
    params: { n },
    async setup(ctx) {
      const x = await share(ctx, 'data', 'in', [n], () => turnsOf(ctx.backend, n));
      return { x, out: null };
    },
    async run(ctx, s) {
      const p = ctx.party;
      if (p === null) return;
      const r = await cosSin(p, s.x!, 'cos');
      s.out = local(p, [2 * n], () => {
        const o = new BigUint64Array(2 * n);
        o.set(r.cos.s);
        o.set(r.sin.s, n);
        return o;
      });
    },
    async check(ctx, s) {
      const got = await revealTo(ctx, 'data', 'out', s.out, 2 * n);
      if (got === null) return undefined;
      // cosSin's outputs carry f + f bits (its default public precision), known to the data owner in advance.
      const dec = ctx.backend.decode(got, 2 * ctx.ring.fracBits);
      const t = turnsOf(ctx.backend, n);
      const ref = new Float64Array(2 * n);
      for (let i = 0; i < n; i++) {
        const a = (Number(t[i]!) / 2 ** 64) * 2 * Math.PI;
        ref[i] = Math.cos(a);
        ref[n + i] = Math.sin(a);
      }
      return { maxAbsError: maxAbsError(dec, ref) };
    },
    plain: (be) => {
      const t = turnsOf(be, n);
      const a = Float32Array.from(t, (w) => (Number(w >> 11n) / 2 ** 53) * 2 * Math.PI);
      const c = new Float32Array(n);
      const sn = new Float32Array(n);
      return { run: () => { for (let i = 0; i < n; i++) { c[i] = Math.cos(a[i]!); sn[i] = Math.sin(a[i]!); } } };
    },
  };
}

function cosSinCryptenWorkload(n: number): Workload<VecState> {
  const angles = (be: KernelBackend): Float64Array => uniform(be, 'micro.cossin.crypten', n, Math.PI);
  return {
    id: `micro.cossin.crypten.${n}`,
    group: 'micro',
    title: `cos+sin, CrypTen 10 squarings, ${n} elements`,
    mpc: true,
    roles: MPC_ROLES,
    params: { n },
    async setup(ctx) {
      const x = await share(ctx, 'data', 'in', [n], () => ctx.backend.encode(angles(ctx.backend), ctx.ring.fracBits));
      return { x, out: null };
    },
    async run(ctx, s) {
      const p = ctx.party;
      if (p === null) return;
      const r = await cosSinCrypten(p, s.x!, 'cos.crypten');
      s.out = local(p, [2 * n], () => {
        const o = new BigUint64Array(2 * n);
        o.set(r.cos.s);
        o.set(r.sin.s, n);
        return o;
      });
    },
    async check(ctx, s) {
      const got = await revealTo(ctx, 'data', 'out', s.out, 2 * n);
      if (got === null) return undefined;
      const dec = ctx.backend.decode(got, ctx.ring.fracBits);
      const a = angles(ctx.backend);
      const ref = new Float64Array(2 * n);
      for (let i = 0; i < n; i++) {
        ref[i] = Math.cos(a[i]!);
        ref[n + i] = Math.sin(a[i]!);
      }
      return { maxAbsError: maxAbsError(dec, ref) };
    },
    plain: (be) => {
      const a = Float32Array.from(angles(be));
      const c = new Float32Array(n);
      const sn = new Float32Array(n);
      return { run: () => { for (let i = 0; i < n; i++) { c[i] = Math.cos(a[i]!); sn[i] = Math.sin(a[i]!); } } };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// comparison

function ltzWorkload(n: number): Workload<VecState> {
  const xs = (be: KernelBackend): Float64Array => uniform(be, 'micro.ltz', n, 100);
  return {
    id: `micro.ltz.${n}`,
    group: 'micro',
    title: `x < 0, ${n} elements`,
    mpc: true,
    roles: MPC_ROLES,
    params: { n },
    async setup(ctx) {
      const x = await share(ctx, 'data', 'in', [n], () => ctx.backend.encode(xs(ctx.backend), ctx.ring.fracBits));
      return { x, out: null };
    },
    async run(ctx, s) {
      const p = ctx.party;
      if (p === null) return;
      s.out = await ltz(p, s.x!, 'ltz');
    },
    async check(ctx, s) {
      const got = await revealTo(ctx, 'data', 'out', s.out, n);
      if (got === null) return undefined;
      const x = xs(ctx.backend);
      let wrong = 0;
      for (let i = 0; i < n; i++) if (Number(got[i]!) !== (x[i]! < 0 ? 1 : 0)) wrong++;
      return { wrong };
    },
    plain: (be) => {
      const x = Float32Array.from(xs(be));
      const out = new Uint8Array(n);
      return { run: () => { for (let i = 0; i < n; i++) out[i] = x[i]! < 0 ? 1 : 0; } };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// fixed-weight matmul

interface MatmulState {
  x: Shared | null;
  w: FixedWeight | null;
  out: Shared | null;
}

/** Row-major float32 matmul, the ikj loop (the plaintext baseline). */
export function matmulF32(a: Float32Array, b: Float32Array, m: number, k: number, n: number, out = new Float32Array(m * n)): Float32Array {
  out.fill(0);
  for (let i = 0; i < m; i++) {
    const row = i * n;
    for (let t = 0; t < k; t++) {
      const av = a[i * k + t]!;
      const off = t * n;
      for (let j = 0; j < n; j++) out[row + j] += av * b[off + j]!;
    }
  }
  return out;
}

function matmulWorkload(m: number, k: number, n: number): Workload<MatmulState> {
  const xs = (be: KernelBackend): Float64Array => uniform(be, 'micro.matmul.x', m * k, 1);
  const ws = (be: KernelBackend): Float64Array => normal(be, 'micro.matmul.w', k * n, 1 / Math.sqrt(k));
  return {
    id: `micro.matmul.fixed.${m}x${k}x${n}`,
    group: 'micro',
    title: `matmul [${m}, ${k}]·[${k}, ${n}], fixed weight, + truncation`,
    mpc: true,
    roles: MPC_ROLES_WITH_MODEL,
    params: { m, k, n },
    async setup(ctx) {
      const x = await share(ctx, 'data', 'x', [m, k], () => ctx.backend.encode(xs(ctx.backend), ctx.ring.fracBits));
      const wS = await share(ctx, 'model', 'w', [k, n], () => ctx.backend.encode(ws(ctx.backend), ctx.ring.fracBits));
      const w = ctx.party === null ? null : await fixWeight(ctx.party, wS!, 'w.fix');
      return { x, w, out: null };
    },
    async run(ctx, s) {
      const p = ctx.party;
      if (p === null) return;
      s.out = await truncate(p, await matmulFixedRaw(p, s.x!, s.w!, 'matmul'), p.ring.fracBits, 'matmul.trunc');
    },
    async check(ctx, s) {
      const got = await revealTo(ctx, 'data', 'out', s.out, m * n);
      if (got === null) return undefined;
      const x = xs(ctx.backend);
      const w = ws(ctx.backend);
      const ref = new Float64Array(m * n);
      for (let i = 0; i < m; i++) for (let t = 0; t < k; t++) for (let j = 0; j < n; j++) ref[i * n + j] += x[i * k + t]! * w[t * n + j]!;
      return { maxAbsError: maxAbsError(ctx.backend.decode(got, ctx.ring.fracBits), ref) };
    },
    plain: (be) => {
      const a = Float32Array.from(xs(be));
      const b = Float32Array.from(ws(be));
      const out = new Float32Array(m * n);
      return { run: () => void matmulF32(a, b, m, k, n, out) };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// a tiny attention layer

const D_MODEL = 64;
const RFA_FEATURES = 32;
/**
 * Kernel temperature of the tiny layer. τ = 1 keeps E[φ(q)·φ(k)] = exp(-|q̂ - k̂|²/2) ≥ e^-2 well above the
 * estimator's noise with 32 features, so the normaliser stays positive and the check compares like with like
 * (with τ = √d the normaliser is mostly noise and can go negative into the clamp).
 */
const RFA_TAU = 1;
const EPS_NORM = 1e-6;
const EPS_DEN = 1e-3;

interface AttnData {
  x: Float64Array;
  /** [D_MODEL, 3·D_MODEL]: Wq (pre-scaled by 1/√d for softmax), Wk, Wv side by side. */
  wqkv: Float64Array;
  /** RFA feature matrix [D, d], rows ~ N(0, τ I). */
  features: Float64Array;
}

function attnData(be: KernelBackend, n: number, kind: 'rfa' | 'softmax'): AttnData {
  const d = D_MODEL;
  const x = normal(be, `micro.attn.x.${n}`, n * d);
  const wqkv = normal(be, 'micro.attn.wqkv', d * 3 * d, 1 / Math.sqrt(d));
  if (kind === 'softmax') for (let r = 0; r < d; r++) for (let c = 0; c < d; c++) wqkv[r * 3 * d + c]! /= Math.sqrt(d);
  return { x, wqkv, features: normal(be, 'micro.attn.features', RFA_FEATURES * d, Math.sqrt(RFA_TAU)) };
}

/** Plaintext attention (float64 for the check, float32 arrays for the baseline): out [n, d]. */
function attnPlain(kind: 'rfa' | 'softmax', data: { x: ArrayLike<number>; wqkv: ArrayLike<number>; features: ArrayLike<number> }, n: number,
  alloc: (len: number) => Float32Array | Float64Array): Float32Array | Float64Array {
  const d = D_MODEL;
  const qkv = alloc(n * 3 * d);
  for (let i = 0; i < n; i++) for (let t = 0; t < d; t++) {
    const a = data.x[i * d + t]!;
    for (let j = 0; j < 3 * d; j++) qkv[i * 3 * d + j] += a * data.wqkv[t * 3 * d + j]!;
  }
  const out = alloc(n * d);
  if (kind === 'softmax') {
    const row = alloc(n);
    for (let i = 0; i < n; i++) {
      let mx = -Infinity;
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += qkv[i * 3 * d + c]! * qkv[j * 3 * d + d + c]!;
        row[j] = s;
        mx = Math.max(mx, s);
      }
      let sum = 0;
      for (let j = 0; j < n; j++) sum += (row[j] = Math.exp(row[j]! - mx));
      for (let j = 0; j < n; j++) {
        const pj = row[j]! / sum;
        for (let c = 0; c < d; c++) out[i * d + c] += pj * qkv[j * 3 * d + 2 * d + c]!;
      }
    }
    return out;
  }
  const D = RFA_FEATURES;
  const phi = (off: number, i: number, into: Float32Array | Float64Array): void => {
    let s = EPS_NORM;
    for (let c = 0; c < d; c++) s += qkv[i * 3 * d + off + c]! ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let f = 0; f < D; f++) {
      let a = 0;
      for (let c = 0; c < d; c++) a += data.features[f * d + c]! * qkv[i * 3 * d + off + c]! * inv;
      into[f] = Math.sin(a);
      into[D + f] = Math.cos(a);
    }
  };
  const S = alloc(2 * D * (d + 1));
  const ph = alloc(2 * D);
  for (let j = 0; j < n; j++) {
    phi(d, j, ph);
    for (let f = 0; f < 2 * D; f++) {
      for (let c = 0; c < d; c++) S[f * (d + 1) + c] += ph[f]! * qkv[j * 3 * d + 2 * d + c]!;
      S[f * (d + 1) + d] += ph[f]!;
    }
  }
  for (let i = 0; i < n; i++) {
    phi(0, i, ph);
    let den = 0;
    for (let f = 0; f < 2 * D; f++) den += ph[f]! * S[f * (d + 1) + d]!;
    const inv = 1 / Math.max(den, D * EPS_DEN);
    for (let c = 0; c < d; c++) {
      let num = 0;
      for (let f = 0; f < 2 * D; f++) num += ph[f]! * S[f * (d + 1) + c]!;
      out[i * d + c] = num * inv;
    }
  }
  return out;
}

interface AttnState {
  x: Shared | null;
  w: FixedWeight | null;
  kernel: BigUint64Array;
  out: Shared | null;
}

/** Columns [c0, c0 + w) of [rows, stride] (local), optionally transposed to [w, rows]. */
function cols(p: Party, x: Shared, c0: number, w: number, transpose = false): Shared {
  const [rows, stride] = x.shape as [number, number];
  return local(p, transpose ? [w, rows] : [rows, w], () => {
    const src = x.s;
    const out = new BigUint64Array(rows * w);
    for (let r = 0; r < rows; r++) {
      if (!transpose) out.set(src.subarray(r * stride + c0, r * stride + c0 + w), r * w);
      else for (let c = 0; c < w; c++) out[c * rows + r] = src[r * stride + c0 + c]!;
    }
    return out;
  });
}

/** Interleaves [rows, a] and [rows, b] into [rows, a + b]. */
function hcat(p: Party, x: Shared, y: Shared): Shared {
  const [rows, a] = x.shape as [number, number];
  const b = y.shape[1]!;
  return local(p, [rows, a + b], () => {
    const out = new BigUint64Array(rows * (a + b));
    for (let r = 0; r < rows; r++) {
      out.set(x.s.subarray(r * a, (r + 1) * a), r * (a + b));
      out.set(y.s.subarray(r * b, (r + 1) * b), r * (a + b) + a);
    }
    return out;
  });
}

async function rfaLayer(p: Party, qkv: Shared, kernel: BigUint64Array, n: number): Promise<Shared> {
  const be = p.ring.backend;
  const f = p.ring.fracBits;
  const d = D_MODEL;
  const D = RFA_FEATURES;
  // |q|², |k|² per token; rsqrt; q̂, k̂ with 2f fractional bits (left untruncated: the angle kernel expects 2f).
  // [n, 2d] viewed as [2n, d]: row 2i is q_i, row 2i + 1 is k_i.
  const qk = cols(p, qkv, 0, 2 * d);
  const sq = await squareRaw(p, qk, 'attn.norm.sq');
  const sums = local(p, [2 * n], () => be.sumAxis(sq.s, 2 * n, d, 1));
  const norm2 = await truncate(p, addPublic(p, sums, be.encode(Float64Array.of(EPS_NORM), 2 * f)), f, 'attn.norm.trunc');
  const inv = await rsqrt(p, norm2, { lo: -4, hi: 12 }, 'attn.norm.rsqrt');
  const qkHat = await mulRaw(p, qk.reshape([2 * n, d]), broadcastCols(p, inv, d), 'attn.norm.scale');
  // Angles in turns, local: q̂ rows and k̂ rows against the public features.
  const angles = local(p, [2 * n * D], () => be.matmulBT(qkHat.s, kernel, 2 * n, d, D));
  const cs = await cosSin(p, angles, 'attn.cos');
  // φ = [sin | cos] per token, f bits.
  const trig = await truncate(p, local(p, [4 * n * D], () => {
    const o = new BigUint64Array(4 * n * D);
    o.set(cs.sin.s);
    o.set(cs.cos.s, 2 * n * D);
    return o;
  }), cs.fracBits - f, 'attn.cos.trunc');
  const phiOf = (which: 0 | 1, transpose: boolean): Shared => local(p, transpose ? [2 * D, n] : [n, 2 * D], () => {
    const t = trig.s;
    const o = new BigUint64Array(2 * D * n);
    for (let i = 0; i < n; i++) {
      // qk̂ rows interleave q̂_i (row 2i) and k̂_i (row 2i + 1).
      const row = 2 * i + which;
      for (let j = 0; j < D; j++) {
        const sv = t[row * D + j]!;
        const cv = t[2 * n * D + row * D + j]!;
        if (transpose) {
          o[j * n + i] = sv;
          o[(D + j) * n + i] = cv;
        } else {
          o[i * 2 * D + j] = sv;
          o[i * 2 * D + D + j] = cv;
        }
      }
    }
    return o;
  });
  const phiQ = phiOf(0, false);
  const phiKT = phiOf(1, true);
  const one = local(p, [n, 1], () => new BigUint64Array(n).fill(p.index === 0 ? 1n << BigInt(f) : 0n));
  const v1 = hcat(p, cols(p, qkv, 2 * d, d), one);
  const [kv] = await matmulManyRaw(p, [phiKT], [v1], 'attn.kv');
  const kvT = await truncate(p, kv!, f, 'attn.kv.trunc');
  const [nd] = await matmulManyRaw(p, [phiQ], [kvT], 'attn.num');
  const ndT = await truncate(p, nd!, f, 'attn.num.trunc');
  const num = cols(p, ndT, 0, d);
  const den = cols(p, ndT, d, 1).reshape([n]);
  // den ≤ D·n (|φ(q)·φ(k)| ≤ D), clamped below at D·epsDen.
  const floor = D * EPS_DEN;
  const octaves = Math.ceil(Math.log2((D * n) / floor)) + 1;
  const invDen = await reciprocal(p, den, { floor, octaves }, 'attn.den');
  return truncate(p, await mulRaw(p, num, broadcastCols(p, invDen, d), 'attn.div'), f, 'attn.div.trunc');
}

async function softmaxLayer(p: Party, qkv: Shared, n: number): Promise<Shared> {
  const f = p.ring.fracBits;
  const d = D_MODEL;
  const [sc] = await matmulManyRaw(p, [cols(p, qkv, 0, d)], [cols(p, qkv, d, d, true)], 'attn.scores');
  const scores = await truncate(p, sc!, f, 'attn.scores.trunc');
  const probs = await softmax(p, scores, 'attn.softmax', { lo: -1, hi: Math.max(2, Math.ceil(Math.log2(n)) + 1) });
  const [ctx] = await matmulManyRaw(p, [probs], [cols(p, qkv, 2 * d, d)], 'attn.pv');
  return truncate(p, ctx!, f, 'attn.pv.trunc');
}

function attentionWorkload(kind: 'rfa' | 'softmax', n: number, heavy: boolean): Workload<AttnState> {
  const d = D_MODEL;
  return {
    id: `micro.attn.${kind}.${n}`,
    group: 'attention',
    title: `attention layer (${kind}), n = ${n}, d = ${d}, 1 head${kind === 'rfa' ? `, D = ${RFA_FEATURES}` : ''}`,
    heavy,
    mpc: true,
    roles: MPC_ROLES_WITH_MODEL,
    params: { kind, n, d, ...(kind === 'rfa' ? { features: RFA_FEATURES } : {}) },
    series: { name: 'attention-seq', variant: kind, x: n, xLabel: 'sequence length n' },
    async setup(ctx) {
      const be = ctx.backend;
      const f = ctx.ring.fracBits;
      const data = (): AttnData => attnData(be, n, kind);
      const x = await share(ctx, 'data', 'x', [n, d], () => be.encode(data().x, f));
      const wS = await share(ctx, 'model', 'w', [d, 3 * d], () => be.encode(data().wqkv, f));
      const w = ctx.party === null ? null : await fixWeight(ctx.party, wS!, 'w.fix');
      const kernel = be.angleScale(data().features, 2 * f);
      return { x, w, kernel, out: null };
    },
    async run(ctx, s) {
      const p = ctx.party;
      if (p === null) return;
      const qkv = await truncate(p, await matmulFixedRaw(p, s.x!, s.w!, 'attn.proj'), p.ring.fracBits, 'attn.proj.trunc');
      s.out = kind === 'rfa' ? await rfaLayer(p, qkv, s.kernel, n) : await softmaxLayer(p, qkv, n);
    },
    async check(ctx, s) {
      const got = await revealTo(ctx, 'data', 'out', s.out, n * d);
      if (got === null) return undefined;
      const ref = attnPlain(kind, attnData(ctx.backend, n, kind), n, (len) => new Float64Array(len));
      return { maxAbsError: maxAbsError(ctx.backend.decode(got, ctx.ring.fracBits), ref) };
    },
    plain: (be) => {
      const data = attnData(be, n, kind);
      const f32 = { x: Float32Array.from(data.x), wqkv: Float32Array.from(data.wqkv), features: Float32Array.from(data.features) };
      return { run: () => void attnPlain(kind, f32, n, (len) => new Float32Array(len)) };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------

/** Sequence lengths of the attention scaling curve; the longer ones only with --full. */
export const ATTENTION_LENGTHS = [32, 64, 128, 256, 512] as const;
const ATTENTION_LIGHT = 128;

export function microWorkloads(): Workload[] {
  const list: Workload<never>[] = [
    cosSinWorkload(1 << 16),
    cosSinCryptenWorkload(1 << 16),
    ltzWorkload(1 << 16),
    matmulWorkload(256, 768, 768),
  ] as Workload<never>[];
  for (const n of ATTENTION_LENGTHS) {
    for (const kind of ['rfa', 'softmax'] as const) list.push(attentionWorkload(kind, n, n > ATTENTION_LIGHT) as Workload<never>);
  }
  return list as Workload[];
}
