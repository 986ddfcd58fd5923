/**
 * BBT's random projection from the CMA-ES search space z ∈ R^d to the prompt p = A z (+ p0) ∈ R^D, D = L·H
 * (PAPER-NOTES §2; Sun et al. 2022). A is fixed for a run and seeded; its entries are:
 * - 'uniform' (BBT's default, `random_proj='he'`): U(-1/√d, 1/√d), which is PyTorch's default init of
 *   `nn.Linear(d, D, bias=False)` (kaiming_uniform_ with a = √5: bound = √(1/3)·√(3/d) = 1/√d);
 * - 'normal': N(0, std²). BBT's `normal` option uses std = 1/d. BBTv2 instead scales std from the word
 *   embedding statistics, std = α·σ_emb / (√d·σ0), so that z ~ N(0, σ0² I) gives prompt entries of std α·σ_emb
 *   (see `embeddingScaledStd`; under MPC σ_emb is one public number the model owner publishes).
 *
 * Row i of A comes from its own PRNG stream (seed, row), so A never has to be stored: rows are generated in
 * chunks of `chunkRows` and the whole matrix is cached only when it fits `cacheBytes` (BBT's 51,200 × 500
 * float64 is 205 MB). Every p_i is the sum Σ_j A_ij z_j in index order, so results do not depend on the
 * chunking or the cache. The PRNG is the public-randomness one (ts/model/random.ts): A stays on the data owner's
 * side and is not a secret the protocol relies on (the servers only ever see shares of p).
 */
import { SecpError } from '../../bindings/errors.js';
import { Rng } from '../model/random.js';

export type ProjectionKind = 'uniform' | 'normal';

export interface ProjectionOptions {
  /** Search dimension d (BBT: 500). */
  d: number;
  /** Prompt dimension D = prompt length × hidden size. */
  D: number;
  kind: ProjectionKind;
  seed: number | bigint;
  /** 'normal' only: the std of A's entries. Default 1/d (BBT). */
  std?: number;
  /** Cache A when D·d·8 bytes fit; default 256 MiB. 0 never caches. */
  cacheBytes?: number;
  /** Rows generated per chunk when A is not cached. Default 1024. */
  chunkRows?: number;
}

export const PROJECTION_DEFAULTS = { cacheBytes: 256 * 1024 * 1024, chunkRows: 1024 } as const;

/** Stream id separating A from every other use of the seeded PRNG. */
const PROJECTION_STREAM = 0x50_52_4a; // 'PRJ'

function invalid(message: string): never {
  throw new SecpError('ERR_INVALID_ARGUMENT', message);
}

/** BBTv2's std of a normal projection: α·σ_emb / (√d·σ0). */
export function embeddingScaledStd(embeddingStd: number, d: number, sigma0: number, alpha = 1): number {
  for (const [name, v] of [['embeddingStd', embeddingStd], ['sigma0', sigma0], ['alpha', alpha]] as const) {
    if (!(v > 0 && Number.isFinite(v))) invalid(`${name} must be a positive number, got ${v}`);
  }
  if (!Number.isSafeInteger(d) || d < 1) invalid(`d must be an integer >= 1, got ${d}`);
  return (alpha * embeddingStd) / (Math.sqrt(d) * sigma0);
}

export class RandomProjection {
  readonly d: number;
  readonly D: number;
  readonly kind: ProjectionKind;
  /** Std of A's entries ('normal'), or the half-width of the uniform range ('uniform'). */
  readonly scale: number;
  private readonly seed: number | bigint;
  private readonly chunkRows: number;
  private cache: Float64Array | null = null;

  constructor(options: ProjectionOptions) {
    const { d, D, kind, seed } = options;
    if (!Number.isSafeInteger(d) || d < 1) invalid(`projection d must be an integer >= 1, got ${d}`);
    if (!Number.isSafeInteger(D) || D < 1) invalid(`projection D must be an integer >= 1, got ${D}`);
    if (kind !== 'uniform' && kind !== 'normal') invalid(`projection must be 'uniform' or 'normal', got ${JSON.stringify(kind)}`);
    if (typeof seed === 'number' && (!Number.isSafeInteger(seed) || seed < 0)) {
      invalid(`projection seed must be a non-negative integer, got ${seed}`);
    }
    if (kind === 'uniform' && options.std !== undefined) invalid('projection std applies to the normal projection only');
    const std = options.std ?? 1 / d;
    if (!(std > 0 && Number.isFinite(std))) invalid(`projection std must be a positive number, got ${std}`);
    const cacheBytes = options.cacheBytes ?? PROJECTION_DEFAULTS.cacheBytes;
    if (!(cacheBytes >= 0)) invalid(`cacheBytes must be >= 0, got ${cacheBytes}`);
    const chunkRows = options.chunkRows ?? PROJECTION_DEFAULTS.chunkRows;
    if (!Number.isSafeInteger(chunkRows) || chunkRows < 1) invalid(`chunkRows must be an integer >= 1, got ${chunkRows}`);
    this.d = d;
    this.D = D;
    this.kind = kind;
    this.seed = seed;
    this.scale = kind === 'uniform' ? 1 / Math.sqrt(d) : std;
    this.chunkRows = chunkRows;
    if (D * d * 8 <= cacheBytes) this.cache = this.rows(0, D);
  }

  /** Rows [from, to) of A, row-major. */
  rows(from: number, to: number): Float64Array {
    const { d } = this;
    if (this.cache !== null) return this.cache.subarray(from * d, to * d);
    const out = new Float64Array((to - from) * d);
    for (let i = from; i < to; i++) {
      const rng = new Rng(this.seed, PROJECTION_STREAM, i);
      const o = (i - from) * d;
      if (this.kind === 'uniform') {
        for (let j = 0; j < d; j++) out[o + j] = (2 * rng.nextFloat() - 1) * this.scale;
      } else {
        for (let j = 0; j < d; j++) out[o + j] = this.scale * rng.normal();
      }
    }
    return out;
  }

  /**
   * p_k = A z_k (+ p0) for every z_k, in one pass over A (each chunk of rows is generated once for all k).
   * `p0` (length D) is BBT's initial prompt, e.g. a pre-trained one.
   */
  project(zs: readonly ArrayLike<number>[], p0?: ArrayLike<number>): Float64Array[] {
    const { d, D } = this;
    zs.forEach((z, k) => {
      if (z.length !== d) throw new SecpError('ERR_SHAPE_MISMATCH', `z[${k}] has ${z.length} entries, projection d is ${d}`);
    });
    if (p0 !== undefined && p0.length !== D) throw new SecpError('ERR_SHAPE_MISMATCH', `p0 has ${p0.length} entries, D is ${D}`);
    const out = zs.map(() => new Float64Array(D));
    const step = this.cache !== null ? D : this.chunkRows;
    for (let from = 0; from < D; from += step) {
      const to = Math.min(D, from + step);
      const a = this.rows(from, to);
      for (let k = 0; k < zs.length; k++) {
        const z = zs[k]!;
        const p = out[k]!;
        for (let i = from; i < to; i++) {
          const o = (i - from) * d;
          let s = 0;
          for (let j = 0; j < d; j++) s += a[o + j]! * z[j]!;
          p[i] = p0 === undefined ? s : s + p0[i]!;
        }
      }
    }
    return out;
  }
}
