/**
 * Non-linear functions on shares, built from Beaver products, truncation and comparison.
 * Each states its rounds, bytes and accuracy; tests check the accuracy over the stated range.
 *
 * Comparisons (ltz, ts/mpc/compare.ts) run at the narrowest width k their inputs allow (exact for
 * |v| < 2^(k−1−f) in real value); each function states its bound. Costs at f = 16 are in docs/protocols.md.
 * - exp (softmax baseline, as CrypTen): (1 + x/2^8)^(2^8), 8 squarings. 17 rounds, 136 B/element.
 *   For softmax inputs x ≤ 0: absolute error ≤ 2e-3 (the formula is off by ≈ e^x·x²/512, at most
 *   1.1e-3 at x = -2, plus fixed point); inputs are clipped to ≥ -16 first
 *   (8 more rounds at full width) so that 1 + x/256 never goes negative.
 * - reciprocal / rsqrt over a declared range [2^lo, 2^hi): thresholds 2^j give bits [x ≥ 2^j] in ONE
 *   batched comparison (at width hi + f + 2: exact for every |x| < 2^hi); their one-hot difference picks a
 *   public scale s = 2^-(j+1) with x·s in [0.5, 1), where Newton from a linear start converges in 3 steps.
 *   Relative error ≲ 2^-12 (bounded by the f = 16 fixed point). 22 rounds (reciprocal), 29 (rsqrt) on the
 *   defaults; bytes per element (hi − lo)·L + 192 (reciprocal), + 248 (rsqrt), with L the bytes of one
 *   comparison at width hi + f + 2 (8.625 at 30 bits). The scales are applied with 2f-bit
 *   constants, so the whole declared range up to 2^30 works. reciprocal also takes a clamp `floor` (any
 *   positive real): it then returns 1/max(x, floor) for |x| < floor·2^octaves, negative x included, at no
 *   extra cost (the RFA normaliser's epsDen).
 * - GELU: 0 below -4, x above 4, between 0.5x + P(u²) with u = x/4 and P of degree 6 fitted by least
 *   squares to 0.5x·erf(x/√2) at start-up, evaluated Paterson–Stockmeyer style (v = u², v², v³, one product
 *   for the high half). The fit is within 2.1e-3 of erf-GELU; fixed-point evaluation adds ≤ 1e-3 (6.9e-4
 *   measured over 6·10^5 points of [-5, 5]), so |error| ≤ 3e-3 (2.0e-3 measured) for every |x| < 2^15 − 4 (its
 *   comparisons' bound; checked in tests). 15 rounds (v1). v2 (default) replaces the polynomial by a cosine series
 *   of the even part, 0.5x + Σ_{j≤5} c_j cos(2πjx/12) (fit within 6.8e-4 of erf-GELU), evaluated like the
 *   private cosine: one masked opening and the dealer's shares of c_j cos(2πjt), c_j sin(2πjt); with coarse
 *   segment tests from one opening and a masked-bit selection: 9 rounds and 161.375 bytes per element in all (v1:
 *   407.25; see gelu).
 * - layerNorm over the last axis with secret gamma/beta (fixed-weight products). 37 rounds.
 * - max over rows by a tournament (log2 n levels of comparison + select), softmax (baseline only).
 */
import { Matrix, solve } from 'ml-matrix';
import { SecpError } from '../../bindings/errors.js';
import { mul, mulFixedRowRaw, mulRaw, mulRowsRaw, openMasked, rowSquaresRaw, squareRaw, type FixedWeight } from './beaver.js';
import { ltz, ltzMasked, ltzShifts, selectMasked, type MaskedBit } from './compare.js';
import type { Party, ProtocolVersion } from './party.js';
import { Shared, add, addPublic, addRow, concatRows, mulInt, sub } from './shared.js';
import { truncate } from './truncation.js';
import { unzeroed } from '../../bindings/fresh.js';

function enc(p: Party, v: number): bigint {
  return p.ring.backend.encode(Float64Array.of(v), p.ring.fracBits)[0]!;
}

/** x · c for a public real c: local product then truncation (1 round). */
export async function mulConst(p: Party, x: Shared, c: number, op = 'mulconst'): Promise<Shared> {
  return truncate(p, mulInt(p, x, enc(p, c)), p.ring.fracBits, op);
}

function addConst(p: Party, x: Shared, c: number): Shared {
  return addPublic(p, x, BigUint64Array.of(enc(p, c)));
}

function flat(x: Shared): Shared {
  return x.reshape([x.size]);
}

