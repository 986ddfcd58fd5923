/**
 * Beaver multiplication and matrix multiplication with dealer triples (Beaver 1991).
 *   mul / matmul:  rounds 1; bytes per element per server: 8 per element of each operand opened
 *                  (x - a and y - b); dealer → S1: 8 per output element (the correcting share of a·b).
 *   fixed weights: weights that never change in a session open F = W - B once per session and reuse
 *                  B with a fresh activation mask A for every product (DESIGN §3), so each call opens
 *                  only E = X - A. A is never reused: it is drawn fresh from the dealer PRG each call.
 *   error: exact in the ring; the product carries 2f fractional bits, so callers truncate after.
 */
import { SecpError } from '../../bindings/errors.js';
import type { Party } from './party.js';
import { Shared, sameShape } from './shared.js';
import { concatWords } from '../ring/tensor.js';
import { truncate } from './truncation.js';

function dims2(op: string, s: readonly number[]): [number, number] {
  if (s.length !== 2) throw new SecpError('ERR_SHAPE_MISMATCH', `${op} needs 2-D operands, got [${s.join(', ')}]`);
  return [s[0]!, s[1]!];
}

/** A product's ring width: 64, or (v2 only) a narrower m whose result is right mod 2^m. */
function checkBits(p: Party, op: string, bits: number): void {
  if (bits !== 64 && (!Number.isInteger(bits) || bits < 2 || bits > 64 || p.protocols === 'v1')) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `${op}: the ring width must be an integer in 2..64 (64 with v1 protocols), got ${bits}`);
  }
}

/**
 * Elementwise product of shared tensors (no truncation: 2f fractional bits, or f if one is an integer).
 * With `bits` = m < 64 (v2) the product is computed mod 2^m only (the operands are needed mod 2^m): it opens
 * m bits per operand and element, and the dealer sends m bits; its result is to be used mod 2^m (truncate's
 * `from`).
 */
export async function mulRaw(p: Party, x: Shared, y: Shared, op = 'mul', bits = 64): Promise<Shared> {
  sameShape(op, x.shape, y.shape);
  checkBits(p, op, bits);
  const be = p.ring.backend;
  const n = x.size;
  const a = p.mask(op, n);
  const b = p.mask(op, n);
  const c = await p.dealBits(`${op}.c`, n, bits, () => be.mul(a, b));
  if (p.isDealer) return new Shared(x.shape, null);
  const [e, f] = await p.openBits(op, bits, be.sub(x.s, a), be.sub(y.s, b));
  return new Shared(x.shape, be.beaverMul(c, a, b, e!, f!, p.index === 0));
}

/** Fixed-point elementwise product: mulRaw then truncation (2 rounds). */
export async function mul(p: Party, x: Shared, y: Shared, op = 'mul'): Promise<Shared> {
  return truncate(p, await mulRaw(p, x, y, op), p.ring.fracBits, `${op}.trunc`);
}

/** x² with a square pair (a, a²): opens only x - a. No truncation. `bits` as for mulRaw. */
export async function squareRaw(p: Party, x: Shared, op = 'square', bits = 64): Promise<Shared> {
  checkBits(p, op, bits);
  const be = p.ring.backend;
  const n = x.size;
  const a = p.mask(op, n);
  const c = await p.dealBits(`${op}.c`, n, bits, () => be.mul(a, a));
  if (p.isDealer) return new Shared(x.shape, null);
  const [e] = await p.openBits(op, bits, be.sub(x.s, a));
  return new Shared(x.shape, be.beaverMul(c, a, a, e!, e!, p.index === 0));
}

/**
 * Many independent secret × secret matmuls X_i [m,k] · Y_i [k,n] in ONE round (e.g. every head of
 * every sequence). No truncation.
 */
