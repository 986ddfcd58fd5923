/**
 * The two attentions of the MPC forward (ts/model/mpc.ts), mirroring ts/model/plain.ts op for op, over all
 * S = C·B sequences and all heads at once so that the rounds do not depend on S:
 *
 * - rfaAttention (SecP-Tuning, Peng et al. 2021; PAPER-NOTES §3): q̂ = q·rsqrt(|q|² + epsNorm) per head (k̂
 *   likewise), angles q̂·Wᵀ in turns (local: W is public), sin/cos by the one-round cosine protocol, then per
 *   (sequence, head) S' = φ(K)ᵀ·[V | 1] over the unmasked keys and [num | den] = φ(Q)·S', out = num / den.
 *   62 rounds at the default ranges (29 in the rsqrt of |q|², 22 in the reciprocal of den; one more there once
 *   D·n > 2^14 widens its comparison past 33 bits), independent of the batch;
 *   communication O(S·n·heads·(D + dh)), no n×n matrix anywhere. With the 'exp' kernel (softmax's
 *   exp(q·k/√d), see ts/model/plain.ts) q' and k' come pre-scaled from the QKV product and the rsqrt is
 *   replaced by per-key weights: |k'|²/2, a tournament max over the n keys and one exp (12 squarings).
 * - softmaxAttention (the MPC baseline): scores Q·Kᵀ per (sequence, head), the padding mask as a large
 *   negative bias, softmax (tournament max, exp, reciprocal; masked scores must stay within |s| < 2^15, so its
 *   comparisons run at f + 17 bits), product with V. O(S·heads·n²) communication
 *   and 7·⌈log2 n⌉ + 51 rounds (100 at n = 128).
 *
 * Both take the truncated QKV projection [S·n, 3H] (f fractional bits) and return the context [S·n, H]. The
 * softmax context, a convex combination of value rows, leaves with 2f fractional bits: the output projection
 * then truncates once, by 2f (a round saved per layer; it needs |ctx·Wo| < 2^(62-3f), 2^14 at f = 16). v1 truncates
 * the RFA context to f bits first (with a clamped normaliser it is num/epsDen, which has no such bound of its own);
 * v2 leaves it at 2f too and needs |ctx·Wo| < 2^14 like the softmax path: ctx·Wo enters LayerNorm with the
 * residual, and the LayerNorm input variances measured on BERT and MiniLM reach 2^13.8 (|x − mean| of order 2^7),
 * clamped normalisers included.
 */
import { MaskedOpen, matmulManyRaw, mulRaw, mulRowsRaw, openMasked, rowSquaresRaw, squareRaw } from '../mpc/beaver.js';
import { cosSin } from '../mpc/cosine.js';
import { broadcastCols, exp, reciprocal, rowMax, rsqrt, softmax } from '../mpc/nonlinear.js';
import type { Party } from '../mpc/party.js';
import { Shared, addPublic, cat, local, sub } from '../mpc/shared.js';
import { truncate } from '../mpc/truncation.js';
import type { Shape } from '../ring/tensor.js';

/** Public shape of one attention call: `seqs` sequences of `n` tokens, `heads` heads of width `dh`. */
export interface AttentionDims {
  seqs: number;
  n: number;
  heads: number;
  dh: number;
}

/** The attention output [S·n, H] and its fractional bits (the output projection truncates by them). */
export interface Context {
  ctx: Shared;
  fracBits: number;
}

/** A [lo, hi) range of powers of two for rsqrt / reciprocal (see ts/mpc/nonlinear.ts). */
export interface Range {
  lo: number;
  hi: number;
}

export interface RfaSettings {
  /** 'normalized' (unit q, k) or 'exp' (softmax's kernel; see ts/model/plain.ts). */
  kernel: 'normalized' | 'exp';
  /** Random features D per head. */
  features: number;
  /**
   * K = angleScale(W, b) of every head of this layer, D × dh each, in turns: b = 2f for 'normalized' (q̂ keeps 2f
   * bits), f for 'exp' (q', k' straight from the QKV product).
   */
  kernels: readonly BigUint64Array[];
  epsNorm: number;
  /** Clamp of the normaliser: D·epsDen (φ carries no 1/√D here, see rfaAttention). */
  denFloor: number;
  /** |den| < denFloor·2^denOctaves (the reciprocal's comparisons need it); |den| ≤ D·n always, since |φ(q)·φ(k)| ≤ D. */
  denOctaves: number;
  /** Range of |q|² + epsNorm. */
  normRange: Range;
}

