/**
 * Plain-JS BigInt reference backend: the oracle the native and wasm backends are tested against,
 * and the "plain JS" column of the kernel bench. Same checks, same error codes, same float op order.
 */
import { SecpError, assertDim, assertPlaneBits, assertSeries, assertTerms } from './errors.js';
import type { KernelBackend } from './types.js';

const MASK = (1n << 64n) - 1n;
const TWO_63 = 9223372036854775808;
const FRAC_BITS_MAX = 62;
const PI = Math.PI;
const RAD_PER_UNIT = PI / 2 / 4611686018427387904;

function checkLen(what: string, len: number, rows: number, cols: number): void {
  assertDim(`${what} rows`, rows);
  assertDim(`${what} cols`, cols);
  const need = rows * cols;
  if (!Number.isSafeInteger(need)) throw new SecpError('ERR_INVALID_ARGUMENT', `${what} shape ${rows}x${cols} overflows`);
  if (need !== len) {
    throw new SecpError('ERR_BUFFER_LENGTH', `wrong buffer length: ${what} has ${len} elements but its shape ${rows}x${cols} needs ${need}`);
  }
}

function checkSame(what: string, a: number, b: number): void {
  if (a !== b) throw new SecpError('ERR_SHAPE_MISMATCH', `shape mismatch: ${what}: ${a} elements vs ${b} elements`);
}

