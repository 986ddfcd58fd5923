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
