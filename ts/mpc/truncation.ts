/**
 * Dealer-assisted truncation (Escudero et al., CRYPTO 2020, "Improved primitives for MPC over mixed
 * arithmetic-binary circuits", §4): divides shared values by 2^bits.
 * How: shift x into [0, 2^63) by adding 2^62, open c = x' + r with r uniform; the dealer also shares
 * (r mod 2^63) >> bits and r's top bit, which fix the one wrap that can occur: b = msb(c) xor msb(r).
 *   error: the result is floor(x / 2^bits) or one more, so |error| < 1 ulp, for every |x| < 2^62;
 *   no catastrophic wrap anywhere in that range (it is deterministic, not probabilistic).
 * v1 (bc2c1c5): rounds 1; per element 8 bytes per server online, 16 from the dealer.
 * v2 (default): the top bit's share enters only multiplied by 2^(63−bits), so the dealer sends it mod
 * 2^(bits+1) as bit planes: 8 + (bits+1)/8 bytes from the dealer (10.125 at bits = 16).
 * v2 also truncates values held mod 2^m (`from: m`, e.g. a product computed in a narrow ring): for
 * |x| < 2^(m−2) the shares times 2^(64−m) are shares of x·2^(64−m) in Z_2^64, whose low 64 − m bits are 0;
 * the mask is r·2^(64−m), so only c's top m bits are opened (m/8 bytes per server) and the finish divides
 * by 2^(bits + 64 − m): dealer 8 + (bits + 65 − m)/8 bytes. The output is in Z_2^64.
 */
import { SecpError } from '../../bindings/errors.js';
import type { Party } from './party.js';
import { Shared } from './shared.js';

const OFFSET = 1n << 62n;

export interface TruncOptions {
  /** The input is only known mod 2^from (v2; default 64): the result is right for |x| < 2^(from−2). */
  from?: number;
}

/** Rounds and bytes per element of truncate, n a multiple of 64 (what the meter counts). */
export function truncCosts(p: Pick<Party, 'protocols'>, bits: number, from = 64): { serverBytes: number; dealerBytes: number } {
  if (p.protocols === 'v1') return { serverBytes: 8, dealerBytes: 16 };
  const shift = bits + 64 - from;
  return { serverBytes: from / 8, dealerBytes: 8 + Math.min(64, shift + 1) / 8 };
}

export async function truncate(p: Party, x: Shared, bits: number = p.ring.fracBits, op = 'trunc', opts: TruncOptions = {}): Promise<Shared> {
  const from = opts.from ?? 64;
  if (!Number.isInteger(from) || from < 2 || from > 64 || (from < 64 && p.protocols === 'v1')) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `${op}: the input width must be an integer in 2..64 (64 with v1 protocols), got ${from}`);
  }
  const up = 64 - from;
  const shift = bits + up;
  if (!Number.isInteger(bits) || bits < 0 || shift > 62) throw new SecpError('ERR_INVALID_ARGUMENT', `${op}: truncation bits must be in 0..${62 - up}, got ${bits}`);
  if (bits === 0 && up === 0) return x;
  const n = x.size;
  const be = p.ring.backend;
  const scale = 1n << BigInt(up);
  const r = up === 0 ? p.rand(n) : be.scalarMul(p.rand(n), scale);
  const zero = (): BigUint64Array => new BigUint64Array(n);
  let dealt: { tr: BigUint64Array; msb: BigUint64Array } | undefined;
  const deal = () => (dealt ??= be.truncDeal(r, shift));
  const rTr = await p.deal(`${op}.r_tr`, n, () => deal().tr);
  const msb = () => deal().msb;
  const rMsb = p.protocols === 'v1' ? await p.deal(`${op}.r_msb`, n, msb) : await p.dealBits(`${op}.r_msb`, n, Math.min(64, shift + 1), msb);
  if (p.isDealer) return new Shared(x.shape, null);
  let masked = be.add(up === 0 ? x.s : be.scalarMul(x.s, scale), r);
  if (p.index === 0) masked = be.addScalar(masked, OFFSET);
  // c's low `up` bits are 0 in both shares: open the top `from` bits.
  const c = up === 0 ? (await p.open(op, masked))[0]! : be.scalarMul((await p.openBits(op, from, be.shrXor(masked, up, zero())))[0]!, scale);
  return new Shared(x.shape, be.truncFinish(c, rTr, rMsb, shift, p.index === 0));
}