function checkFrac(f: number): void {
  if (!Number.isInteger(f) || f < 0 || f > FRAC_BITS_MAX) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: frac_bits must be in 0..=${FRAC_BITS_MAX}, got ${f}`);
  }
}

function roundToRing(v: number, index: number, x: number, f: number): bigint {
  if (!Number.isFinite(v)) {
    if (Number.isFinite(x)) throw overflow(index, x, f);
    throw new SecpError('ERR_NON_FINITE', `cannot encode a non-finite value (NaN or infinity) at index ${index}`);
  }
  const r = Math.floor(v + 0.5);
  if (!(r >= -TWO_63 && r < TWO_63)) throw overflow(index, x, f);
  return BigInt.asUintN(64, BigInt(r));
}

function overflow(index: number, x: number, f: number): SecpError {
  return new SecpError(
    'ERR_FIXED_OVERFLOW',
    `value ${x} at index ${index} is out of the fixed-point range (|x| < 2^${63 - f} with ${f} fractional bits)`,
  );
}

function sinCosSmall(y: number): [number, number] {
  const y2 = y * y;
  const s = 1 + y2 * (-1 / 6 + y2 * (1 / 120 + y2 * (-1 / 5040 + y2 * (1 / 362880 + y2 * (-1 / 39916800
    + y2 * (1 / 6227020800 + y2 * (-1 / 1307674368000 + y2 * (1 / 355687428096000))))))));
  const c = 1 + y2 * (-1 / 2 + y2 * (1 / 24 + y2 * (-1 / 720 + y2 * (1 / 40320 + y2 * (-1 / 3628800
    + y2 * (1 / 479001600 + y2 * (-1 / 87178291200 + y2 * (1 / 20922789888000))))))));
  return [y * s, c];
}

/** cos and sin of a public angle in turns (2^64 = one period); mirrors the Rust kernel bit for bit. */
export function cosSinTurn(a: bigint): [number, number] {
  const q = ((a + (1n << 61n)) & MASK) >> 62n;
  const rem = BigInt.asIntN(64, a - (q << 62n));
  const [s, c] = sinCosSmall(Number(rem) * RAD_PER_UNIT);
  switch (q) {
    case 0n: return [c, s];
    case 1n: return [-s, c];
    case 2n: return [-c, -s];
    default: return [s, -c];
  }
}

function rotl(x: number, n: number): number {
  return ((x << n) | (x >>> (32 - n))) >>> 0;
}

/** Double rounds of the PRG: ChaCha12 (crates/kernels/src/prg.rs says why). */
const DOUBLE_ROUNDS = 6;

function chachaBlock(input: Uint32Array, out: Uint32Array): void {
  const s = out;
  s.set(input);
  const qr = (a: number, b: number, c: number, d: number): void => {
    s[a] = (s[a]! + s[b]!) >>> 0; s[d] = rotl(s[d]! ^ s[a]!, 16);
    s[c] = (s[c]! + s[d]!) >>> 0; s[b] = rotl(s[b]! ^ s[c]!, 12);
    s[a] = (s[a]! + s[b]!) >>> 0; s[d] = rotl(s[d]! ^ s[a]!, 8);
    s[c] = (s[c]! + s[d]!) >>> 0; s[b] = rotl(s[b]! ^ s[c]!, 7);
  };
  for (let r = 0; r < DOUBLE_ROUNDS; r++) {
    qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15);
    qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14);
  }
  for (let i = 0; i < 16; i++) s[i] = (s[i]! + input[i]!) >>> 0;
}

function outOf(out: BigUint64Array | undefined, len: number): BigUint64Array {
  if (out === undefined) return new BigUint64Array(len);
  checkSame('out', len, out.length);
  return out;
}

function zip(what: string, a: BigUint64Array, b: BigUint64Array, out: BigUint64Array | undefined,
  f: (x: bigint, y: bigint) => bigint): BigUint64Array {
  checkSame(what, a.length, b.length);
  const o = outOf(out, a.length);
  for (let i = 0; i < a.length; i++) o[i] = f(a[i]!, b[i]!);
  return o;
}

function matmulBig(a: BigUint64Array, b: BigUint64Array, m: number, k: number, n: number, out: BigUint64Array | undefined,
  bt: boolean): BigUint64Array {
  checkLen('a', a.length, m, k);
  if (bt) checkLen('b (transposed)', b.length, n, k);
  else checkLen('b', b.length, k, n);
  if (out !== undefined) checkLen('out', out.length, m, n);
  const o = out ?? new BigUint64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0n;
      for (let t = 0; t < k; t++) s += a[i * k + t]! * (bt ? b[j * k + t]! : b[t * n + j]!);
      o[i * n + j] = s & MASK;
    }
  }
  return o;
}

type Floats = Float32Array | Float64Array;

/**
 * The reference of linearF64 (KernelBackend): y = x Wᵀ + b for `rows` rows (W is [out, in] row-major as torch
 * stores it, out = b.length), computed four rows × two outputs at a time so that loaded weights are reused (~3×
 * faster in V8). Every output is still the sum Σ_i x_i w_i accumulated from 0 in index order plus the bias, so
 * it equals the naive loop bit for bit (JS arithmetic is IEEE double without contraction; tested for every
 * row/column remainder). Accepts float32 or float64 arrays.
 */
export function linearF64Js(x: Floats, weight: Floats, bias: Floats, rows: number, inDim: number, out?: Float64Array): Float64Array {
  const outDim = bias.length;
  checkLen('x', x.length, rows, inDim);
  checkLen('weight', weight.length, outDim, inDim);
  const y = out ?? new Float64Array(rows * outDim);
  checkLen('out', y.length, rows, outDim);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const x0 = r * inDim;
    const x1 = x0 + inDim;
    const x2 = x1 + inDim;
    const x3 = x2 + inDim;
    const y0 = r * outDim;
    let o = 0;
    for (; o + 2 <= outDim; o += 2) {
      const w0 = o * inDim;
      const w1 = w0 + inDim;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, t0 = 0, t1 = 0, t2 = 0, t3 = 0; // prettier-ignore
      for (let i = 0; i < inDim; i++) {
        const u = weight[w0 + i]!;
        const v = weight[w1 + i]!;
        const a0 = x[x0 + i]!;
        const a1 = x[x1 + i]!;
        const a2 = x[x2 + i]!;
        const a3 = x[x3 + i]!;
        s0 += a0 * u;
        s1 += a1 * u;
        s2 += a2 * u;
        s3 += a3 * u;
        t0 += a0 * v;
        t1 += a1 * v;
        t2 += a2 * v;
        t3 += a3 * v;
      }
      const bu = bias[o]!;
      const bv = bias[o + 1]!;
      y[y0 + o] = s0 + bu;
      y[y0 + outDim + o] = s1 + bu;
      y[y0 + 2 * outDim + o] = s2 + bu;
      y[y0 + 3 * outDim + o] = s3 + bu;
      y[y0 + o + 1] = t0 + bv;
      y[y0 + outDim + o + 1] = t1 + bv;
      y[y0 + 2 * outDim + o + 1] = t2 + bv;
      y[y0 + 3 * outDim + o + 1] = t3 + bv;
    }
    for (; o < outDim; o++) {
      const w0 = o * inDim;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0; // prettier-ignore
      for (let i = 0; i < inDim; i++) {
        const u = weight[w0 + i]!;
        s0 += x[x0 + i]! * u;
        s1 += x[x1 + i]! * u;
        s2 += x[x2 + i]! * u;
        s3 += x[x3 + i]! * u;
      }
      const bu = bias[o]!;
      y[y0 + o] = s0 + bu;
      y[y0 + outDim + o] = s1 + bu;
      y[y0 + 2 * outDim + o] = s2 + bu;
      y[y0 + 3 * outDim + o] = s3 + bu;
    }
  }
  for (; r < rows; r++) {
    const xo = r * inDim;
    for (let o = 0; o < outDim; o++) {
      const wo = o * inDim;
      let s = 0;
      for (let i = 0; i < inDim; i++) s += x[xo + i]! * weight[wo + i]!;
      y[r * outDim + o] = s + bias[o]!;
    }
  }
  return y;
}

export function loadJs(): KernelBackend {
  return {
    name: 'js',
    matmul: (a, b, m, k, n, out) => matmulBig(a, b, m, k, n, out, false),
    matmulBT: (a, bt, m, k, n, out) => matmulBig(a, bt, m, k, n, out, true),
    matmulAsync: async (a, b, m, k, n) => matmulBig(a, b, m, k, n, undefined, false),
    add: (a, b, out) => zip('add', a, b, out, (x, y) => (x + y) & MASK),
    sub: (a, b, out) => zip('sub', a, b, out, (x, y) => (x - y) & MASK),
    mul: (a, b, out) => zip('mul', a, b, out, (x, y) => (x * y) & MASK),
    xor: (a, b, out) => zip('xor', a, b, out, (x, y) => x ^ y),
    and: (a, b, out) => zip('and', a, b, out, (x, y) => x & y),
    shrXor(a, s, b, out) {
      if (!Number.isInteger(s) || s < 0 || s >= 64) throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: shift must be in 0..64, got ${s}`);
      const sh = BigInt(s);
      return zip('shr_xor', a, b, out, (x, y) => (x >> sh) ^ y);
    },
    toBitPlanes(x, bits, out) {
      assertPlaneBits(bits);
      const w = Math.ceil(x.length / 64);
      if (out !== undefined) checkLen('out', out.length, bits, w);
      const o = out ?? new BigUint64Array(bits * w);
      o.fill(0n);
      for (let e = 0; e < x.length; e++) {
        for (let j = 0; j < bits; j++) if ((x[e]! >> BigInt(j)) & 1n) o[j * w + (e >> 6)]! |= 1n << BigInt(e & 63);
      }
      return o;
    },
    fromBitPlanes(planes, bits, n, out) {
      assertPlaneBits(bits);
      assertDim('n', n);
      const w = Math.ceil(n / 64);
      checkLen('planes', planes.length, bits, w);
      if (out !== undefined) checkSame('out', out.length, n);
      const o = out ?? new BigUint64Array(n);
      for (let e = 0; e < n; e++) {
        let v = 0n;
        for (let j = 0; j < bits; j++) v |= ((planes[j * w + (e >> 6)]! >> BigInt(e & 63)) & 1n) << BigInt(j);
        o[e] = v;
      }
      return o;
    },
    beaverAnd(c, a, b, d, e, party0, out) {
      for (const [what, v] of [['a', a], ['b', b], ['d', d], ['e', e]] as const) checkSame(what, v.length, c.length);
      const o = outOf(out, c.length);
      for (let i = 0; i < c.length; i++) {
        o[i] = c[i]! ^ (d[i]! & b[i]!) ^ (e[i]! & a[i]!) ^ (party0 ? d[i]! & e[i]! : 0n);
      }
      return o;
    },
    truncFinish(c, rTr, rMsb, bits, party0, out) {
      if (!Number.isInteger(bits) || bits < 1 || bits > 62) {
        throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: truncation bits must be in 1..=62, got ${bits}`);
      }
      for (const [what, v] of [['r_tr', rTr], ['r_msb', rMsb]] as const) checkSame(what, v.length, c.length);
      const o = outOf(out, c.length);
      const f = BigInt(bits);
      const low63 = (1n << 63n) - 1n;
      for (let i = 0; i < c.length; i++) {
        const cm = c[i]! >> 63n;
        const b = (party0 ? cm : 0n) + (cm === 0n ? rMsb[i]! : -rMsb[i]!);
        const pub = party0 ? ((c[i]! & low63) >> f) - (1n << (62n - f)) : 0n;
        o[i] = (pub - rTr[i]! + (1n << (63n - f)) * b) & MASK;
      }
      return o;
    },
    beaverMul(c, a, b, e, f, party0, out) {
      for (const [what, v] of [['a', a], ['b', b], ['e', e], ['f', f]] as const) checkSame(what, v.length, c.length);
      const o = outOf(out, c.length);
      for (let i = 0; i < c.length; i++) {
        o[i] = (c[i]! + e[i]! * b[i]! + f[i]! * a[i]! + (party0 ? e[i]! * f[i]! : 0n)) & MASK;
      }
      return o;
    },
    addScalar(a, s, out) {
      const o = outOf(out, a.length);
      const sv = s & MASK;
      for (let i = 0; i < a.length; i++) o[i] = (a[i]! + sv) & MASK;
      return o;
    },
    truncDeal(r, bits) {
      if (!Number.isInteger(bits) || bits < 1 || bits > 62) {
        throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: truncation bits must be in 1..=62, got ${bits}`);
      }
      const f = BigInt(bits);
      const low63 = (1n << 63n) - 1n;
      const tr = new BigUint64Array(r.length);
      const msb = new BigUint64Array(r.length);
      for (let i = 0; i < r.length; i++) {
        tr[i] = (r[i]! & low63) >> f;
        msb[i] = r[i]! >> 63n;
      }
      return { tr, msb };
    },
    neg(a, out) {
      const o = outOf(out, a.length);
      for (let i = 0; i < a.length; i++) o[i] = -a[i]! & MASK;
      return o;
    },
    scalarMul(a, s, out) {
      const o = outOf(out, a.length);
      const sv = s & MASK;
      for (let i = 0; i < a.length; i++) o[i] = (a[i]! * sv) & MASK;
      return o;
    },
    sumAxis(a, rows, cols, axis) {
      checkLen('a', a.length, rows, cols);
      if (axis !== 0 && axis !== 1) throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: axis must be 0 or 1, got ${String(axis)}`);
      const o = new BigUint64Array(axis === 0 ? cols : rows);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const idx = axis === 0 ? c : r;
          o[idx] = (o[idx]! + a[r * cols + c]!) & MASK;
        }
      }
      return o;
    },
    encode(x, f, out) {
      checkFrac(f);
      const o = outOf(out, x.length);
      const scale = 2 ** f;
      for (let i = 0; i < x.length; i++) o[i] = roundToRing(x[i]! * scale, i, x[i]!, f);
      return o;
    },
    decode(x, f, out) {
      checkFrac(f);
      const o = out ?? new Float64Array(x.length);
      checkSame('decode: out vs input', o.length, x.length);
      const inv = 1 / 2 ** f;
      for (let i = 0; i < x.length; i++) o[i] = Number(BigInt.asIntN(64, x[i]!)) * inv;
      return o;
    },
    prgFill(key, nonce, counter, out) {
      if (key.length !== 32) throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: PRG key must be 32 bytes, got ${key.length}`);
      if (nonce.length !== 12) throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: PRG nonce must be 12 bytes, got ${nonce.length}`);
      if (!Number.isInteger(counter) || counter < 0 || counter > 0xffffffff) {
        throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: PRG block counter must be a u32, got ${counter}`);
      }
      const blocks = Math.ceil(out.length / 8);
      if (counter + blocks > 2 ** 32) {
        throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: PRG stream exhausted: block counter ${counter} + ${blocks} blocks exceeds 2^32`);
      }
      const dv = (b: Uint8Array, i: number): number => (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
      const state = new Uint32Array(16);
      state.set([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
      for (let i = 0; i < 8; i++) state[4 + i] = dv(key, 4 * i);
      state[12] = counter;
      for (let i = 0; i < 3; i++) state[13 + i] = dv(nonce, 4 * i);
      const ks = new Uint32Array(16);
      for (let w = 0; w < out.length; w += 8) {
        chachaBlock(state, ks);
        for (let j = 0; j < 8 && w + j < out.length; j++) out[w + j] = BigInt(ks[2 * j]!) | (BigInt(ks[2 * j + 1]!) << 32n);
        state[12] = (state[12]! + 1) >>> 0;
      }
      return out;
    },
    cosSinTurns(angle, f) {
      checkFrac(f);
      const cos = new BigUint64Array(angle.length);
      const sin = new BigUint64Array(angle.length);
      const scale = 2 ** f;
      for (let i = 0; i < angle.length; i++) {
        const [c, s] = cosSinTurn(angle[i]!);
        cos[i] = roundToRing(c * scale, i, c, f);
        sin[i] = roundToRing(s * scale, i, s, f);
      }
      return { cos, sin };
    },
    cosSinSeries(d, coef, terms, f, acc) {
      checkFrac(f);
      assertSeries(d.length, coef.length, terms, acc.length);
      const n = d.length;
      const out = acc.slice();
      const scale = 2 ** f;
      for (let j = 1; j <= terms; j++) {
        for (let i = 0; i < n; i++) {
          const [c, s] = cosSinTurn(BigInt.asUintN(64, d[i]! * BigInt(j)));
          const term = roundToRing(c * scale, i, c, f) * coef[(2 * j - 2) * n + i]! + roundToRing(s * scale, i, s, f) * coef[(2 * j - 1) * n + i]!;
          out[i] = BigInt.asUintN(64, out[i]! + term);
        }
      }
      return out;
    },
    cosSinTerms(tv, coefs, f, shift) {
      checkFrac(f);
      assertTerms(coefs.length, shift);
      const n = tv.length;
      const out = new BigUint64Array(2 * coefs.length * n);
      const scale = 2 ** f;
      const half = 1n << BigInt(shift - 1);
      const sh = BigInt(shift);
      const round = (v: bigint, k: bigint): bigint => BigInt.asUintN(64, BigInt.asIntN(64, v * k + half) >> sh);
      for (let m = 0; m < coefs.length; m++) {
        for (let i = 0; i < n; i++) {
          const [c, s] = cosSinTurn(BigInt.asUintN(64, tv[i]! * BigInt(m + 1)));
          out[2 * m * n + i] = round(roundToRing(c * scale, i, c, f), coefs[m]!);
          out[(2 * m + 1) * n + i] = round(roundToRing(s * scale, i, s, f), coefs[m]!);
        }
      }
      return out;
    },
    angleScale(w, f) {
      checkFrac(f);
      const out = new BigUint64Array(w.length);
      const scale = 2 ** (63 - f) / PI;
      for (let i = 0; i < w.length; i++) {
        const x = w[i]!;
        if (!Number.isFinite(x)) throw new SecpError('ERR_NON_FINITE', `cannot encode a non-finite value (NaN or infinity) at index ${i}`);
        const r = Math.floor(x * scale + 0.5);
        if (!(r >= -TWO_63 && r < TWO_63)) {
          throw new SecpError('ERR_INVALID_ARGUMENT',
            `invalid argument: random-feature weight ${x} at index ${i} is too large: |w| must stay below 2^${f} * pi`);
        }
        out[i] = BigInt.asUintN(64, BigInt(r));
      }
      return out;
    },
    linearF64: linearF64Js,
  };
}