export async function matmulManyRaw(p: Party, xs: Shared[], ys: Shared[], op = 'matmul'): Promise<Shared[]> {
  if (xs.length !== ys.length) throw new SecpError('ERR_SHAPE_MISMATCH', `${op}: ${xs.length} left vs ${ys.length} right operands`);
  const be = p.ring.backend;
  const dims = xs.map((x, i) => {
    const [m, k] = dims2(op, x.shape);
    const [k2, n] = dims2(op, ys[i]!.shape);
    if (k !== k2) throw new SecpError('ERR_SHAPE_MISMATCH', `${op}: inner dimensions differ: [${x.shape.join(', ')}] · [${ys[i]!.shape.join(', ')}]`);
    return [m, k, n] as const;
  });
  const as = dims.map(([m, k]) => p.mask(op, m * k));
  const bs = dims.map(([, k, n]) => p.mask(op, k * n));
  const total = dims.reduce((s, [m, , n]) => s + m * n, 0);
  const cAll = await p.deal(`${op}.c`, total, () => {
    const out = new BigUint64Array(total);
    let off = 0;
    dims.forEach(([m, k, n], i) => {
      out.set(be.matmul(as[i]!, bs[i]!, m, k, n), off);
      off += m * n;
    });
    return out;
  });
  if (p.isDealer) return dims.map(([m, , n]) => new Shared([m, n], null));
  const opened = await p.open(op, ...xs.map((x, i) => be.sub(x.s, as[i]!)), ...ys.map((y, i) => be.sub(y.s, bs[i]!)));
  let off = 0;
  return dims.map(([m, k, n], i) => {
    const e = opened[i]!;
    const f = opened[xs.length + i]!;
    let z: BigUint64Array = cAll.slice(off, off + m * n);
    off += m * n;
    z = be.add(z, be.matmul(e, bs[i]!, m, k, n));
    z = be.add(z, be.matmul(as[i]!, f, m, k, n));
    if (p.index === 0) z = be.add(z, be.matmul(e, f, m, k, n));
    return new Shared([m, n], z);
  });
}

/**
 * x opened once against a fresh mask A (v2): E = x − A is public to the servers and A stays shared, so later
 * products with x (rowSquaresRaw, mulRowsRaw) reuse A and open nothing more of x; each such product adds only
 * its own dealt correlation with A. 1 round; 8 bytes per element per server.
 */
export class MaskedOpen {
  constructor(
    readonly x: Shared,
    /** Servers: share of A; dealer: A. */
    readonly a: BigUint64Array,
    /** Servers: the public E = x − A; dealer: null. */
    readonly e: BigUint64Array | null,
  ) {}
}

export async function openMasked(p: Party, x: Shared, op = 'masked'): Promise<MaskedOpen> {
  if (p.protocols === 'v1') throw new SecpError('ERR_INVALID_ARGUMENT', `${op}: masked openings are a v2 protocol`);
  const a = p.mask(op, x.size);
  if (p.isDealer) return new MaskedOpen(x, a, null);
  const [e] = await p.open(op, p.ring.backend.sub(x.s, a));
  return new MaskedOpen(x, a, e!);
}

/**
 * Σ x² over the last axis of an opened x of `rows` rows (2f fractional bits, no truncation): per row
 * Σ(E + A)² = ΣE² + 2ΣE·A + ΣA², with ΣA² dealt (one word per row). No round of the servers' own.
 */
export async function rowSquaresRaw(p: Party, m: MaskedOpen, rows: number, op = 'rowsquares'): Promise<Shared> {
  const cols = m.x.size / rows;
  if (!Number.isInteger(cols) || rows === 0) throw new SecpError('ERR_SHAPE_MISMATCH', `${op}: ${m.x.size} elements do not split into ${rows} rows`);
  const be = p.ring.backend;
  const s = await p.deal(`${op}.c`, rows, () => be.sumAxis(be.mul(m.a, m.a), rows, cols, 1));
  if (p.isDealer) return new Shared([rows], null);
  let z = be.add(s, be.scalarMul(be.sumAxis(be.mul(m.e!, m.a), rows, cols, 1), 2n));
  if (p.index === 0) z = be.add(z, be.sumAxis(be.mul(m.e!, m.e!), rows, cols, 1));
  return new Shared([rows], z);
}

