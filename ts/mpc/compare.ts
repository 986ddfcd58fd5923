/**
 * Comparison with dealer help: the sign of a shared value, and what is built on it (ReLU, select,
 * clip). The servers open c = x + r for a dealer-random r whose bits the dealer also XOR-shares; then
 * msb(x) = msb(c) ⊕ msb(r) ⊕ [c mod 2^63 < r mod 2^63], and the last term is a comparison of a public
 * 63-bit number with secret bits, done by a prefix tree of AND gates on whole words (a bit per position;
 * 2 ANDs per level with one shared operand, 6 levels), then converted to an arithmetic 0/1 share with a
 * dealer random bit (the low bit of a shared uniform word is the XOR of the shares' low bits).
 *   rounds: 8 (1 opening + 6 tree levels + 1 conversion); exact for every x in Z_2^64.
 *   bytes per element per server: 8 (c) + 5·24 + 16 (tree) + 1/8 (conversion) ≈ 144.
 *   dealer → S1: 8 (r's bits) + 5·16 + 8 (AND triples) + 8 (the random bit) ≈ 104 per element.
 * ltz returns an *integer* share of [x < 0] (1, not 2^f), so multiplying by it needs no truncation.
 */
import type { Party } from './party.js';
import { mulRaw } from './beaver.js';
import { Shared, addPublic, mulInt, sub } from './shared.js';

const LOW63 = (1n << 63n) - 1n;
const BIT63 = 1n << 63n;

/** Arithmetic share of [x < 0] as an integer 0/1. */
export async function ltz(p: Party, x: Shared, op = 'ltz'): Promise<Shared> {
  const n = x.size;
  const r = p.rand(n);
  const rBits = await p.dealXor(`${op}.r_bits`, n, () => r);
  const rho = p.rand(n); // only its low bit is used: XOR-shared by the shares' low bits
  const rhoA = await p.deal(`${op}.rho`, n, () => rho.map((v) => v & 1n));
  // AND triples for the tree: one shared first operand `a` with two second operands per level.
  const levels = [1, 2, 4, 8, 16, 32];
  const triples: Array<{ a: BigUint64Array; b1: BigUint64Array; b2: BigUint64Array | null; c1: BigUint64Array; c2: BigUint64Array | null }> = [];
  for (const s of levels) {
    const last = s === 32;
    const a = p.randXor(n);
    const b1 = p.randXor(n);
    const b2 = last ? null : p.randXor(n);
    const c1 = await p.dealXor(`${op}.and${s}.c1`, n, () => a.map((v, i) => v & b1[i]!));
    const c2 = last ? null : await p.dealXor(`${op}.and${s}.c2`, n, () => a.map((v, i) => v & b2![i]!));
    triples.push({ a, b1, b2, c1, c2 });
  }
  if (p.isDealer) return new Shared(x.shape, null);

  const me0 = p.index === 0;
  const masked = p.ring.backend.add(x.s, r);
  const [c] = await p.open(`${op}.open`, masked);
  // Leaf level: G = ¬c ∧ r, E = ¬(c ⊕ r) on the low 63 bits; bit 63 is "equal, not less".
  let g: BigUint64Array = new BigUint64Array(n);
  let e: BigUint64Array = new BigUint64Array(n);
  for (let i = 0; i < n; i++) {
    const nc = ~c![i]! & LOW63;
    g[i] = nc & rBits[i]! & LOW63;
    e[i] = me0 ? ((rBits[i]! ^ nc) & LOW63) | BIT63 : rBits[i]! & LOW63;
  }
  for (let l = 0; l < levels.length; l++) {
    const s = BigInt(levels[l]!);
    const t = triples[l]!;
    const u = e.map((v) => v >> s); // E_hi
    const last = t.b2 === null;
    const dIn = u.map((v, i) => v ^ t.a[i]!);
    const e1In = g.map((v, i) => v ^ t.b1[i]!);
    const opened = last
      ? await p.openXor(`${op}.and${levels[l]}`, dIn, e1In)
      : await p.openXor(`${op}.and${levels[l]}`, dIn, e1In, e.map((v, i) => v ^ t.b2![i]!));
    const d = opened[0]!;
    const and = (cc: BigUint64Array, bb: BigUint64Array, ee: BigUint64Array): BigUint64Array =>
      cc.map((v, i) => v ^ (d[i]! & bb[i]!) ^ (ee[i]! & t.a[i]!) ^ (me0 ? d[i]! & ee[i]! : 0n));
    const ug = and(t.c1, t.b1, opened[1]!); // E_hi ∧ G_lo
    const gHi = g.map((v) => v >> s);
    const ue = last ? e : and(t.c2!, t.b2!, opened[2]!); // E_hi ∧ E_lo
    g = gHi.map((v, i) => v ^ ug[i]!);
    e = ue;
  }
  // msb(x) = msb(c) ⊕ msb(r) ⊕ borrow, as XOR shares of a bit; then to an arithmetic 0/1 share.
  const zBits = new BigUint64Array(n);
  for (let i = 0; i < n; i++) {
    const bit = (me0 ? c![i]! >> 63n : 0n) ^ (rBits[i]! >> 63n) ^ (g[i]! & 1n);
    zBits[i] = bit ^ (rho[i]! & 1n);
  }
  const [z] = await p.openXor(`${op}.b2a`, packBits(zBits));
  const zz = unpackBits(z!, n);
  const out = new BigUint64Array(n);
  for (let i = 0; i < n; i++) {
    const zi = zz[i]!;
    out[i] = (me0 ? zi : 0n) + (zi === 0n ? rhoA[i]! : -rhoA[i]!);
  }
  return new Shared(x.shape, out);
}

function packBits(bits: BigUint64Array): BigUint64Array {
  const out = new BigUint64Array(Math.ceil(bits.length / 64));
  for (let i = 0; i < bits.length; i++) if (bits[i]! & 1n) out[i >> 6] = out[i >> 6]! | (1n << BigInt(i & 63));
  return out;
}

function unpackBits(words: BigUint64Array, n: number): BigUint64Array {
  const out = new BigUint64Array(n);
  for (let i = 0; i < n; i++) out[i] = (words[i >> 6]! >> BigInt(i & 63)) & 1n;
  return out;
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
