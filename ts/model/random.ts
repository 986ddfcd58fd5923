/**
 * Seeded, non-cryptographic PRNG for *public* randomness: tiny-model weights, RFA feature matrices, test
 * fixtures. xoshiro256** (Blackman & Vigna 2018) seeded through SplitMix64; normals by Box-Muller.
 * Never use it for shares or masks: those come from the cryptographic PRG in ts/mpc.
 */
import { SecpError } from '../../bindings/errors.js';

const MASK64 = (1n << 64n) - 1n;
const GOLDEN_GAMMA = 0x9e3779b97f4a7c15n;
const TWO_POW_32 = 2 ** 32;
const TWO_POW_53 = 2 ** 53;

function toU64(name: string, v: number | bigint): bigint {
  if (typeof v === 'number' && !Number.isSafeInteger(v)) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `${name} must be a safe integer or a bigint, got ${String(v)}`);
  }
  return BigInt.asUintN(64, BigInt(v));
}

/** SplitMix64's output function (Steele, Lea & Flood 2014): a bijective 64-bit mixer. */
function mix64(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/**
 * xoshiro256** generator. `new Rng(seed, ...stream)` gives an independent stream per path, e.g.
 * `new Rng(seed, RFA_STREAM, layer, head)`, so adding a consumer never shifts another one's numbers.
 */
export class Rng {
  // Four 64-bit words as (hi, lo) uint32 pairs: the hot path stays in Number arithmetic (BigInt is ~50x slower).
  private readonly s = new Uint32Array(8);
  private spare: number | undefined;

  constructor(seed: number | bigint, ...stream: number[]) {
    let key = toU64('seed', seed);
    stream.forEach((part, i) => {
      key = mix64((key + GOLDEN_GAMMA * (toU64(`stream[${i}]`, part) + 1n)) & MASK64);
    });
    // SplitMix64 expansion of the key into the 256-bit state, as the xoshiro authors recommend.
    for (let w = 0; w < 4; w++) {
      key = (key + GOLDEN_GAMMA) & MASK64;
      const z = mix64(key);
      this.s[2 * w] = Number(z >> 32n);
      this.s[2 * w + 1] = Number(z & 0xffffffffn);
    }
  }

  /** Next 64-bit output as [hi, lo] uint32 halves. */
  private next(): [number, number] {
    const s = this.s;
    // result = rotl(s1 * 5, 7) * 9
    let [hi, lo] = mulSmall(s[2], s[3], 5);
    [hi, lo] = rotl(hi, lo, 7);
    [hi, lo] = mulSmall(hi, lo, 9);
    // t = s1 << 17
    const tHi = ((s[2] << 17) | (s[3] >>> 15)) >>> 0;
    const tLo = (s[3] << 17) >>> 0;
    s[4] ^= s[0]; s[5] ^= s[1]; // s2 ^= s0
    s[6] ^= s[2]; s[7] ^= s[3]; // s3 ^= s1
    s[2] ^= s[4]; s[3] ^= s[5]; // s1 ^= s2
    s[0] ^= s[6]; s[1] ^= s[7]; // s0 ^= s3
    s[4] ^= tHi; s[5] ^= tLo; // s2 ^= t
    const [h3, l3] = rotl(s[6], s[7], 45);
    s[6] = h3; s[7] = l3;
    return [hi, lo];
  }

  /** Next output as a bigint in [0, 2^64). */
  nextU64(): bigint {
    const [hi, lo] = this.next();
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** Uniform double in [0, 1) from the top 53 bits. */
  nextFloat(): number {
    const [hi, lo] = this.next();
    return (hi * 2 ** 21 + (lo >>> 11)) / TWO_POW_53;
  }

  /** Standard normal N(0, 1) by Box-Muller (the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spare !== undefined) {
      const z = this.spare;
      this.spare = undefined;
      return z;
    }
    const u1 = 1 - this.nextFloat(); // in (0, 1]: log stays finite
    const u2 = this.nextFloat();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** Fills `out` with mean + std * N(0, 1), in index order. */
  fillNormal(out: Float32Array | Float64Array, std = 1, mean = 0): void {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
  }
}

function mulSmall(hi: number, lo: number, k: number): [number, number] {
  const l = lo * k; // < 2^36: exact in a double
  return [(hi * k + Math.floor(l / TWO_POW_32)) >>> 0, l >>> 0];
}

function rotl(hi: number, lo: number, r: number): [number, number] {
  if (r >= 32) {
    [hi, lo] = [lo, hi];
    r -= 32;
  }
  if (r === 0) return [hi, lo];
  return [((hi << r) | (lo >>> (32 - r))) >>> 0, ((lo << r) | (hi >>> (32 - r))) >>> 0];
}