/**
 * e^x (CrypTen's limit approximation (1 + x/2^s)^(2^s), s = `squarings`, default 8), after clipping x to ≥ -16.
 * `bits` is the width of the clip's comparison (ltz): exact for every x by default; k needs
 * |x + 16| < 2^(k-1-f). For x ≤ 0 the result is e^x·e^(-x²/2^(s+1)) to first order: relative error 12% at
 * x = -8 for s = 8, 0.8% for s = 12 (4 more rounds; the base then carries f + 12 ≤ 31 fractional bits).
 */
export async function exp(p: Party, x: Shared, op = 'exp', bits = 64, squarings = 8): Promise<Shared> {
  if (!Number.isInteger(squarings) || squarings < 1 || p.ring.fracBits + squarings > 31) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `${op}: squarings must be an integer in 1..${31 - p.ring.fracBits}, got ${squarings}`);
  }
  const below = await ltzMasked(p, addConst(p, x, 16), `${op}.clip`, { bits });
  // x < -16 → -16 (e^-16 ≈ 1e-7 is 0 at f = 16)
  const lo = addConst(p, new Shared(x.shape, p.isDealer ? null : new BigUint64Array(x.size)), -16);
  const clipped = await selectMasked(p, below, lo, x, `${op}.sel`);
  // The base 1 + x/2^s is kept with f + s fractional bits: x's ring value already *is* x/2^s there,
  // so no precision is lost before the 2^s-fold amplification of the squarings.
  const hi = p.ring.fracBits + squarings;
  let y = addPublic(p, clipped, BigUint64Array.of(1n << BigInt(hi)));
  for (let i = 0; i < squarings; i++) y = await truncate(p, await squareRaw(p, y, `${op}.sq`), hi, `${op}.sq.trunc`);
  y = await truncate(p, y, squarings, `${op}.scale`);
  return y;
}

interface Normalized {
  /** x · s in [0.5, 1) (where x is in range). */
  xn: Shared;
  /** Integer 0/1 shares: onehot[j] = [base·2^j ≤ x < base·2^(j+1)]; the last entry is [x < base]. */
  onehot: Shared[];
}

function checkRange(lo: number, hi: number, f: number): void {
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo >= hi || lo < -f || hi > 62 - 2 * f) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `range exponents must be integers with -${f} ≤ lo < hi ≤ ${62 - 2 * f}, got [${lo}, ${hi})`);
  }
}

/**
 * Scales positive x into [0.5, 1) with a public scale chosen by one batched comparison against the thresholds
 * base·2^j, j < k. With `clamp`, x below `base` is treated as `base` (bucket 0 with xn = 0.5) at no extra round.
 */
async function normalize(p: Party, x: Shared, base: number, k: number, op: string, clamp = false): Promise<Normalized> {
  const n = x.size;
  // bits[j] = [x ≥ base·2^j] = 1 - [x - base·2^j < 0], for j = 0..k-1, all in one comparison. For |x| < base·2^k
  // (the whole domain, below-range and negative values included) |x - base·2^j| < base·2^(k+1): the comparison
  // is exact at width ⌈log2 base⌉ + k + f + 2.
  const shifted = concatRows(p, Array.from({ length: k }, (_, j) => flat(addConst(p, x, -(base * 2 ** j)))));
  const lt = await ltz(p, shifted, `${op}.cmp`, { bits: Math.min(64, Math.ceil(Math.log2(base)) + k + p.ring.fracBits + 2) });
  const bits = Array.from({ length: k }, (_, j) => addPublic(p, mulInt(p, lt.rows(j * n, (j + 1) * n), -1n), BigUint64Array.of(1n)));
  const onehot: Shared[] = [];
  for (let j = 0; j < k; j++) onehot.push(j + 1 < k ? sub(p, bits[j]!, bits[j + 1]!) : bits[j]!);
  onehot.push(addPublic(p, mulInt(p, bits[0]!, -1n), BigUint64Array.of(1n)));
  // s = Σ_j onehot_j · 1/(base·2^(j+1)); below range, s = 1/base (x·s < 0.5 there: out of range), or 0 with clamp.
  let xn = await mulSelected(p, x, onehot, (j) => (j < k ? 1 / (base * 2 ** (j + 1)) : clamp ? 0 : 1 / base), 1, `${op}.scale`);
  if (clamp) xn = add(p, xn, mulInt(p, onehot[k]!, enc(p, 0.5)));
  return { xn, onehot };
}

/**
 * y · Σ_j onehot_j · c(j) for public reals c(j) (2 rounds). The constants are encoded with up to 2f fractional
 * bits, as many as keep |y·c| ≤ `bound` below 2^62 before the truncation: scales down to 2^-30 (ranges up to
 * 2^30) would round to zero or lose most of their bits at f = 16.
 */
