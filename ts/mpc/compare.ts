/**
 * Comparison with dealer help: the sign of a shared value, and what is built on it (ReLU, select, clip).
 * The servers open c = x + r mod 2^k for a dealer-random r whose bits the dealer also XOR-shares; then
 * msb(x) = c_{k-1} ⊕ r_{k-1} ⊕ [c mod 2^(k-1) < r mod 2^(k-1)]. The last term compares a public (k−1)-bit
 * number with secret bits by a prefix tree over (G, E) = ([r > c], [r = c]) of blocks of bits, where a block
 * of two halves has G = G_hi ⊕ E_hi∧G_lo and E = E_hi∧E_lo.
 * - The tree runs on bit planes (plane j holds bit j of 64 elements per word, KernelBackend.toBitPlanes),
 *   so a level opens only the blocks still alive: each level costs half the one before.
 * - Its first level is local: with c public, a pair of bits has G and E linear in r's bits and in
 *   r_{2i+1}∧r_{2i}, which the dealer XOR-shares.
 * - The other levels are Beaver ANDs with one shared operand (E_hi∧G_lo and E_hi∧E_lo); the lowest block
 *   never needs its E, so its pair opens 2 bits instead of 3.
 * - The result bit becomes an arithmetic 0/1 share with a dealer random bit ρ (open z ⊕ ρ, one bit).
 * Width: by default k = 64, exact for every x in Z_2^64. With `bits: k` the shares are reduced mod 2^k (still
 * additive shares, of x mod 2^k), so c and the tree are k bits wide: exact iff −2^(k−1) ≤ x < 2^(k−1) in raw
 * ring units (|x| < 2^(k−1−f) in real value); outside, the bit is wrong. Callers state their bound.
 * Costs (ltzCosts, checked against the meter), per element for n a multiple of 64, with B = ⌈(k−1)/2⌉ blocks
 * after the local level and L = ⌈log2 B⌉ Beaver levels; k = 64 | k = 32:
 *   rounds: 1 (open c) + L + 1 (conversion) = 7 | 6 (was 8 before the bit planes).
 *   bits per server: k (c) + 3(B−1) − L (tree) + 1 (conversion) = 153 | 74, i.e. 19.125 | 9.25 bytes (was 144).
 *   dealer → S1 bits: k (r's bits) + ⌊(k−1)/2⌋ (pair products) + 2(B−1) − L (AND results) + 64 (ρ's arithmetic
 *   share) = 216 | 137, i.e. 27 | 17.125 bytes (was 104).
 * ltz returns an *integer* share of [x < 0] (1, not 2^f), so multiplying by it needs no truncation.
 * Coarse comparison (`drop: d`, v2): each server first shifts its share right by d bits, locally. The shifted
 * shares are shares of ⌊x/2^d⌋ − e mod 2^(64−d) for an unknown e ∈ {0, 1} (the carry of the shares' low bits),
 * so the result is exact for x < 0 and for x ≥ 2^d, and either bit for 0 ≤ x < 2^d (a band of 2^(d−f) in
 * real value around the threshold); the width k ≤ 64 − d then only has to hold x/2^d: exact iff
 * −2^(k−1+d) + 2^d ≤ x < 2^(k−1+d). It costs nothing and saves d bits of width (for a threshold where a
 * band of 2^(d−f) does not matter, e.g. GELU's segment ends).
 */
import { SecpError } from '../../bindings/errors.js';
import type { KernelBackend } from '../../bindings/types.js';
import type { Party } from './party.js';
import { mulRaw } from './beaver.js';
import { concatWords } from '../ring/tensor.js';
import { Shared, addPublic, mulInt, sub } from './shared.js';

const ALL_ONES = (1n << 64n) - 1n;

export interface LtzOptions {
  /** Width k in 2..64 (default 64): the result is exact iff −2^(k−1) ≤ x < 2^(k−1) in raw ring units. */
  bits?: number;
  /** Low bits dropped locally first (default 0; see the file header): k + drop ≤ 64. */
  drop?: number;
}

/** Pairs of the local first level, then the combines of each Beaver level (blocks halve, an odd one rides up). */
function treeShape(k: number): { pairs: number; levels: number[] } {
  const pairs = (k - 1) >> 1;
  let blocks = k - 1 - pairs;
  const levels: number[] = [];
  while (blocks > 1) {
    const combines = blocks >> 1;
    levels.push(combines);
    blocks -= combines;
  }
  return { pairs, levels };
}

