/**
 * Dealer-assisted truncation (Escudero et al., CRYPTO 2020, "Improved primitives for MPC over mixed
 * arithmetic-binary circuits", §4): divides shared values by 2^bits.
 *   rounds: 1; bytes per element per server: 8 online; dealer → S1: 16 per element.
 *   error: the result is floor(x / 2^bits) or one more, so |error| < 1 ulp, for every |x| < 2^62;
 *   no catastrophic wrap anywhere in that range (it is deterministic, not probabilistic).
 * How: shift x into [0, 2^63) by adding 2^62, open c = x' + r with r uniform; the dealer also shares
 * (r mod 2^63) >> bits and r's top bit, which fix the one wrap that can occur: b = msb(c) xor msb(r).
 */
import { SecpError } from '../../bindings/errors.js';
import type { Party } from './party.js';
import { Shared } from './shared.js';

const OFFSET = 1n << 62n;

export async function truncate(p: Party, x: Shared, bits: number = p.ring.fracBits, op = 'trunc'): Promise<Shared> {
  if (!Number.isInteger(bits) || bits < 0 || bits > 62) throw new SecpError('ERR_INVALID_ARGUMENT', `truncation bits must be in 0..62, got ${bits}`);
  if (bits === 0) return x;
  const n = x.size;
  const be = p.ring.backend;
  const r = p.rand(n);
  let dealt: { tr: BigUint64Array; msb: BigUint64Array } | undefined;
  const deal = () => (dealt ??= be.truncDeal(r, bits));
  const rTr = await p.deal(`${op}.r_tr`, n, () => deal().tr);
  const rMsb = await p.deal(`${op}.r_msb`, n, () => deal().msb);
  if (p.isDealer) return new Shared(x.shape, null);
  let masked = be.add(x.s, r);
  if (p.index === 0) masked = be.addScalar(masked, OFFSET);
  const [c] = await p.open(op, masked);
  return new Shared(x.shape, be.truncFinish(c!, rTr, rMsb, bits, p.index === 0));
}