async function mulSelected(p: Party, y: Shared, onehot: Shared[], c: (j: number) => number, bound: number, op: string): Promise<Shared> {
  const f = p.ring.fracBits;
  const bits = Math.max(f, Math.min(2 * f, 61 - f - Math.ceil(Math.log2(bound))));
  let s = new Shared([y.size], p.isDealer ? null : new BigUint64Array(y.size));
  onehot.forEach((o, j) => {
    s = add(p, s, mulInt(p, o, p.ring.backend.encode(Float64Array.of(c(j)), bits)[0]!));
  });
  return truncate(p, await mulRaw(p, flat(y), s, op), bits, `${op}.trunc`);
}

/**
 * 1/x for x in [2^lo, 2^hi) (positive; the comparisons are exact for |x| < 2^hi). Defaults suit the RFA
 * normaliser and LayerNorm variances.
 * With `floor` (and `octaves`): 1/max(x, floor) for every |x| < floor·2^octaves, negative x included (the clamp
 * costs no extra round: below-range values join the lowest bucket as x = floor).
 */
export async function reciprocal(
  p: Party,
  x: Shared,
  opts: { lo?: number; hi?: number; floor?: number; octaves?: number } = {},
  op = 'recip',
): Promise<Shared> {
  const f = p.ring.fracBits;
  const clamp = opts.floor !== undefined;
  let base: number;
  let k: number;
  if (clamp) {
    base = opts.floor!;
    k = opts.octaves ?? 0;
    if (!(base >= 2 ** -f) || !Number.isInteger(k) || k < 1 || !(base * 2 ** k <= 2 ** (62 - 2 * f))) {
      throw new SecpError('ERR_INVALID_ARGUMENT', `reciprocal: need floor ≥ 2^-${f}, integer octaves ≥ 1 and floor·2^octaves ≤ 2^${62 - 2 * f}, got floor ${base}, octaves ${opts.octaves}`);
    }
  } else {
    const { lo = -8, hi = 12 } = opts;
    checkRange(lo, hi, f);
    base = 2 ** lo;
    k = hi - lo;
  }
  const { xn, onehot } = await normalize(p, x, base, k, op, clamp);
  // Newton y ← y(2 - xn·y) from y0 = 2.9142 - 2·xn (max relative error 0.086 on [0.5, 1)).
  let y = addConst(p, mulInt(p, xn, -2n), 2.9142);
  for (let i = 0; i < 3; i++) {
    const t = addConst(p, mulInt(p, await mul(p, xn, y, `${op}.nr`), -1n), 2);
    y = await mul(p, y, t, `${op}.nr`);
  }
  // 1/x = s · 1/(x·s), with the same (rounded) s as in normalize.
  const s = (j: number) => (j < k ? 1 / (base * 2 ** (j + 1)) : clamp ? 1 / (2 * base) : 1 / base);
  return (await mulSelected(p, y, onehot, s, 2 / base, `${op}.unscale`)).reshape(x.shape);
}

/** 1/√x for x in [2^lo, 2^hi) (the comparisons are exact for |x| < 2^hi). */
export async function rsqrt(p: Party, x: Shared, opts: { lo?: number; hi?: number } = {}, op = 'rsqrt'): Promise<Shared> {
  const { lo = -12, hi = 12 } = opts;
  checkRange(lo, hi, p.ring.fracBits);
  const { xn, onehot } = await normalize(p, x, 2 ** lo, hi - lo, op);
  // Newton y ← y(3 - xn·y²)/2 from the chord of 1/√x on [0.5, 1] shifted to balance the error.
  let y = addConst(p, await mulConst(p, xn, -0.8284, `${op}.init`), 1.8284 + 0.0153);
  for (let i = 0; i < 3; i++) {
    const y2 = await truncate(p, await squareRaw(p, y, `${op}.nr`), p.ring.fracBits, `${op}.nr.trunc`);
    const t = addConst(p, mulInt(p, await mul(p, xn, y2, `${op}.nr`), -1n), 3);
    y = await truncate(p, await mulRaw(p, y, t, `${op}.nr`), p.ring.fracBits + 1, `${op}.nr.trunc`);
  }
  // x·s in [0.5, 1) with s = 2^-(lo+j+1), so 1/√x = √s · 1/√(x·s).
  const sqrtS = (j: number) => (j < hi - lo ? 2 ** (-(lo + j + 1) / 2) : 2 ** (-lo / 2));
  return (await mulSelected(p, y, onehot, sqrtS, 1.5 * 2 ** (-lo / 2), `${op}.unscale`)).reshape(x.shape);
}

const GELU_L = 4;
/** GELU's comparisons are exact for |x ± 4| < 2^GELU_BOUND_BITS (real value). */
const GELU_BOUND_BITS = 15;
const GELU_DEGREE = 6;
/** Least-squares coefficients d_k of 0.5·x·erf(x/√2) ≈ Σ d_k u^(2k), u = x/4, on a fine grid. */
export const GELU_COEFFS: readonly number[] = fitGelu();