/** Rounds and bits per element of ltz at width k, for n a multiple of 64 (what the meter counts). */
export function ltzCosts(k = 64): { rounds: number; serverBits: number; dealerBits: number } {
  const { pairs, levels } = treeShape(k);
  const tree = levels.reduce((s, c) => s + 3 * c - 1, 0);
  const triples = levels.reduce((s, c) => s + 2 * c - 1, 0);
  return { rounds: levels.length + 2, serverBits: k + tree + 1, dealerBits: k + pairs + triples + 64 };
}

/** `count` planes (w words each) of `src`, starting at plane `first`, every `step`-th, stacked. */
function planes(src: BigUint64Array, w: number, first: number, step: number, count: number): BigUint64Array {
  const out = new BigUint64Array(Math.max(0, count) * w);
  for (let i = 0; i < count; i++) out.set(src.subarray((first + i * step) * w, (first + i * step + 1) * w), i * w);
  return out;
}

function xorAll(be: KernelBackend, ...xs: BigUint64Array[]): BigUint64Array {
  return xs.reduce((acc, x) => be.xor(acc, x));
}

/**
 * A comparison's result bit b = z ⊕ ρ with its public opening z and the dealer's bit ρ (arithmetic share
 * `rho`; the dealer holds ρ itself): enough to multiply by b at the cost of one opening (mulMaskedBit).
 */
export interface MaskedBit {
  /** Integer 0/1 share of b (null on the dealer). */
  bit: Shared;
  /** The opened z as words 0/1 (servers; null on the dealer). */
  z: BigUint64Array | null;
  rho: BigUint64Array;
}

/** Arithmetic share of [x < 0] as an integer 0/1. */
export async function ltz(p: Party, x: Shared, op = 'ltz', opts: LtzOptions = {}): Promise<Shared> {
  return (await ltzMasked(p, x, op, opts)).bit;
}

/**
 * b·y for a comparison's bit b = z ⊕ ρ: b·y = ρy + z(y − 2ρy), where ρy = ρ(y − α) + ρα takes one opening of
 * y − α (α a fresh mask, ρα dealt). 1 round; per element 8 bytes per server, 8 from the dealer (mulRaw: 16, 8).
 */
export async function mulMaskedBit(p: Party, b: MaskedBit, y: Shared, op = 'mulbit'): Promise<Shared> {
  const be = p.ring.backend;
  const n = y.size;
  if (b.bit.size !== n) throw new SecpError('ERR_SHAPE_MISMATCH', `${op}: ${b.bit.size} bits for ${n} values`);
  const alpha = p.mask(op, n);
  const c = await p.deal(`${op}.c`, n, () => be.mul(b.rho, alpha));
  if (p.isDealer) return new Shared(y.shape, null);
  const [e] = await p.open(op, be.sub(y.s, alpha));
  const rhoY = be.add(be.mul(b.rho, e!), c);
  return new Shared(y.shape, be.add(rhoY, be.mul(b.z!, be.sub(y.s, be.scalarMul(rhoY, 2n)))));
}

/** ltz, also returning what mulMaskedBit needs. */
export async function ltzMasked(p: Party, x: Shared, op = 'ltz', opts: LtzOptions = {}): Promise<MaskedBit> {
  return ltzShifts(p, x, [0n], op, opts);
}

/** `count` copies of each of `planes` bit planes of `w` words, side by side: planes × (count·w) words. */
function tilePlanes(src: BigUint64Array, planes: number, w: number, count: number): BigUint64Array {
  if (count === 1) return src;
  const out = new BigUint64Array(planes * count * w);
  for (let b = 0; b < planes; b++) for (let j = 0; j < count; j++) out.set(src.subarray(b * w, (b + 1) * w), (b * count + j) * w);
  return out;
}

/**
 * [x − s_j < 0] for several public shifts s_j (ring units after `drop`), one masked bit per element and shift
 * (rows: shift-major, [shifts.length · n]). All share one mask r: c = x + r is opened once and each shift
 * compares c − s_j with r's bits through its own tree, so the dealer sends r's bits and pair products once;
 * each tree's ANDs and result bit are its own. Per element and extra shift this saves k bits per server and
 * k + ⌊(k−1)/2⌋ dealer bits. Widths and bounds as ltz, for every x − s_j.
 */