/** Columns [c0, c0 + w) of a [rows, stride] tensor (local copy). */
export function cols(p: Party, x: Shared, c0: number, w: number): Shared {
  const [rows, stride] = x.shape as [number, number];
  return local(p, [rows, w], () => {
    const src = x.s;
    const out = new BigUint64Array(rows * w);
    for (let r = 0; r < rows; r++) out.set(src.subarray(r * stride + c0, r * stride + c0 + w), r * w);
    return out;
  });
}

/**
 * The [n, w] blocks of every (sequence, head), sequence-major, taken from rows s·n.. and columns
 * c0 + h·w.. of a [seqs·n, stride] array (transposed to [w, n] with `transpose`).
 */
function headBlocks(p: Party, src: Shared | null, stride: number, c0: number, w: number, d: AttentionDims, transpose = false): Shared[] {
  const { seqs, n, heads } = d;
  const shape = transpose ? [w, n] : [n, w];
  const out: Shared[] = [];
  for (let s = 0; s < seqs; s++) {
    for (let h = 0; h < heads; h++) {
      out.push(
        local(p, shape, () => {
          const x = src!.s;
          const b = new BigUint64Array(n * w);
          for (let t = 0; t < n; t++) {
            const at = (s * n + t) * stride + c0 + h * w;
            if (!transpose) b.set(x.subarray(at, at + w), t * w);
            else for (let c = 0; c < w; c++) b[c * n + t] = x[at + c]!;
          }
          return b;
        }),
      );
    }
  }
  return out;
}

/** Inverse of headBlocks for [n, w] blocks given as one flat array: back to [seqs·n, heads·w]. */
function fromHeadBlocks(p: Party, flat: Shared, w: number, d: AttentionDims): Shared {
  const { seqs, n, heads } = d;
  const H = heads * w;
  return local(p, [seqs * n, H], () => {
    const x = flat.s;
    const out = new BigUint64Array(seqs * n * H);
    for (let s = 0; s < seqs; s++) {
      for (let h = 0; h < heads; h++) {
        const block = (s * heads + h) * n * w;
        for (let t = 0; t < n; t++) out.set(x.subarray(block + t * w, block + (t + 1) * w), (s * n + t) * H + h * w);
      }
    }
    return out;
  });
}

/** Splits a flat tensor into consecutive pieces of the given shapes (views). */
function split(p: Party, flat: Shared, shapes: readonly Shape[]): Shared[] {
  let off = 0;
  return shapes.map((shape) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const piece = local(p, shape, () => flat.s.subarray(off, off + size));
    off += size;
    return piece;
  });
}

/**
 * RFA (see the file header). `mask` holds integer 0/1 shares per token ([S·n]); masked keys are removed by
 * zeroing their rows of [V | 1], so φ of a padded key meets only zeros. φ omits plain.ts's 1/√D, which cancels
 * between num and den; den therefore is D times plain's, and the clamp is D·epsDen.
 *
 * Scales: q̂, k̂ keep 2f fractional bits (the product q·rsqrt is not truncated; the angle kernels are scaled for
 * 2f bits, and the angle wraps mod one turn exactly), sin/cos come out with 2f bits and are truncated to f
 * once, S' and [num | den] are truncated to f after their products (|S'| ≤ n·max|v|, |num| ≤ D·n·max|v| at 2f
 * bits stay far below 2^62), and the quotient leaves with 2f bits (v1 truncates it to f).
 */