function erf(x: number): number {
  // Numerical Recipes erfc (Chebyshev), relative error < 1.2e-7: ample for a fit to 2e-3.
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
    + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - r : r - 1;
}

/** The plaintext GELU (exact, via erf) the approximation is measured against. */
export function geluExact(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/**
 * The same piecewise function in float64, the plaintext reference of the MPC GELU of protocol version
 * `version`: v2's cosine series (default) or v1's polynomial.
 */
export function geluApprox(x: number, version: ProtocolVersion = 'v2'): number {
  if (x < -GELU_L) return 0;
  if (x > GELU_L) return x;
  let acc = 0;
  if (version === 'v2') {
    for (let j = 0; j < GELU_SERIES.length; j++) acc += GELU_SERIES[j]! * Math.cos((2 * Math.PI * j * x) / GELU_PERIOD);
  } else {
    const u2 = (x / GELU_L) ** 2;
    for (let k = GELU_COEFFS.length - 1; k >= 0; k--) acc = acc * u2 + GELU_COEFFS[k]!;
  }
  return 0.5 * x + acc;
}

/** v2 GELU: the period of its cosine series (its segment [−4, 4] plus the bands fits in half a period). */
const GELU_PERIOD = 12;
/** v2 GELU: the highest frequency j of its cosine series. */
export const GELU_TERMS = 5;
/** v2 GELU: least-squares c_j of 0.5·x·erf(x/√2) ≈ Σ_{j ≤ GELU_TERMS} c_j cos(2πjx/GELU_PERIOD) on [0, 4 + 2^-6]. */
export const GELU_SERIES: readonly number[] = fitGeluSeries();

function fitGeluSeries(): number[] {
  return fitEvenPart(GELU_L + 2 ** -6, (x) => Array.from({ length: GELU_TERMS + 1 }, (_, j) => Math.cos((2 * Math.PI * j * x) / GELU_PERIOD)));
}

/** Least-squares coefficients of GELU's even part 0.5·x·erf(x/√2) in `basis` on 2001 points of [0, end]. */
function fitEvenPart(end: number, basis: (x: number) => number[]): number[] {
  const xs = Array.from({ length: 2001 }, (_, i) => (end * i) / 2000);
  const h = Matrix.columnVector(xs.map((x) => 0.5 * x * erf(x / Math.SQRT2)));
  return solve(new Matrix(xs.map(basis)), h).to1DArray();
}

function fitGelu(): number[] {
  return fitEvenPart(GELU_L, (x) => Array.from({ length: GELU_DEGREE + 1 }, (_, k) => (x / GELU_L) ** (2 * k)));
}

/**
 * GELU of x. Inputs must satisfy |x| < 2^15 − 5 (32763; BERT's FFN pre-activations stay within a few tens).
 * Within that bound x > 4 gives exactly x and x < -4 exactly 0, even where the series wraps around.
 * v2 (default):
 * - the segment tests [x < −4] and [x < 4] are coarse comparisons of y = x + 4 against 0 and 8 sharing one opening
 *   (ltzShifts, `drop` = fx − 6, width 22 at any f): exact outside the bands [−4, −4 + 2^-6) and [4, 4 + 2^-6),
 *   where either side is within 1.4e-4 of GELU;
 * - on the segment, 0.5x + Σ_{j ≤ 5} c_j cos(2πjx/12) (geluEven): 2 rounds;
 * - the selection multiplies by the comparisons' masked bits with one opening (geluSelect).
 * `scale` 2: x and the result carry 2f fractional bits (the FFN's untruncated pre-activation), same cost.
 * 9 rounds; 161.375 bytes per element in all, 159.5 at scale 2 (docs/protocols.md; bench/analytic.ts checks them
 * against the meter).
 */
export async function gelu(p: Party, x: Shared, op = 'gelu', scale: 1 | 2 = 1): Promise<Shared> {
  if (scale !== 1 && scale !== 2) throw new SecpError('ERR_INVALID_ARGUMENT', `${op}: the input's scale must be 1 or 2 (f or 2f fractional bits), got ${scale}`);
  if (p.protocols === 'v1') {
    if (scale !== 1) throw new SecpError('ERR_INVALID_ARGUMENT', `${op}: v1 GELU takes f fractional bits only`);
    return geluV1(p, x, op);
  }
  const fx = scale * p.ring.fracBits;
  const xf = flat(x);
  const drop = GELU_DROP(fx);
  const four = BigUint64Array.of(p.ring.backend.encode(Float64Array.of(GELU_L), fx)[0]!);
  // [x < -4] = [y < 0] and [x < 4] = [y − 8 < 0] for y = x + 4, one opening (ltzShifts; 8 is 2^(fx − drop + 3)
  // after the drop).
  const cmp = await ltzShifts(p, addPublic(p, xf, four), [0n, 1n << BigInt(fx - drop + 3)], `${op}.cmp`,
    { bits: fx + GELU_BOUND_BITS + 1 - drop, drop });
  const even = await geluEven(p, xf, fx, `${op}.even`);
  return (await geluSelect(p, cmp, even, xf, `${op}.sel`)).reshape(x.shape);
}

/**
 * v2 GELU's selection inner + [x ≥ 4]·(x − inner) − [x < −4]·inner, with [x ≥ 4]·y = y − [x < 4]·y, for the
 * comparisons' masked bits b = z ⊕ ρ (rows: [x < −4], [x < 4]), so b·y = z·y + (1 − 2z)·ρy with z public. ρ·y
 * takes one opening, of inner − α: the series' opening d = c·x + t (c odd) already makes x − α_x = c⁻¹·d public
 * (α_x = −c⁻¹·t), so x − inner is public up to α_x − α. The dealer deals ρ_below·α and ρ_less4·(α_x − α).
 * 1 round; per element 8 bytes per server, 16 from the dealer.
 */
async function geluSelect(p: Party, cmp: MaskedBit, even: GeluEven, xf: Shared, op: string): Promise<Shared> {
  const be = p.ring.backend;
  const n = xf.size;
  const rhoB = cmp.rho.subarray(0, n);
  const rhoL = cmp.rho.subarray(n, 2 * n);
  const alpha = p.mask(op, n);
  const c = await p.deal(`${op}.c`, 2 * n, () => {
    const v = unzeroed(BigUint64Array, 2 * n);
    be.mul(rhoB, alpha, v.subarray(0, n));
    be.mul(rhoL, be.sub(even.alphaX!, alpha), v.subarray(n));
    return v;
  });
  if (p.isDealer) return new Shared([n], null);
  const inner = even.inner.s;
  const [e] = await p.open(op, be.sub(inner, alpha));
  const times = (z: BigUint64Array, y: BigUint64Array, rhoY: BigUint64Array) => be.add(be.mul(z, y), be.sub(rhoY, be.scalarMul(be.mul(z, rhoY), 2n)));
  const belowInner = times(cmp.z!.subarray(0, n), inner, be.add(be.mul(rhoB, e!), c.subarray(0, n)));
  const xMinusInner = be.sub(xf.s, inner);
  const less4Diff = times(cmp.z!.subarray(n, 2 * n), xMinusInner, be.add(be.mul(rhoL, be.sub(even.xMasked!, e!)), c.subarray(n, 2 * n)));
  // inner + (x − inner) − [x < 4]·(x − inner) − [x < −4]·inner
  return new Shared([n], be.sub(be.sub(xf.s, less4Diff), belowInner));
}

/** v2 GELU: low bits its segment tests drop (a band of 2^-6 around ±4). */
const GELU_DROP = (fx: number) => fx - 6;
/** v2 GELU: the ring the series is summed in before its truncation (|0.5x + g(x)|·2^2f < 2^(2f+3) on the segment): 38 at f = 16. */
export const GELU_SERIES_RING = (f: number) => 2 * f + 6;

/** geluEven's result: the series on the segment, and x's masked value for the selection. */
interface GeluEven {
  inner: Shared;
  /** Servers: x − α_x = c⁻¹·d, public; dealer: null. */
  xMasked: BigUint64Array | null;
  /** Dealer: α_x = −c⁻¹·t; servers: null. */
  alphaX: BigUint64Array | null;
}

/** c⁻¹ mod 2^64 of an odd c (Newton: each step doubles the correct low bits). */
function inverseMod64(c: bigint): bigint {
  let inv = c;
  for (let i = 0; i < 6; i++) inv = BigInt.asUintN(64, inv * (2n - c * inv));
  return inv;
}

/**
 * v2 GELU on its segment: 0.5x + Σ_j c_j cos(2πjθ) for θ = x/12 in turns (x · c, c = 2^(64−fx)/12 rounded to an odd
 * integer, for x with fx fractional bits; local; the ring's
 * wrap-around is one period), evaluated as the private cosine protocol evaluates one cosine (cosine.ts): open
 * d = θ + t (t uniform), then cos(2πj(d − t)) = cos 2πjd·cos 2πjt + sin 2πjd·sin 2πjt, where the servers compute
 * cos 2πjd and sin 2πjd from the public d (cosSinTurns, bit-identical) and the dealer shares c_j cos 2πjt and
 * c_j sin 2πjt (f bits, needed mod 2^(2f+6) only: bit planes). d is opened whole (not from its top
 * 32 bits as the RFA cosine does): dropping the shares' low bits would make d, and through cos 2πjd the result's
 * last bits, depend on how x happens to be split. The sum carries 2f fractional bits (2f + 1 at fx = 2f, where 0.5x
 * is x's own ring value); one truncation from that ring to fx bits. Also returns c⁻¹·d = x − α_x for the selection. 2 rounds; per element 8 + 38/8 bytes per server and 10·38/8 + 8 + 43/8 from the dealer (28/8 instead of
 * 43/8 at fx = 2f: the truncation drops 1 bit). Off the segment the value is garbage, which the selection drops.
 */
async function geluEven(p: Party, xf: Shared, fx: number, op: string): Promise<GeluEven> {
  const be = p.ring.backend;
  const f = p.ring.fracBits;
  const n = xf.size;
  const J = GELU_TERMS;
  // The sum carries 2f + lift fractional bits: with x at 2f (lift 1) its 0.5x is x's own ring value.
  const lift = fx === f ? 0 : 1;
  const t = p.mask(op, n);
  const ring = GELU_SERIES_RING(f);
  const trig = await p.dealBits(`${op}.trig`, 2 * J * n, ring, () => {
    // Accuracy only (no other party computes these): cos and sin of 2πjt at 30 bits times c_j at 31 bits
    // (|c_j| < 2, so below 2^62), rounded to f + lift bits, all terms in one kernel pass (cosSinTerms).
    const coefs = BigUint64Array.from({ length: J }, (_, m) => BigInt.asUintN(64, BigInt(Math.round(GELU_SERIES[m + 1]! * 2 ** 31))));
    return be.cosSinTerms(t, coefs, 30, 61 - (f + lift));
  });
  const truncated = (sum: BigUint64Array | null) => truncate(p, new Shared([n], sum), 2 * f + lift - fx, `${op}.trunc`, { from: ring });
  // θ = c·x turns with c = 2^(64−fx)/12 rounded to an odd integer (invertible mod 2^64; the selection needs c⁻¹).
  const c = (((1n << BigInt(64 - fx)) + BigInt(GELU_PERIOD / 2)) / BigInt(GELU_PERIOD)) | 1n;
  const cInv = inverseMod64(c);
  if (p.isDealer) return { inner: await truncated(null), xMasked: null, alphaX: be.scalarMul(t, BigInt.asUintN(64, -cInv)) };
  const [d] = await p.open(op, be.add(mulInt(p, xf, c).s, t));
  // 0.5x and c_0 with 2f + lift fractional bits, then the terms (public f bits × shares at f + lift bits).
  let acc = be.scalarMul(xf.s, 1n << BigInt(2 * f + lift - fx - 1));
  if (p.index === 0) acc = be.addScalar(acc, be.encode(Float64Array.of(GELU_SERIES[0]!), 2 * f + lift)[0]!);
  // Σ_j cos 2πjd·(c_j cos 2πjt) + sin 2πjd·(c_j sin 2πjt) in one kernel pass (cosSinSeries).
  return { inner: await truncated(be.cosSinSeries(d!, trig, J, f, acc)), xMasked: be.scalarMul(d!, cInv), alphaX: null };
}

/**
 * Paterson–Stockmeyer halves of P(v) = (d0 + d1·v + d2·v²) + v³·(d3 + d4·v + d5·v² + d6·v³): high with 2f
 * fractional bits and low (with 0.5x) with 2f, constants times shares being local.
 */
function geluHalves(p: Party, xf: Shared, v: Shared, v2: Shared, v3: Shared): { high: Shared; low: Shared } {
  const f = p.ring.fracBits;
  const d = GELU_COEFFS;
  const lin = (terms: [Shared, number][], c: number): Shared => {
    let acc = addPublic(p, mulInt(p, terms[0]![0], enc(p, terms[0]![1])), BigUint64Array.of(enc(p, c) << BigInt(f)));
    for (const [t, k] of terms.slice(1)) acc = add(p, acc, mulInt(p, t, enc(p, k)));
    return acc;
  };
  return { high: lin([[v, d[4]!], [v2, d[5]!], [v3, d[6]!]], d[3]!), low: lin([[xf, 0.5], [v, d[1]!], [v2, d[2]!]], d[0]!) };
}

/**
 * GELU of x (v1, bc2c1c5). Inputs must satisfy |x| < 2^15 − 4 (32764; BERT's FFN pre-activations stay within a few tens): the
 * segment comparisons of x ± 4 run at width f + 16, exact for |x ± 4| < 2^15. Within that bound x > 4 gives
 * exactly x and x < -4 exactly 0, even where the polynomial wraps around the ring.
 */
async function geluV1(p: Party, x: Shared, op: string): Promise<Shared> {
  const n = x.size;
  const f = p.ring.fracBits;
  const xf = flat(x);
  // [x < -4] and [x > 4] = [4 - x < 0] in one comparison.
  const both = await ltz(p, concatRows(p, [addConst(p, xf, GELU_L), addConst(p, mulInt(p, xf, -1n), GELU_L)]), `${op}.cmp`,
    { bits: Math.min(64, f + GELU_BOUND_BITS + 1) });
  const below = both.rows(0, n);
  const above = both.rows(n, 2 * n);
  // v = (x/4)² straight from x² (one truncation by f + 4), then v², v³ (f bits; v ≤ 1 on the segment).
  const v = await truncate(p, await squareRaw(p, xf, `${op}.pow`), f + 4, `${op}.pow.trunc`);
  const v2 = await truncate(p, await squareRaw(p, v, `${op}.pow`), f, `${op}.pow.trunc`);
  const v3 = await mul(p, v, v2, `${op}.pow`);
  // Paterson–Stockmeyer: P(v) = (d0 + d1·v + d2·v²) + v³·(d3 + d4·v + d5·v² + d6·v³), one product for the
  // high half. Constants times shares are local (2f bits); v³·high has 3f bits, the low half (and 0.5x) is
  // lifted to 3f, and one truncation by 2f brings the sum to f bits. On the segment |high| ≤ Σ|d_k| < 2^7, so
  // nothing nears 2^62; off it the value wraps and is discarded by the selection below.
  const { high, low } = geluHalves(p, xf, v, v2, v3);
  const sum = add(p, await mulRaw(p, v3, high, `${op}.poly`), mulInt(p, low, 1n << BigInt(f)));
  const poly = await truncate(p, sum, 2 * f, `${op}.poly.trunc`);
  // gelu = above·x + (1 - below - above)·poly  =  poly + above·(x - poly) - below·poly, one round.
  const prod = await mulRaw(p, concatRows(p, [above, below]), concatRows(p, [sub(p, xf, poly), poly]), `${op}.sel`);
  return sub(p, add(p, poly, prod.rows(0, n)), prod.rows(n, 2 * n)).reshape(x.shape);
}

/** Sum over the last axis of a [rows, cols] tensor → [rows]. Local. */
function rowSum(p: Party, x: Shared): Shared {
  const [r, c] = x.shape as [number, number];
  return new Shared([r], p.isDealer ? null : p.ring.backend.sumAxis(x.s, r, c, 1));
}

/** Repeats a [rows] vector across `cols` columns → [rows, cols]. Local. */
function broadcastCols(p: Party, v: Shared, cols: number): Shared {
  const r = v.size;
  if (p.isDealer) return new Shared([r, cols], null);
  const out = new BigUint64Array(r * cols);
  const s = v.s;
  for (let i = 0; i < r; i++) out.fill(s[i]!, i * cols, (i + 1) * cols);
  return new Shared([r, cols], out);
}

export interface LayerNormWeights {
  gamma: FixedWeight;
  beta: Shared;
  eps: number;
}

/** v2 layerNorm: the highest variance range exponent for `cols` columns at f fractional bits (20 for 768 or 1024 at f = 16). */
export function layerNormTop(f: number, cols: number): number {
  return Math.min(40 - f, 62 - 2 * f - Math.ceil(Math.log2(cols)));
}

/**
 * LayerNorm over the last axis of [rows, cols] with secret gamma (fixed weight) and beta. v2 opens the centred
 * x once (openMasked) for both the row sums of squares and the normalising product, and needs |x̂·γ| < 2^(62−3f)
 * for the normalised x̂ (2^14 at f = 16; LayerNorm weights are O(1)) and a variance range below 2^layerNormTop.
 */
export async function layerNorm(p: Party, x: Shared, w: LayerNormWeights, op = 'layernorm', range = { lo: -12, hi: 12 }): Promise<Shared> {
  if (x.shape.length !== 2) throw new SecpError('ERR_SHAPE_MISMATCH', `${op} needs [rows, cols], got [${x.shape.join(', ')}]`);
  const [rows, cols] = x.shape as [number, number];
  const f = p.ring.fracBits;
  if (p.protocols === 'v1') {
    const mean = await mulConst(p, rowSum(p, x), 1 / cols, `${op}.mean`);
    const xc = sub(p, x, broadcastCols(p, mean, cols));
    const sq = await truncate(p, await squareRaw(p, xc, `${op}.sq`), f, `${op}.sq.trunc`);
    const variance = addConst(p, await mulConst(p, rowSum(p, sq), 1 / cols, `${op}.var`), w.eps);
    const inv = await rsqrt(p, variance, range, `${op}.rsqrt`);
    const normed = await mul(p, xc, broadcastCols(p, inv, cols), `${op}.norm`);
    return addRow(p, await truncate(p, await mulFixedRowRaw(p, normed, w.gamma, `${op}.gamma`), f, `${op}.gamma.trunc`), w.beta);
  }
  // v2: the row sums of x² are summed with 2f bits, so variance·cols < 2^(62−2f) (the declared range's top).
  if (range.hi > layerNormTop(f, cols)) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `${op}: the variance range's top 2^${range.hi} is above 2^${layerNormTop(f, cols)}, the most v2 handles for ${cols} columns at ${f} fractional bits (its row sums of squares carry ${2 * f})`);
  }
  // 1/cols with 22 bits (f = 16 bits would round 1/768 to 1/771): right while |mean|, variance < 2^(40−f).
  const byCols = (v: Shared, label: string) => truncate(p, mulInt(p, v, p.ring.backend.encode(Float64Array.of(1 / cols), 22)[0]!), 22, label);
  const mean = await byCols(rowSum(p, x), `${op}.mean`);
  const xc = sub(p, x, broadcastCols(p, mean, cols));
  // xc is opened once (masked): the row sums of squares and the normalising product both reuse its mask, so
  // neither opens xc again and the squares need no truncation per element (only the row sums are truncated).
  const opened = await openMasked(p, xc, `${op}.sq`);
  const sumSq = await truncate(p, await rowSquaresRaw(p, opened, rows, `${op}.sq`), f, `${op}.sq.trunc`);
  const variance = addConst(p, await byCols(sumSq, `${op}.var`), w.eps);
  const inv = await rsqrt(p, variance, range, `${op}.rsqrt`);
  // The normalised product x̂ keeps its 2f bits and one truncation by 2f follows gamma (one truncation
  // fewer): right while |x̂·γ| < 2^(62−3f) (2^14 at f = 16; |x̂| ≤ √cols, so |γ| < 2^14/√cols suffices).
  const [normed] = await mulRowsRaw(p, [[opened, inv]], `${op}.norm`);
  return addRow(p, await truncate(p, await mulFixedRowRaw(p, normed!, w.gamma, `${op}.gamma`), 2 * f, `${op}.gamma.trunc`), w.beta);
}