export async function ltzShifts(p: Party, x: Shared, shifts: readonly bigint[], op = 'ltz', opts: LtzOptions = {}): Promise<MaskedBit> {
  const k = opts.bits ?? 64;
  if (!Number.isInteger(k) || k < 2 || k > 64) throw new SecpError('ERR_INVALID_ARGUMENT', `${op}: bits must be an integer in 2..64, got ${k}`);
  const drop = opts.drop ?? 0;
  if (!Number.isInteger(drop) || drop < 0 || drop + k > 64) throw new SecpError('ERR_INVALID_ARGUMENT', `${op}: drop must be an integer in 0..${64 - k}, got ${drop}`);
  const J = shifts.length;
  if (J === 0) throw new SecpError('ERR_INVALID_ARGUMENT', `${op}: no shifts`);
  const be = p.ring.backend;
  const n0 = x.size;
  const w0 = Math.ceil(n0 / 64);
  // With several shifts each one's elements fill whole words, so that their bit planes sit side by side.
  const np = J === 1 ? n0 : 64 * w0;
  const n = J * np;
  const w = J * w0;
  const m = k - 1; // bits compared by the tree
  const { pairs, levels } = treeShape(k);
  // Correlated randomness, drawn in the same order by the dealer and the servers.
  const r = p.rand(np);
  const rb0 = await p.dealXor(`${op}.r_bits`, k * w0, () => be.toBitPlanes(r, k));
  const q0 = pairs === 0 ? new BigUint64Array(0)
    : await p.dealXor(`${op}.pairs`, pairs * w0, () => be.and(planes(rb0, w0, 1, 2, pairs), planes(rb0, w0, 0, 2, pairs)));
  const rBits = tilePlanes(rb0, k, w0, J);
  const q = tilePlanes(q0, pairs, w0, J);
  const triples: Array<{ a: BigUint64Array; b1: BigUint64Array; b2: BigUint64Array; c: BigUint64Array }> = [];
  for (const [l, combines] of levels.entries()) {
    const a = p.randXor(combines * w);
    const b1 = p.randXor(combines * w);
    const b2 = p.randXor((combines - 1) * w);
    const c = await p.dealXor(`${op}.and${l}.c`, (2 * combines - 1) * w, () => concatWords([be.and(a, b1), be.and(a.subarray(w), b2)]));
    triples.push({ a, b1, b2, c });
  }
  const rho = p.randXor(w); // one random bit per element, as a plane
  const rhoA = await p.deal(`${op}.rho`, n, () => be.fromBitPlanes(rho, 1, n));
  const unpad = (v: BigUint64Array): BigUint64Array =>
    np === n0 ? v : concatWords(Array.from({ length: J }, (_, j) => v.subarray(j * np, j * np + n0)));
  const shape = J === 1 ? x.shape : [J * n0];
  if (p.isDealer) return { bit: new Shared(shape, null), z: null, rho: unpad(rhoA) };

  const me0 = p.index === 0;
  let xs = drop === 0 ? x.s : be.shrXor(x.s, drop, new BigUint64Array(n0));
  if (np !== n0) {
    const padded = new BigUint64Array(np);
    padded.set(xs);
    xs = padded;
  }
  const [c0] = await p.openBits(`${op}.open`, k, be.add(xs, r));
  const cBits = be.toBitPlanes(J === 1 ? c0! : concatWords(shifts.map((s) => be.addScalar(c0!, BigInt.asUintN(64, -s)))), k);
  const nc = be.xor(cBits, new BigUint64Array(k * w).fill(ALL_ONES));
  // First level, local. With G_i = ¬c_i r_i, E_i = ¬c_i ⊕ r_i and q = r_h r_l for a pair (h, l) = (2i+1, 2i):
  // G = ¬c_h r_h ⊕ ¬c_h ¬c_l r_l ⊕ ¬c_l q, E = ¬c_h ¬c_l ⊕ ¬c_h r_l ⊕ ¬c_l r_h ⊕ q.
  const nch = planes(nc, w, 1, 2, pairs);
  const ncl = planes(nc, w, 0, 2, pairs);
  const rh = planes(rBits, w, 1, 2, pairs);
  const rl = planes(rBits, w, 0, 2, pairs);
  const nchl = be.and(nch, ncl);
  let g = xorAll(be, be.and(nch, rh), be.and(nchl, rl), be.and(ncl, q));
  let e = xorAll(be, be.and(nch, rl), be.and(ncl, rh), q);
  if (me0) e = be.xor(e, nchl);
  if (m % 2 === 1) {
    // The top compared bit has no partner: it rides up alone.
    const ncTop = nc.subarray((m - 1) * w, m * w);
    const rTop = rBits.subarray((m - 1) * w, m * w);
    g = concatWords([g, be.and(ncTop, rTop)]);
    e = concatWords([e, me0 ? be.xor(rTop, ncTop) : rTop]);
  }
  for (const [l, combines] of levels.entries()) {
    const { a, b1, b2, c: t } = triples[l]!;
    const blocks = g.length / w;
    const [d, dg, de] = await p.openXor(`${op}.and${l}`,
      be.xor(planes(e, w, 1, 2, combines), a), be.xor(planes(g, w, 0, 2, combines), b1), be.xor(planes(e, w, 2, 2, combines - 1), b2));
    const eg = be.beaverAnd(t.subarray(0, combines * w), a, b1, d!, dg!, me0); // E_hi ∧ G_lo
    const ee = be.beaverAnd(t.subarray(combines * w), a.subarray(w), b2, d!.subarray(w), de!, me0); // E_hi ∧ E_lo, above the lowest
    let gNext = be.xor(planes(g, w, 1, 2, combines), eg);
    let eNext = concatWords([new BigUint64Array(w), ee]); // the lowest block's E is never used
    if (blocks % 2 === 1) {
      gNext = concatWords([gNext, g.subarray((blocks - 1) * w)]);
      eNext = concatWords([eNext, e.subarray((blocks - 1) * w)]);
    }
    g = gNext;
    e = eNext;
  }
  // msb(x) = c_m ⊕ r_m ⊕ [c mod 2^m < r mod 2^m], masked by ρ and opened; then [b] = z ⊕ ρ = z + ρ − 2zρ.
  let z = xorAll(be, g, rBits.subarray(m * w), rho);
  if (me0) z = be.xor(z, cBits.subarray(m * w));
  const [zOpen] = await p.openXor(`${op}.b2a`, z);
  const zz = be.fromBitPlanes(zOpen!, 1, n);
  let out = be.sub(rhoA, be.scalarMul(be.mul(zz, rhoA), 2n));
  if (me0) out = be.add(out, zz);
  return { bit: new Shared(shape, unpad(out)), z: unpad(zz), rho: unpad(rhoA) };
}