/** A session-constant secret matrix [k, n] whose mask B is opened against once (F = W - B is public). */
export class FixedWeight {
  constructor(
    readonly shape: readonly [number, number],
    /** Server: share of B; dealer: B itself. */
    readonly b: BigUint64Array,
    /** Servers: the public F = W - B; dealer: null. */
    readonly f: BigUint64Array | null,
    /** Servers: B_i + [i = 0]·F, so that E·B_i + [i = 0]·E·F is one product. */
    readonly g: BigUint64Array | null,
  ) {}
}

/** Opens W - B once (1 round, k·n words per server). Call once per session per weight. */
export async function fixWeight(p: Party, w: Shared, op = 'weight.fix'): Promise<FixedWeight> {
  const [k, n] = dims2(op, w.shape);
  const b = p.rand(k * n);
  if (p.isDealer) return new FixedWeight([k, n], b, null, null);
  const [f] = await p.open(op, p.ring.backend.sub(w.s, b));
  return new FixedWeight([k, n], b, f!, p.index === 0 ? p.ring.backend.add(b, f!) : b);
}

/** X [m,k] · W [k,n] for a fixed weight: opens only X - A (fresh A every call). 1 round, no truncation. */
export async function matmulFixedRaw(p: Party, x: Shared, w: FixedWeight, op = 'matmul.fixed'): Promise<Shared> {
  const [m, k] = dims2(op, x.shape);
  const [k2, n] = w.shape;
  if (k !== k2) throw new SecpError('ERR_SHAPE_MISMATCH', `${op}: inner dimensions differ: [${m}, ${k}] · [${k2}, ${n}]`);
  const be = p.ring.backend;
  const a = p.mask(op, m * k);
  const c = await p.deal(`${op}.c`, m * n, () => be.matmul(a, w.b, m, k, n));
  if (p.isDealer) return new Shared([m, n], null);
  const [e] = await p.open(op, be.sub(x.s, a));
  const z = be.add(c, be.add(be.matmul(e!, w.g!, m, k, n), be.matmul(a, w.f!, m, k, n)));
  return new Shared([m, n], z);
}

/** X [.., n] ⊙ w [n] for a fixed secret row vector (LayerNorm gamma), broadcast over rows. 1 round, no truncation. */
export async function mulFixedRowRaw(p: Party, x: Shared, w: FixedWeight, op = 'mul.fixed'): Promise<Shared> {
  const n = w.shape[1];
  if (w.shape[0] !== 1 || x.shape[x.shape.length - 1] !== n) {
    throw new SecpError('ERR_SHAPE_MISMATCH', `${op}: row weight [${w.shape.join(', ')}] does not fit [${x.shape.join(', ')}]`);
  }
  const be = p.ring.backend;
  const size = x.size;
  const a = p.mask(op, size);
  const c = await p.deal(`${op}.c`, size, () => be.mul(a, tile(w.b, size)));
  if (p.isDealer) return new Shared(x.shape, null);
  const [e] = await p.open(op, be.sub(x.s, a));
  // c + E·(B_i + [i = 0]·F) + A_i·F, with the row's B_i and F as the triple's second factor and opened value.
  return new Shared(x.shape, be.beaverMul(c, a, tile(w.b, size), e!, tile(w.f!, size), p.index === 0));
}

/** The row repeated to `size` elements. */
function tile(row: BigUint64Array, size: number): BigUint64Array {
  const out = new BigUint64Array(size);
  for (let i = 0; i < size; i += row.length) out.set(row, i);
  return out;
}

/** X [m,k] · W for a public fixed-point W [k,n]: local, then truncation (1 round). */
export async function matmulPublic(p: Party, x: Shared, w: BigUint64Array, n: number, op = 'matmul.public'): Promise<Shared> {
  const [m, k] = dims2(op, x.shape);
  const prod = p.isDealer ? null : p.ring.backend.matmul(x.s, w, m, k, n);
  return truncate(p, new Shared([m, n], prod), p.ring.fracBits, `${op}.trunc`);
}

