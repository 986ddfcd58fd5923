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

const LOW63 = (1n << 63n) - 1n;
const OFFSET = 1n << 62n;

export async function truncate(p: Party, x: Shared, bits: number = p.ring.fracBits, op = 'trunc'): Promise<Shared> {
  if (!Number.isInteger(bits) || bits < 0 || bits > 62) throw new SecpError('ERR_INVALID_ARGUMENT', `truncation bits must be in 0..62, got ${bits}`);
  if (bits === 0) return x;
  const n = x.size;
  const f = BigInt(bits);
  const r = p.rand(n);
  const rTr = await p.deal(`${op}.r_tr`, n, () => r.map((v) => (v & LOW63) >> f));
  const rMsb = await p.deal(`${op}.r_msb`, n, () => r.map((v) => v >> 63n));
  if (p.isDealer) return new Shared(x.shape, null);
  const xs = x.s;
  const masked = new BigUint64Array(n);
  const off = p.index === 0 ? OFFSET : 0n;
  for (let i = 0; i < n; i++) masked[i] = xs[i]! + off + r[i]!;
  const [c] = await p.open(op, masked);
  const out = new BigUint64Array(n);
  const hi = 1n << (63n - f);
  const back = p.index === 0 ? OFFSET >> f : 0n;
  for (let i = 0; i < n; i++) {
    const ci = c![i]!;
    const cm = ci >> 63n;
    // [b] = cm xor [r_msb] = cm + (1 - 2cm)[r_msb]
    const b = (p.index === 0 ? cm : 0n) + (cm === 0n ? rMsb[i]! : -rMsb[i]!);
    const pub = p.index === 0 ? (ci & LOW63) >> f : 0n;
    out[i] = pub - rTr[i]! + hi * b - back;
  }
  return new Shared(x.shape, out);
}
