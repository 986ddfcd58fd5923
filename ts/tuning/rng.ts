/**
 * Deterministic, serialisable PRNG for the data owner's local search (CMA-ES sampling).
 *
 * NOT for secret shares or anything cryptographic: it is xoshiro128** (Blackman & Vigna, "Scrambled
 * linear pseudorandom number generators", 2021; reference C at prng.di.unimi.it), seeded through
 * SplitMix64 as its authors recommend. Gaussians come from Marsaglia's polar method, which needs only
 * `Math.sqrt` (correctly rounded) and `Math.log` (V8's fdlibm port, the same on every platform), so a
 * given seed gives the same stream on every machine running the same engine. The full state (four
 * 32-bit words and the cached second Gaussian of the polar pair) is a plain JSON object, so a run can be
 * checkpointed and resumed bit-identically.
 */
import { SecpError } from '../../bindings/errors.js';

/** 2^64, the seed space of SplitMix64. */
const SEED_MODULUS = 1n << 64n;
const MASK64 = SEED_MODULUS - 1n;
/** 2^-53: scales a 53-bit integer onto [0, 1). */
const TWO_POW_MINUS_53 = 1 / 9007199254740992;
/** 2^26: weight of the high 27 bits when two 32-bit outputs form one 53-bit mantissa. */
const TWO_POW_26 = 67108864;

/** Name recorded in serialised state so a future algorithm change cannot be resumed silently. */
export const RNG_ALGORITHM = 'xoshiro128**/splitmix64/polar' as const;

/** JSON-serialisable RNG state. */
export interface RngState {
  algorithm: typeof RNG_ALGORITHM;
  /** The four xoshiro128** state words, each an unsigned 32-bit integer. */
  s: [number, number, number, number];
  /** Second normal deviate of the last polar pair, not yet handed out. */
  spareGaussian: number | null;
}

/** SplitMix64 (Steele, Lea & Flood 2014; Vigna's reference `splitmix64.c`): yields 64-bit outputs. */
export function* splitmix64(seed: bigint): Generator<bigint, never, void> {
  let x = seed & MASK64;
  for (;;) {
    x = (x + 0x9e3779b97f4a7c15n) & MASK64;
    let z = x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    yield z ^ (z >> 31n);
  }
}

function normaliseSeed(seed: number | bigint): bigint {
  if (typeof seed === 'bigint') {
    if (seed < 0n || seed >= SEED_MODULUS) {
      throw new SecpError('ERR_INVALID_ARGUMENT', `seed must be a bigint in [0, 2^64), got ${seed}`);
    }
    return seed;
  }
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new SecpError(
      'ERR_INVALID_ARGUMENT',
      `seed must be a non-negative safe integer or a bigint in [0, 2^64), got ${String(seed)}`,
    );
  }
  return BigInt(seed);
}

function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

/** xoshiro128** with uniform doubles and polar-method Gaussians. */
export class Xoshiro128ss {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null = null;

  /** Seeds the four state words from the first two SplitMix64 outputs (low word first). */
  constructor(seed: number | bigint) {
    const sm = splitmix64(normaliseSeed(seed));
    const a = sm.next().value;
    const b = sm.next().value;
    this.s0 = Number(a & 0xffffffffn);
    this.s1 = Number(a >> 32n);
    this.s2 = Number(b & 0xffffffffn);
    this.s3 = Number(b >> 32n);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) {
      // The all-zero state is the one fixed point of the generator; SplitMix64 output makes it
      // practically unreachable, but a fixed non-zero word keeps the invariant unconditional.
      this.s0 = 1;
    }
  }

  /** Restores a generator from `state()` output, validating every field. */
  static fromState(state: unknown): Xoshiro128ss {
    const st = state as Partial<RngState> | null;
    if (
      st === null ||
      typeof st !== 'object' ||
      st.algorithm !== RNG_ALGORITHM ||
      !Array.isArray(st.s) ||
      st.s.length !== 4 ||
      !st.s.every(isU32) ||
      (st.s[0] | st.s[1] | st.s[2] | st.s[3]) === 0 ||
      !(st.spareGaussian === null || (typeof st.spareGaussian === 'number' && Number.isFinite(st.spareGaussian)))
    ) {
      throw new SecpError(
        'ERR_INVALID_ARGUMENT',
        `rng state must be {algorithm: '${RNG_ALGORITHM}', s: four non-all-zero uint32, spareGaussian: finite number | null}`,
      );
    }
    const rng = new Xoshiro128ss(0);
    [rng.s0, rng.s1, rng.s2, rng.s3] = st.s;
    rng.spare = st.spareGaussian;
    return rng;
  }

  /** Plain-object copy of the full state. */
  state(): RngState {
    return {
      algorithm: RNG_ALGORITHM,
      s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0],
      spareGaussian: this.spare,
    };
  }

  /** Next 32-bit output as an unsigned integer. */
  nextU32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits (two 32-bit outputs, high 27 + 26 bits). */
  nextDouble(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * TWO_POW_26 + lo) * TWO_POW_MINUS_53;
  }

  /** Standard normal deviate (Marsaglia polar method; the second of each pair is cached in the state). */
  nextGaussian(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    for (;;) {
      const u = 2 * this.nextDouble() - 1;
      const v = 2 * this.nextDouble() - 1;
      const s = u * u + v * v;
      if (s >= 1 || s === 0) continue;
      const f = Math.sqrt((-2 * Math.log(s)) / s);
      this.spare = v * f;
      return u * f;
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