/** Each element of v repeated `cols` times: [r] → [r, cols] row-major. */
function repeatCols(v: BigUint64Array, cols: number): BigUint64Array {
  const out = new BigUint64Array(v.length * cols);
  for (let i = 0; i < v.length; i++) out.fill(v[i]!, i * cols, (i + 1) * cols);
  return out;
}

/**
 * X_i ⊙ v_i broadcast over columns, for pairs of X_i [r_i, c_i] (any shape of r_i·c_i elements) and v_i [r_i],
 * all in one round, no truncation. v2: the triple's mask of v_i is one word per row (C = A ⊙ b broadcast), so
 * each server opens X − A per element and v − b once per row: r·c + r words per pair instead of 2·r·c; the
 * dealer sends r·c words (C). An X_i already opened (MaskedOpen) reuses its A and E: only v − b is opened for
 * it. v1: a plain Beaver product of X with the broadcast v (as bc2c1c5).
 */
export async function mulRowsRaw(p: Party, pairs: readonly (readonly [Shared | MaskedOpen, Shared])[], op = 'mulrows'): Promise<Shared[]> {
  const be = p.ring.backend;
  const xOf = (x: Shared | MaskedOpen): Shared => (x instanceof MaskedOpen ? x.x : x);
  const dims = pairs.map(([x, v]) => {
    const cols = xOf(x).size / v.size;
    if (!Number.isInteger(cols) || v.size === 0) throw new SecpError('ERR_SHAPE_MISMATCH', `${op}: ${xOf(x).size} elements do not split into ${v.size} rows`);
    return cols;
  });
  const wide = (v: Shared, cols: number) => new Shared([v.size * cols], p.isDealer ? null : repeatCols(v.s, cols));
  const flatOf = (x: Shared) => new Shared([x.size], p.isDealer ? null : x.s);
  const split = (all: Shared): Shared[] => {
    let off = 0;
    return pairs.map(([x]) => {
      off += xOf(x).size;
      return new Shared(xOf(x).shape, p.isDealer ? null : all.s.subarray(off - xOf(x).size, off));
    });
  };
  if (p.protocols === 'v1') {
    if (pairs.some(([x]) => x instanceof MaskedOpen)) throw new SecpError('ERR_INVALID_ARGUMENT', `${op}: masked openings are a v2 protocol`);
    const cat = (xs: Shared[]) => new Shared([xs.reduce((s, x) => s + x.size, 0)], p.isDealer ? null : concatWords(xs.map((x) => x.s)));
    return split(await mulRaw(p, cat(pairs.map(([x]) => flatOf(xOf(x)))), cat(pairs.map(([, v], i) => wide(v, dims[i]!))), op));
  }
  const as = pairs.map(([x]) => (x instanceof MaskedOpen ? x.a : p.mask(op, x.size)));
  const bs = pairs.map(([, v]) => p.mask(op, v.size));
  const total = pairs.reduce((s, [x]) => s + xOf(x).size, 0);
  const c = await p.deal(`${op}.c`, total, () => concatWords(as.map((a, i) => be.mul(a, repeatCols(bs[i]!, dims[i]!)))));
  if (p.isDealer) return pairs.map(([x]) => new Shared(xOf(x).shape, null));
  const freshE = pairs.flatMap(([x], i) => (x instanceof MaskedOpen ? [] : [be.sub(x.s, as[i]!)]));
  const opened = await p.open(op, ...freshE, ...pairs.map(([, v], i) => be.sub(v.s, bs[i]!)));
  const es: BigUint64Array[] = [];
  let next = 0;
  for (const [x] of pairs) es.push(x instanceof MaskedOpen ? x.e! : opened[next++]!);
  let off = 0;
  return pairs.map(([x], i) => {
    const size = xOf(x).size;
    const e = es[i]!;
    const fw = repeatCols(opened[next + i]!, dims[i]!);
    let z = be.add(c.subarray(off, off + size), be.add(be.mul(e, repeatCols(bs[i]!, dims[i]!)), be.mul(fw, as[i]!)));
    if (p.index === 0) z = be.add(z, be.mul(e, fw));
    off += size;
    return new Shared(xOf(x).shape, z);
  });
}