export async function rfaAttention(p: Party, qkv: Shared, mask: Shared, d: AttentionDims, o: RfaSettings, op: string): Promise<Context> {
  const { seqs, n, heads, dh } = d;
  const f = p.ring.fracBits;
  const H = heads * dh;
  const N = seqs * n;
  const D = o.features;
  const S = seqs * heads;
  const qk = cols(p, qkv, 0, 2 * H);
  // [V | 1] per (token, head): [N·heads, dh + 1], f bits.
  const v1 = local(p, [N * heads, dh + 1], () => {
    const x = qkv.s;
    const out = new BigUint64Array(N * heads * (dh + 1));
    const one = p.index === 0 ? 1n << BigInt(f) : 0n;
    for (let r = 0; r < N; r++) {
      for (let h = 0; h < heads; h++) {
        const at = r * 3 * H + 2 * H + h * dh;
        const to = (r * heads + h) * (dh + 1);
        out.set(x.subarray(at, at + dh), to);
        out[to + dh] = one;
      }
    }
    return out;
  });
  // Feature inputs [N, 2H] (q then k; fractional bits as the kernels expect) and the weighted [V | 1] (f bits).
  const { qkIn, vm } = o.kernel === 'exp' ? await expWeights(p, qk, v1, mask, d, op) : await normalizedInputs(p, qk, v1, mask, d, o, op);

  // Angles in turns, local: per head, queries as [N, D] and keys transposed as [D, N].
  const be = p.ring.backend;
  const angles = local(p, [2 * heads * N * D], () => {
    const out = new BigUint64Array(2 * heads * N * D);
    for (let h = 0; h < heads; h++) {
      const k = o.kernels[h]!;
      const qh = cols(p, qkIn, h * dh, dh).s;
      const kh = cols(p, qkIn, H + h * dh, dh).s;
      out.set(be.matmulBT(qh, k, N, dh, D), h * N * D);
      out.set(be.matmulBT(k, kh, D, dh, N), (heads + h) * N * D);
    }
    return out;
  });
  // [sin | cos] of every angle, f bits.
  // |sin|, |cos| ≤ 1 + 2^-15 with 2f bits: below 2^(2f+1), so v2 needs them mod 2^(2f+4) only (the dealer's
  // cos t, sin t too) and truncates them from that ring.
  const ring = p.protocols === 'v1' ? 64 : 2 * f + 4;
  const cs = await cosSin(p, angles, `${op}.cos`, f, ring);
  const trig = await truncate(p, cat(p, [cs.sin, cs.cos]), cs.fracBits - f, `${op}.cos.trunc`, { from: ring });
  const sinAt = 0;
  const cosAt = 2 * heads * N * D;

  // Per (sequence, head): φ(K)ᵀ [2D, n], mask·[V | 1] [n, dh + 1], φ(Q) [n, 2D].
  const phiKT: Shared[] = [];
  const vBlocks = headBlocks(p, vm, heads * (dh + 1), 0, dh + 1, d);
  const phiQ: Shared[] = [];
  for (let s = 0; s < seqs; s++) {
    for (let h = 0; h < heads; h++) {
      phiKT.push(
        local(p, [2 * D, n], () => {
          const x = trig.s;
          const b = new BigUint64Array(2 * D * n);
          const keys = (heads + h) * N * D + s * n;
          for (let j = 0; j < D; j++) {
            b.set(x.subarray(sinAt + keys + j * N, sinAt + keys + j * N + n), j * n);
            b.set(x.subarray(cosAt + keys + j * N, cosAt + keys + j * N + n), (D + j) * n);
          }
          return b;
        }),
      );
      phiQ.push(
        local(p, [n, 2 * D], () => {
          const x = trig.s;
          const b = new BigUint64Array(n * 2 * D);
          const rows = h * N * D + s * n * D;
          for (let t = 0; t < n; t++) {
            b.set(x.subarray(sinAt + rows + t * D, sinAt + rows + (t + 1) * D), t * 2 * D);
            b.set(x.subarray(cosAt + rows + t * D, cosAt + rows + (t + 1) * D), t * 2 * D + D);
          }
          return b;
        }),
      );
    }
  }
  const kv = await matmulManyRaw(p, phiKT, vBlocks, `${op}.kv`);
  const kvT = await truncate(p, cat(p, kv), f, `${op}.kv.trunc`);
  const kvBlocks = split(p, kvT, Array.from({ length: S }, () => [2 * D, dh + 1]));
  const nd = await matmulManyRaw(p, phiQ, kvBlocks, `${op}.qkv`);
  // [num | den] of every (sequence, head, query): [S·n, dh + 1], f bits.
  const ndT = (await truncate(p, cat(p, nd), f, `${op}.qkv.trunc`)).reshape([S * n, dh + 1]);
  const num = cols(p, ndT, 0, dh);
  const den = cols(p, ndT, dh, 1).reshape([S * n]);
  const invDen = await reciprocal(p, den, { floor: o.denFloor, octaves: o.denOctaves }, `${op}.den`);
  const [quot] = await mulRowsRaw(p, [[num, invDen]], `${op}.div`);
  if (p.protocols !== 'v1') return { ctx: fromHeadBlocks(p, quot!, dh, d), fracBits: 2 * f };
  const out = await truncate(p, quot!, f, `${op}.div.trunc`);
  return { ctx: fromHeadBlocks(p, out, dh, d), fracBits: f };
}

