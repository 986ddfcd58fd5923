/**
 * The private cosine/sine protocol (SecP-Tuning §3, DESIGN §3). Angles are shared in *turns*
 * (2^64 ring units = one period), so the ring's wrap-around is exactly one period.
 * Offline, the dealer shares a uniform t with [cos t], [sin t] (fixed point, f bits).
 * Online: open d = angle + t (uniform, so it reveals nothing), then locally (cosSinStep, cosine-step.ts)
 *   cos(angle) = cos d·[cos t] + sin d·[sin t],   sin(angle) = sin d·[cos t] − cos d·[sin t].
 *   rounds: 1; bytes per element per server: 8 (v2: 4); dealer → S1: 16 per element (v2 with `ring` m: 2m/8).
 *   error: |cos - cos_true| ≤ 2^-f (dealer's rounding of cos t) + 2^-f' (public cos d) per output,
 *          before the caller's truncation.
 * v2 (default) opens 32 bits instead of 64: each server first drops its share's low 32 bits (a local
 * truncation: the angle loses at most 2^-32 turn, against outputs at 2^-f) and the mask t is a multiple of 2^32,
 * so d = angle + t is opened mod 2^64 from its top 32 bits: 4 bytes per element per server.
 * The outputs carry f + f' fractional bits (f' = `publicBits`, default f): the caller truncates
 * after its next linear step (RFA does so after φ(K)ᵀV), which keeps this protocol at one round.
 *
 * cosSinCrypten is CrypTen's approach (Re/Im of (1 + i·x/2^10)^(2^10): 10 sequential complex
 * squarings), kept as the bench baseline only.
 */
import { SecpError } from '../../bindings/errors.js';
import { mulRaw } from './beaver.js';
import { cosSinStep } from './cosine-step.js';
import type { Party } from './party.js';
import { Shared, add, addPublic, cat, sub } from './shared.js';
import { truncate } from './truncation.js';

export interface CosSin {
  cos: Shared;
  sin: Shared;
  /** Fractional bits of the outputs (f + publicBits). */
  fracBits: number;
}

/** Angle shares in turns: angles = X · Kᵀ for integer K (from backend.angleScale); local, 0 rounds. */
export function anglesFromFeatures(p: Party, x: Shared, kT: BigUint64Array, features: number): Shared {
  const [m, d] = x.shape as [number, number];
  if (x.shape.length !== 2 || kT.length !== features * d) {
    throw new SecpError('ERR_SHAPE_MISMATCH', `angles: features [${features}, ${kT.length / features}] do not fit input [${x.shape.join(', ')}]`);
  }
  return new Shared([m, features], p.isDealer ? null : p.ring.backend.matmulBT(x.s, kT, m, d, features));
}

/**
 * `ring` (v2, default 64): the caller uses the outputs mod 2^ring only (e.g. truncate's `from`), so the dealer
 * sends its shares of cos t and sin t mod 2^ring, as bit planes: 2·ring/8 bytes per element instead of 16.
 */
export async function cosSin(p: Party, angle: Shared, op = 'cos', publicBits = p.ring.fracBits, ring = 64): Promise<CosSin> {
  const be = p.ring.backend;
  const f = p.ring.fracBits;
  const n = angle.size;
  const narrow = p.protocols === 'v2';
  if (!Number.isInteger(ring) || ring < 2 || ring > 64 || (ring < 64 && !narrow)) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `${op}: the output ring must be an integer in 2..64 (64 with v1 protocols), got ${ring}`);
  }
  const HIGH = 1n << 32n;
  const t = narrow ? be.scalarMul(p.mask(op, n), HIGH) : p.mask(op, n);
  let cs: { cos: BigUint64Array; sin: BigUint64Array } | undefined;
  const trig = (): { cos: BigUint64Array; sin: BigUint64Array } => (cs ??= be.cosSinTurns(t, f));
  const cosT = ring === 64 ? await p.deal(`${op}.cos_t`, n, () => trig().cos) : await p.dealBits(`${op}.cos_t`, n, ring, () => trig().cos);
  const sinT = ring === 64 ? await p.deal(`${op}.sin_t`, n, () => trig().sin) : await p.dealBits(`${op}.sin_t`, n, ring, () => trig().sin);
  const bits = f + publicBits;
  if (p.isDealer) return { cos: new Shared(angle.shape, null), sin: new Shared(angle.shape, null), fracBits: bits };
  const top = (x: BigUint64Array) => be.shrXor(x, 32, new BigUint64Array(n));
  const d = narrow
    ? be.scalarMul((await p.openBits(op, 32, be.add(top(angle.s), top(t))))[0]!, HIGH)
    : (await p.open(op, be.add(angle.s, t)))[0];
  const { cos, sin } = cosSinStep(be, d!, cosT, sinT, publicBits);
  return { cos: new Shared(angle.shape, cos), sin: new Shared(angle.shape, sin), fracBits: bits };
}

/**
 * CrypTen's cos/sin of a fixed-point angle in radians (|x| ≲ 2^10 for accuracy): z = 1 + i·x/2^10,
 * squared 10 times. 20 rounds (each squaring: one multiplication round and one truncation round).
 */
export async function cosSinCrypten(p: Party, x: Shared, op = 'cos.crypten', iterations = 10): Promise<{ cos: Shared; sin: Shared }> {
  const f = p.ring.fracBits;
  let re = addPublic(p, new Shared(x.shape, p.isDealer ? null : new BigUint64Array(x.size)), BigUint64Array.of(1n << BigInt(f)));
  let im = await truncate(p, x, iterations, `${op}.scale`);
  for (let i = 0; i < iterations; i++) {
    // (re + i·im)² = re² − im² + i·2·re·im, all three products in one round.
    const both = await mulRaw(p, cat(p, [re, re, im]), cat(p, [re, im, im]), `${op}.sq`);
    const t = await truncate(p, both, f, `${op}.trunc`);
    const n = x.size;
    const rr = t.rows(0, n), ri = t.rows(n, 2 * n), ii = t.rows(2 * n, 3 * n);
    re = sub(p, rr, ii);
    im = add(p, ri, ri);
  }
  return { cos: re.reshape(x.shape), sin: im.reshape(x.shape) };
}