/** b·x for an integer 0/1 share b (no truncation). 1 round. */
export async function mulBit(p: Party, b: Shared, x: Shared, op = 'mulbit'): Promise<Shared> {
  return mulRaw(p, b, x, op);
}

/** max(x, 0): 9 rounds. */
export async function relu(p: Party, x: Shared, op = 'relu'): Promise<Shared> {
  const neg = await ltz(p, x, `${op}.ltz`);
  return sub(p, x, await mulBit(p, neg, x, `${op}.mul`));
}

/**
 * b ? x : y for a comparison's masked bit (v2: mulMaskedBit, 8 bytes per element per server and 8 from the
 * dealer) or its plain share (v1: a Beaver product, 16 and 8). 1 round.
 */
export async function selectMasked(p: Party, b: MaskedBit, x: Shared, y: Shared, op = 'select'): Promise<Shared> {
  if (p.protocols === 'v1') return select(p, b.bit, x, y, op);
  const d = await mulMaskedBit(p, b, sub(p, x, y), op);
  return p.isDealer ? new Shared(x.shape, null) : new Shared(x.shape, p.ring.backend.add(y.s, d.s));
}

/** b ? x : y for an integer 0/1 share b. 1 round. */
export async function select(p: Party, b: Shared, x: Shared, y: Shared, op = 'select'): Promise<Shared> {
  const d = await mulBit(p, b, sub(p, x, y), op);
  return p.isDealer ? new Shared(x.shape, null) : new Shared(x.shape, p.ring.backend.add(y.s, d.s));
}

/** [x < c] for a public real c. */
export async function ltPublic(p: Party, x: Shared, c: number, op = 'lt'): Promise<Shared> {
  return ltz(p, addPublic(p, x, p.ring.backend.encode(Float64Array.of(-c), p.ring.fracBits)), op);
}

/** 1 - b for an integer bit share. */
export function notBit(p: Party, b: Shared): Shared {
  return addPublic(p, mulInt(p, b, -1n), BigUint64Array.of(1n));
}