/** 'normalized': q̂ = q·rsqrt(|q|² + epsNorm), k̂ likewise (2f bits), and mask·[V | 1] (f bits), in one product round. */
async function normalizedInputs(p: Party, qk: Shared, v1: Shared, mask: Shared, d: AttentionDims, o: RfaSettings, op: string): Promise<{ qkIn: Shared; vm: Shared }> {
  const { seqs, n, heads, dh } = d;
  const be = p.ring.backend;
  const f = p.ring.fracBits;
  const H = heads * dh;
  const N = seqs * n;
  // |q|², |k|² per (token, head): [N, 2H] is [N·2·heads, dh] row-major, so a row sum gives them all.
  // v2 opens q and k once (masked): |q|², |k|² and the products q·rsqrt, k·rsqrt all reuse that mask.
  let qkm: Shared | MaskedOpen = qk;
  let sums: Shared;
  if (p.protocols === 'v1') {
    const sq = await squareRaw(p, qk, `${op}.norm.sq`);
    sums = local(p, [N * 2 * heads], () => be.sumAxis(sq.s, N * 2 * heads, dh, 1));
  } else {
    qkm = await openMasked(p, qk, `${op}.norm.sq`);
    sums = await rowSquaresRaw(p, qkm, N * 2 * heads, `${op}.norm.sq`);
  }
  const norm2 = await truncate(p, addPublic(p, sums, be.encode(Float64Array.of(o.epsNorm), 2 * f)), f, `${op}.norm.trunc`);
  const inv = await rsqrt(p, norm2, o.normRange, `${op}.norm.rsqrt`);
  const prod = cat(p, await mulRowsRaw(p, [[qkm, inv], [v1, mask]], `${op}.scale`));
  const [qkIn, vm] = split(p, prod, [[N, 2 * H], [N * heads, dh + 1]]) as [Shared, Shared];
  return { qkIn, vm };
}

/**
 * Squarings of the key weights' exp: a key weight multiplies a Gaussian kernel value that may be large where a
 * is small, so a's relative error matters (12% at a = e^-8 with softmax's 8 squarings, 0.8% with 12).
 */
export const RFA_EXP_SQUARINGS = 12;

/** Softmax-sized bias that removes a padded key from the 'exp' kernel's max (its weight then clips to 0). */
export const RFA_EXP_MASK_BIAS = 4096;

/**
 * 'exp': q' and k' come scaled by d^(-1/4) from the QKV product (f bits, the model owner folds the scale into
 * Wq, bq, Wk, bk), and each key gets the weight a = exp(|k'|²/2 - m), m the largest |k'|²/2 of the unmasked
 * keys of its (sequence, head): a tournament max over n (comparisons at f + 17 bits: |k'|²/2 < 2^14 and the
 * padding bias 4096 keep differences below 2^15) and one exp (clipped at -16, where padded keys land: a = 0,
 * so no mask product is needed). Then a·[V | 1] (f bits).
 */
