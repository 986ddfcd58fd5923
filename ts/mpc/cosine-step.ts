/**
 * The private cosine's local step (ts/mpc/cosine.ts), on kernels only so that it also runs in browsers
 * (bindings/browser.ts exports it): from the opened d = angle + t and this server's shares of cos t, sin t,
 *   cos(angle) = cos d·[cos t] + sin d·[sin t],   sin(angle) = sin d·[cos t] − cos d·[sin t],
 * with cos d, sin d public fixed point of `publicBits` fractional bits. No communication.
 */
import type { KernelBackend } from '../../bindings/types.js';

export function cosSinStep(be: KernelBackend, d: BigUint64Array, cosT: BigUint64Array, sinT: BigUint64Array,
  publicBits: number): { cos: BigUint64Array; sin: BigUint64Array } {
  const pub = be.cosSinTurns(d, publicBits);
  return {
    cos: be.add(be.mul(pub.cos, cosT), be.mul(pub.sin, sinT)),
    sin: be.sub(be.mul(pub.sin, cosT), be.mul(pub.cos, sinT)),
  };
}
