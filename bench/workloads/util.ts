/** Helpers the bench workloads share: deterministic data, sharing inputs and weights, revealing outputs. */
import type { KernelBackend } from '../../bindings/types.js';
import { InputParty, input, reveal } from '../../ts/mpc/io.js';
import type { Shared } from '../../ts/mpc/shared.js';
import type { PartyId } from '../../ts/net/index.js';
import { Prg } from '../../ts/ring/prg.js';
import { shapeSize, type Shape } from '../../ts/ring/tensor.js';
import type { PartyContext } from './types.js';

function keyOf(label: string): Uint8Array {
  const key = new Uint8Array(32);
  const bytes = new TextEncoder().encode(label);
  for (let i = 0; i < bytes.length; i++) key[i % 32] ^= bytes[i]!;
  key[31] ^= bytes.length & 0xff;
  return key;
}

/** Deterministic uniform ring words for a label (the same on every party and in the plaintext baseline). */
export function words(be: KernelBackend, label: string, n: number): BigUint64Array {
  return new Prg(be, keyOf(label)).next(n);
}

/** Deterministic reals uniform in [-r, r). */
export function uniform(be: KernelBackend, label: string, n: number, r: number): Float64Array {
  return Float64Array.from(words(be, label, n), (x) => (Number(x >> 11n) / 2 ** 53 * 2 - 1) * r);
}

/** Deterministic standard normals (Box–Muller) times `std`. */
export function normal(be: KernelBackend, label: string, n: number, std = 1): Float64Array {
  const u = words(be, label, 2 * n);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const a = (Number(u[2 * i]! >> 11n) + 1) / (2 ** 53 + 1);
    const b = Number(u[2 * i + 1]! >> 11n) / 2 ** 53;
    out[i] = std * Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * b);
  }
  return out;
}

/**
 * `owner` secret-shares ring values (from `values()`, evaluated on the owner only) into S0 and S1; the
 * servers get their share, the dealer the shape; any other role gets null.
 */
export async function share(ctx: PartyContext, owner: PartyId, op: string, shape: Shape, values: () => BigUint64Array): Promise<Shared | null> {
  if (ctx.role === owner) {
    const v = values();
    if (v.length !== shapeSize(shape)) throw new Error(`${op}: ${v.length} values for shape [${shape.join(', ')}]`);
    new InputParty(ctx.link, ctx.backend).share(op, v);
    return null;
  }
  if (ctx.party === null) return null;
  return input(ctx.party, owner, op, shape);
}

/** Servers send their shares of x to `to`; `to` receives and returns the n ring values; others get null. */
export async function revealTo(ctx: PartyContext, to: PartyId, op: string, x: Shared | null, n: number): Promise<BigUint64Array | null> {
  if (ctx.party !== null && x !== null) {
    reveal(ctx.party, to, op, x);
    return null;
  }
  if (ctx.role !== to) return null;
  return new InputParty(ctx.link, ctx.backend).receive(op, n);
}

/** Largest |a_i - b_i|. */
export function maxAbsError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
