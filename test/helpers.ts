/** Shared fixtures for tests: the backends under test and deterministic random data. */
import { loadBackendByName } from '../bindings/index.js';
import { loadJs } from '../bindings/js.js';
import type { KernelBackend } from '../bindings/types.js';
import { Prg } from '../ts/ring/prg.js';

export const reference: KernelBackend = loadJs();

/** The compiled backends every kernel test runs against; a missing one fails the suite. */
export const compiledBackends = ['native', 'wasm'] as const;

export function backend(name: 'native' | 'wasm' | 'js'): KernelBackend {
  return loadBackendByName(name);
}

/** Deterministic uniform ring elements for a test, keyed by a label. */
export function randomRing(label: string, n: number): BigUint64Array {
  const key = new Uint8Array(32);
  const bytes = new TextEncoder().encode(label);
  for (let i = 0; i < bytes.length; i++) key[i % 32] ^= bytes[i]!;
  return new Prg(reference, key, BigInt(bytes.length)).next(n);
}

/** Deterministic reals in [-r, r). */
export function randomReals(label: string, n: number, r: number): Float64Array {
  const u = randomRing(label, n);
  return Float64Array.from(u, (x) => (Number(x >> 11n) / 2 ** 53 * 2 - 1) * r);
}

/** The naive y = x Wᵀ + b: every output summed from 0 in index order, then the bias (what linearF64 and plain.ts's linear promise). */
export function naiveLinear(x: Float64Array, rows: number, inDim: number, w: Float32Array, b: Float32Array): Float64Array {
  const y = new Float64Array(rows * b.length);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < b.length; o++) {
      let s = 0;
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i]! * w[o * inDim + i]!;
      y[r * b.length + o] = s + b[o]!;
    }
  }
  return y;
}
