/** Every error this package throws on purpose carries a stable `code` a caller can branch on. */
export type ErrorCode =
  | 'ERR_SHAPE_MISMATCH'
  | 'ERR_BUFFER_LENGTH'
  | 'ERR_NON_FINITE'
  | 'ERR_FIXED_OVERFLOW'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_BACKEND_UNAVAILABLE'
  | 'ERR_KERNEL'
  | (string & {});

export class SecpError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecpError';
    this.code = code;
  }
}

/** Throws ERR_INVALID_ARGUMENT unless `v` is a non-negative safe integer. */
export function assertDim(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `${name} must be a non-negative integer, got ${String(v)}`);
  }
}

/** Throws ERR_INVALID_ARGUMENT unless `bits` is a bit-plane count 1..64 (toBitPlanes, fromBitPlanes). */
export function assertPlaneBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < 1 || bits > 64) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: bit planes must be in 1..=64, got ${String(bits)}`);
  }
}

/** Terms a cosine series (cosSinSeries) may have: crates/kernels SERIES_TERMS_MAX. */
export const SERIES_TERMS_MAX = 64;

/** cosSinSeries' shapes: terms in 1..SERIES_TERMS_MAX, coef exactly 2·terms rows of n = d.length, acc of n. */
export function assertSeries(n: number, coefLen: number, terms: number, accLen: number): void {
  assertTermCount(terms);
  if (coefLen !== 2 * terms * n) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: coefficients: ${coefLen} words, expected 2·${terms}·${n} = ${2 * terms * n}`);
  }
  if (accLen !== n) throw new SecpError('ERR_SHAPE_MISMATCH', `length mismatch: acc has ${accLen} words, d has ${n}`);
}

/** cosSinTerms' arguments: 1..SERIES_TERMS_MAX coefficients, a shift of 1..62 bits. */
export function assertTerms(terms: number, shift: number): void {
  assertTermCount(terms);
  if (!Number.isInteger(shift) || shift < 1 || shift > 62) throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: shift must be in 1..=62, got ${String(shift)}`);
}

function assertTermCount(terms: number): void {
  if (!Number.isInteger(terms) || terms < 1 || terms > SERIES_TERMS_MAX) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: series terms must be in 1..=${SERIES_TERMS_MAX}, got ${String(terms)}`);
  }
}