/**
 * Row maxima of [rows, cols] by a tournament: ⌈log2 cols⌉ levels of (comparison + select). `bits` is the
 * width of the comparisons of differences a − b: exact for every input by default; k needs |a − b| < 2^(k-1-f).
 */
export async function rowMax(p: Party, x: Shared, op = 'max', bits = 64): Promise<Shared> {
  const [rows] = x.shape as [number, number];
  let cur = x;
  while (cur.shape[1]! > 1) {
    const c = cur.shape[1]!;
    const half = Math.floor(c / 2);
    const pick = (start: number, count: number): Shared => {
      if (p.isDealer) return new Shared([rows, count], null);
      const out = new BigUint64Array(rows * count);
      const s = cur.s;
      for (let r = 0; r < rows; r++) for (let j = 0; j < count; j++) out[r * count + j] = s[r * c + start + 2 * j]!;
      return new Shared([rows, count], out);
    };
    const a = pick(0, half);
    const b = pick(1, half);
    const aLess = await ltzMasked(p, sub(p, a, b), `${op}.cmp`, { bits });
    const m = await selectMasked(p, aLess, b, a, `${op}.sel`);
    if (c % 2 === 1) {
      // The odd one out rides along to the next level.
      let out: BigUint64Array | null = null;
      if (!p.isDealer) {
        out = new BigUint64Array(rows * (half + 1));
        for (let r = 0; r < rows; r++) {
          out.set(m.s.subarray(r * half, (r + 1) * half), r * (half + 1));
          out[r * (half + 1) + half] = cur.s[r * c + c - 1]!;
        }
      }
      cur = new Shared([rows, half + 1], out);
    } else {
      cur = m;
    }
  }
  return cur.reshape([rows]);
}

/**
 * Softmax over rows (baseline): x - max, exp, sum, reciprocal, product. Inputs must satisfy |x| < 2^15
 * (attention logits are tens at most; the padding mask's -4096 included): differences then stay below 2^16,
 * and the max's and the exp clip's comparisons run at width f + 17.
 */
export async function softmax(p: Party, x: Shared, op = 'softmax', recipRange = { lo: -2, hi: 10 }): Promise<Shared> {
  const [, cols] = x.shape as [number, number];
  const bits = Math.min(64, p.ring.fracBits + 17);
  const m = await rowMax(p, x, `${op}.max`, bits);
  const e = await exp(p, sub(p, x, broadcastCols(p, m, cols)), `${op}.exp`, bits);
  const inv = await reciprocal(p, rowSum(p, e), recipRange, `${op}.recip`);
  const [prod] = await mulRowsRaw(p, [[e, inv]], `${op}.norm`);
  return truncate(p, prod!, p.ring.fracBits, `${op}.norm.trunc`);
}

export { broadcastCols, rowSum };