async function expWeights(p: Party, qk: Shared, v1: Shared, mask: Shared, d: AttentionDims, op: string): Promise<{ qkIn: Shared; vm: Shared }> {
  const { seqs, n, heads, dh } = d;
  const be = p.ring.backend;
  const f = p.ring.fracBits;
  const H = heads * dh;
  const N = seqs * n;
  const sq = await squareRaw(p, cols(p, qk, H, H), `${op}.key.sq`);
  // |k'|²/2 per (token, head), f bits.
  const half = await truncate(p, local(p, [N * heads], () => be.sumAxis(sq.s, N * heads, dh, 1)), f + 1, `${op}.key.trunc`);
  const big = be.encode(Float64Array.of(RFA_EXP_MASK_BIAS), f)[0]!;
  // Rows (sequence, head) of n keys, plus (mask - 1)·bias.
  const rows = local(p, [seqs * heads, n], () => {
    const x = half.s;
    const m = mask.s;
    const out = new BigUint64Array(seqs * heads * n);
    const bias = p.index === 0 ? big : 0n;
    for (let s = 0; s < seqs; s++) {
      for (let t = 0; t < n; t++) {
        const pad = BigInt.asUintN(64, m[s * n + t]! * big - bias);
        for (let h = 0; h < heads; h++) out[(s * heads + h) * n + t] = BigInt.asUintN(64, x[(s * n + t) * heads + h]! + pad);
      }
    }
    return out;
  });
  const bits = Math.min(64, f + 17);
  const max = await rowMax(p, rows, `${op}.key.max`, bits);
  const a = await exp(p, sub(p, rows, broadcastCols(p, max, n)), `${op}.key.exp`, bits, RFA_EXP_SQUARINGS);
  // Back to [N·heads] order, repeated over the dh + 1 columns of [V | 1].
  const weights = local(p, [N * heads, dh + 1], () => {
    const x = a.s;
    const out = new BigUint64Array(N * heads * (dh + 1));
    for (let s = 0; s < seqs; s++) {
      for (let h = 0; h < heads; h++) {
        for (let t = 0; t < n; t++) out.fill(x[(s * heads + h) * n + t]!, ((s * n + t) * heads + h) * (dh + 1), ((s * n + t) * heads + h + 1) * (dh + 1));
      }
    }
    return out;
  });
  const vm = await truncate(p, await mulRaw(p, v1, weights, `${op}.key.weight`), f, `${op}.key.weight.trunc`);
  return { qkIn: qk, vm };
}

/** Range of a softmax row sum over n keys (the max key contributes 1, so the sum is in [1, n]). */
export function softmaxSumRange(n: number): Range {
  return { lo: -1, hi: Math.max(2, Math.ceil(Math.log2(n)) + 1) };
}

/**
 * Softmax attention (the baseline). The caller pre-scales Wq and bq by 1/√dh (model owner, in the clear), so
 * scores need no extra multiply. `maskBias` holds f-bit shares per token of 0 (real) or -bias (padding), added
 * to every score of that key: exp then clips it to e^-16, which is 0 at f = 16.
 */
export async function softmaxAttention(p: Party, qkv: Shared, maskBias: Shared, d: AttentionDims, op: string): Promise<Context> {
  const { seqs, n, heads, dh } = d;
  const be = p.ring.backend;
  const f = p.ring.fracBits;
  const H = heads * dh;
  const S = seqs * heads;
  const q = headBlocks(p, qkv, 3 * H, 0, dh, d);
  const kT = headBlocks(p, qkv, 3 * H, H, dh, d, true);
  const v = headBlocks(p, qkv, 3 * H, 2 * H, dh, d);
  const scores = await truncate(p, cat(p, await matmulManyRaw(p, q, kT, `${op}.scores`)), f, `${op}.scores.trunc`);
  const masked = local(p, [S * n, n], () => {
    const bias = new BigUint64Array(S * n * n);
    const m = maskBias.s;
    for (let s = 0; s < seqs; s++) {
      const keys = m.subarray(s * n, (s + 1) * n);
      for (let r = 0; r < heads * n; r++) bias.set(keys, (s * heads * n + r) * n);
    }
    return be.add(scores.s, bias);
  });
  const probs = await softmax(p, masked, `${op}.softmax`, softmaxSumRange(n));
  const pBlocks = split(p, probs, Array.from({ length: S }, () => [n, n]));
  const ctx = await matmulManyRaw(p, pBlocks, v, `${op}.pv`);
  return { ctx: fromHeadBlocks(p, cat(p, ctx), dh, d), fracBits: 2 * f };
}
