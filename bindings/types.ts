/**
 * The one kernel interface every backend (native addon, wasm, plain-JS reference) implements.
 * All ring values are u64 in BigUint64Array, matrices row-major. Every function validates its
 * arguments and throws a SecpError with a stable code (ERR_SHAPE_MISMATCH, ERR_BUFFER_LENGTH,
 * ERR_NON_FINITE, ERR_FIXED_OVERFLOW, ERR_INVALID_ARGUMENT); results are bit-identical across backends.
 * `out`, where accepted, must not alias an input; when omitted a new array is returned.
 */
export type BackendName = 'native' | 'wasm' | 'js';

export interface KernelBackend {
  readonly name: BackendName;
  /** out (m×n) = a (m×k) · b (k×n) mod 2^64. */
  matmul(a: BigUint64Array, b: BigUint64Array, m: number, k: number, n: number, out?: BigUint64Array): BigUint64Array;
  /** out (m×n) = a (m×k) · btᵀ, where bt is b transposed (n×k). */
  matmulBT(a: BigUint64Array, bt: BigUint64Array, m: number, k: number, n: number, out?: BigUint64Array): BigUint64Array;
  /** matmul that keeps the event loop free while it runs (native: a worker thread; others: same result, resolved async). */
  matmulAsync(a: BigUint64Array, b: BigUint64Array, m: number, k: number, n: number): Promise<BigUint64Array>;
  add(a: BigUint64Array, b: BigUint64Array, out?: BigUint64Array): BigUint64Array;
  sub(a: BigUint64Array, b: BigUint64Array, out?: BigUint64Array): BigUint64Array;
  /** Elementwise wrapping product (no truncation). */
  mul(a: BigUint64Array, b: BigUint64Array, out?: BigUint64Array): BigUint64Array;
  neg(a: BigUint64Array, out?: BigUint64Array): BigUint64Array;
  /** Bitwise a XOR b (XOR-shared words). */
  xor(a: BigUint64Array, b: BigUint64Array, out?: BigUint64Array): BigUint64Array;
  /** Bitwise a AND b. */
  and(a: BigUint64Array, b: BigUint64Array, out?: BigUint64Array): BigUint64Array;
  /** (a >> s) XOR b, logical shift, 0 ≤ s < 64. */
  shrXor(a: BigUint64Array, s: number, b: BigUint64Array, out?: BigUint64Array): BigUint64Array;
  /**
   * Bit planes of the low `bits` (1..64) bits of x: with w = ⌈n/64⌉ words per plane, bit e mod 64 of word
   * j·w + ⌊e/64⌋ is bit j of x[e]; padding bits are 0. Length bits·w. (The comparison's prefix tree runs on them.)
   */
  toBitPlanes(x: BigUint64Array, bits: number, out?: BigUint64Array): BigUint64Array;
  /** The inverse of toBitPlanes for n elements: bits ≥ `bits` are 0, padding bits of `planes` are ignored. */
  fromBitPlanes(planes: BigUint64Array, bits: number, n: number, out?: BigUint64Array): BigUint64Array;
  /**
   * One Beaver AND on XOR shares, from a triple share (a, b, c = a∧b) and the opened d = x⊕a, e = y⊕b:
   * c ⊕ (d∧b) ⊕ (e∧a) ⊕ (party0 ? d∧e : 0). All arrays have the same length.
   */
  beaverAnd(c: BigUint64Array, a: BigUint64Array, b: BigUint64Array, d: BigUint64Array, e: BigUint64Array, party0: boolean,
    out?: BigUint64Array): BigUint64Array;
  /**
   * One Beaver product on additive shares, from a triple share (a, b, c = a·b) and the opened e = x − a,
   * f = y − b: c + e·b + f·a + (party0 ? e·f : 0), in one pass. With b = a and f = e: a square pair's
   * c + 2·e·a + [party0]·e². All arrays have the same length.
   */
  beaverMul(c: BigUint64Array, a: BigUint64Array, b: BigUint64Array, e: BigUint64Array, f: BigUint64Array, party0: boolean,
    out?: BigUint64Array): BigUint64Array;
  /** a + s mod 2^64 for one scalar s (taken mod 2^64). */
  addScalar(a: BigUint64Array, s: bigint, out?: BigUint64Array): BigUint64Array;
  /** The dealer's half of truncation by `bits` (1..62) from its mask r: tr = (r mod 2^63) >> bits, msb = r >> 63. */
  truncDeal(r: BigUint64Array, bits: number): { tr: BigUint64Array; msb: BigUint64Array };
  /** s·a mod 2^64; s is taken mod 2^64 (negative bigints wrap). */
  scalarMul(a: BigUint64Array, s: bigint, out?: BigUint64Array): BigUint64Array;
  /** Sum of a rows×cols matrix over axis 0 (length cols) or 1 (length rows). */
  sumAxis(a: BigUint64Array, rows: number, cols: number, axis: 0 | 1): BigUint64Array;
  /** round(x·2^f) as two's complement; rounding is floor(v + 0.5). */
  encode(x: Float64Array, fracBits: number, out?: BigUint64Array): BigUint64Array;
  decode(x: BigUint64Array, fracBits: number, out?: Float64Array): Float64Array;
  /** ChaCha12 (RFC 8439 block layout, 12 rounds) keystream of (key 32 B, nonce 12 B) from block `counter`, as LE u64 words. */
  prgFill(key: Uint8Array, nonce: Uint8Array, counter: number, out: BigUint64Array): BigUint64Array;
  /**
   * Last step of dealer-assisted truncation by `bits` (1..62): from the opened c = x + 2^62 + r and the
   * shares of (r mod 2^63) >> bits and of r's top bit, this server's share of x >> bits (ts/mpc/truncation.ts).
   */
  truncFinish(c: BigUint64Array, rTr: BigUint64Array, rMsb: BigUint64Array, bits: number, party0: boolean, out?: BigUint64Array): BigUint64Array;
  /** cos and sin of angles in turns (2^64 = one period), as fixed point with f fractional bits. */
  cosSinTurns(angle: BigUint64Array, fracBits: number): { cos: BigUint64Array; sin: BigUint64Array };
  /**
   * A cosine series on public angles (the servers' side of v2 GELU) in one pass: acc + Σ_{j=1..terms}
   * cos_j·coef[(2j−2)·n + i] + sin_j·coef[(2j−1)·n + i] mod 2^64, where cos_j, sin_j are cosSinTurns of the
   * angle j·d (wrapping) at `fracBits`; coef holds 2·terms rows of n = d.length. The same words as that
   * composition of cosSinTurns, scalarMul, mul and add.
   */
  cosSinSeries(d: BigUint64Array, coef: BigUint64Array, terms: number, fracBits: number, acc: BigUint64Array): BigUint64Array;
  /**
   * The dealer's side of that series: for j = 1..coefs.length, cos and sin of the angle j·t (wrapping) at
   * `fracBits` as cosSinTurns gives them, times the integer coefs[j−1] (a ring word, signed), rounded down by
   * `shift` (1..62) bits: ⌊(v·c + 2^(shift−1)) / 2^shift⌋ as a signed value (|v·c| < 2^62). Rows 2j−2 (cos) and
   * 2j−1 (sin) of n = t.length words each: 2·coefs.length·n words.
   */
  cosSinTerms(t: BigUint64Array, coefs: BigUint64Array, fracBits: number, shift: number): BigUint64Array;
  /**
   * The plaintext float64 dense layer (ts/model/plain.ts): out (rows × b.length) = x (rows × inDim) · wᵀ + b,
   * w (b.length × inDim) and b float32 as model files store them. Each output is Σ_i x_i·w_i summed from 0 in
   * index order (separate multiply and add), then + b: the JS loop's result, bit for bit.
   */
  linearF64(x: Float64Array, w: Float32Array, b: Float32Array, rows: number, inDim: number, out?: Float64Array): Float64Array;
  /** K = round(w·2^(64-f)/(2π)): integer weights whose wrapping dot product with fixed-point x gives w·x in turns. */
  angleScale(w: Float64Array, fracBits: number): BigUint64Array;
}
