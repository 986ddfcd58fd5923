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
  const rhoA = await p.deal(`${op}.rho`, n, () => p.ring.backend.and(rho, new BigUint64Array(n).fill(1n)));
  // AND triples for the tree: one shared first operand `a` with two second operands per level.
  const be = p.ring.backend;
  const levels = [1, 2, 4, 8, 16, 32];
  const triples: Array<{ a: BigUint64Array; b1: BigUint64Array; b2: BigUint64Array | null; c1: BigUint64Array; c2: BigUint64Array | null }> = [];
  for (const s of levels) {
    const last = s === 32;
    const a = p.randXor(n);
    const b1 = p.randXor(n);
    const b2 = last ? null : p.randXor(n);
    const c1 = await p.dealXor(`${op}.and${s}.c1`, n, () => be.and(a, b1));
    const c2 = last ? null : await p.dealXor(`${op}.and${s}.c2`, n, () => be.and(a, b2!));
    triples.push({ a, b1, b2, c1, c2 });
  }
  if (p.isDealer) return new Shared(x.shape, null);

  const me0 = p.index === 0;
  const [c] = await p.open(`${op}.open`, be.add(x.s, r));
  // Leaf level on the low 63 bits: G = ¬c ∧ r, E = ¬(c ⊕ r); bit 63 is "equal, not less".
  const low = new BigUint64Array(n).fill(LOW63);
  const notC = be.and(be.xor(c!, low), low);
  let g = be.and(notC, rBits);
  let e = be.and(be.xor(rBits, me0 ? notC : new BigUint64Array(n)), low);
  if (me0) e = be.xor(e, new BigUint64Array(n).fill(BIT63));
  for (let l = 0; l < levels.length; l++) {
    const s = levels[l]!;
    const t = triples[l]!;
    const dIn = be.shrXor(e, s, t.a); // E_hi ⊕ a
    const opened = t.b2 === null
      ? await p.openXor(`${op}.and${s}`, dIn, be.xor(g, t.b1))
      : await p.openXor(`${op}.and${s}`, dIn, be.xor(g, t.b1), be.xor(e, t.b2));
    const d = opened[0]!;
    const eHiAndGLo = be.beaverAnd(t.c1, t.a, t.b1, d, opened[1]!, me0);
    const eNext = t.b2 === null ? e : be.beaverAnd(t.c2!, t.a, t.b2, d, opened[2]!, me0); // E_hi ∧ E_lo
    g = be.shrXor(g, s, eHiAndGLo); // G_hi ⊕ (E_hi ∧ G_lo)
    e = eNext;
  }
  // msb(x) = msb(c) ⊕ msb(r) ⊕ borrow, as XOR shares of a bit in the low position; masked by ρ.
  const one = new BigUint64Array(n).fill(1n);
  let z = be.shrXor(rBits, 63, be.and(be.xor(g, rho), one));
  if (me0) z = be.shrXor(c!, 63, z);
  const [zOpen] = await p.openXor(`${op}.b2a`, packBits(z));
  const zz = unpackBits(zOpen!, n);
  // [b] = z ⊕ ρ = z + ρ − 2zρ over the integers.
  let out = be.sub(rhoA, be.scalarMul(be.mul(zz, rhoA), 2n));
  if (me0) out = be.add(out, zz);
  return new Shared(x.shape, out);
}

/** Low bits of the words, 64 to a word (read through 32-bit views: fast, no BigInt per element). */
function packBits(words: BigUint64Array): BigUint64Array {
  const src = new Uint32Array(words.buffer, words.byteOffset, words.length * 2);
  const out = new BigUint64Array(Math.ceil(words.length / 64));
  const dst = new Uint32Array(out.buffer);
  for (let i = 0; i < words.length; i++) dst[i >> 5]! |= (src[2 * i]! & 1) << (i & 31);
  return out;
}

function unpackBits(packed: BigUint64Array, n: number): BigUint64Array {
  const src = new Uint32Array(packed.buffer, packed.byteOffset, packed.length * 2);
  const out = new BigUint64Array(n);
  const dst = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) dst[2 * i] = (src[i >> 5]! >>> (i & 31)) & 1;
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
