/**
 * Fixed-point tensors over Z_2^64. A RingTensor is a row-major BigUint64Array plus a shape; every op
 * goes through the Ring's kernel backend. Values are two's complement with `fracBits` fractional bits.
 * Shapes are checked on the way in; there is no implicit broadcasting.
 */
import { SecpError } from '../../bindings/errors.js';
import { loadBackend, type KernelBackend } from '../../bindings/index.js';

/** Default number of fractional bits (CrypTen's default, DESIGN §2). */
export const FRAC_BITS = 16;

export type Shape = readonly number[];

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new SecpError('ERR_SHAPE_MISMATCH', `invalid shape [${shape.join(', ')}]: dimensions must be non-negative integers`);
    n *= d;
  }
  return n;
}

function fmt(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

function sameShape(op: string, a: Shape, b: Shape): void {
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
    throw new SecpError('ERR_SHAPE_MISMATCH', `${op}: shapes ${fmt(a)} and ${fmt(b)} differ`);
  }
}

export interface RingOptions {
  /** Kernel backend; default: loadBackend() (native, then wasm, or SECP_BACKEND). */
  backend?: KernelBackend;
  /** Fractional bits of the fixed-point encoding, 0..62 (default 16). */
  fracBits?: number;
}

/** The words of `xs` one after another, in a new array. */
export function concatWords(xs: readonly BigUint64Array[]): BigUint64Array {
  const out = new BigUint64Array(xs.reduce((s, x) => s + x.length, 0));
  let off = 0;
  for (const x of xs) {
    out.set(x, off);
    off += x.length;
  }
  return out;
}

/** The arithmetic context: which backend runs the kernels and how reals are encoded. */
export class Ring {
  readonly backend: KernelBackend;
  readonly fracBits: number;

  constructor(opts: RingOptions = {}) {
    const f = opts.fracBits ?? FRAC_BITS;
    if (!Number.isInteger(f) || f < 0 || f > 62) {
      throw new SecpError('ERR_INVALID_ARGUMENT', `fracBits must be an integer in 0..62, got ${String(f)}`);
    }
    this.fracBits = f;
    this.backend = opts.backend ?? loadBackend();
  }

  /** Encodes reals (row-major) into a tensor of the given shape (default: a vector). */
  encode(x: Float64Array | readonly number[], shape: Shape = [x.length]): RingTensor {
    const src = x instanceof Float64Array ? x : Float64Array.from(x);
    if (shapeSize(shape) !== src.length) {
      throw new SecpError('ERR_SHAPE_MISMATCH', `encode: ${src.length} values do not fill shape ${fmt(shape)}`);
    }
    return new RingTensor(this, this.backend.encode(src, this.fracBits), shape);
  }

  zeros(shape: Shape): RingTensor {
    return new RingTensor(this, new BigUint64Array(shapeSize(shape)), shape);
  }

  /** Wraps raw ring elements (no copy). */
  wrap(data: BigUint64Array, shape: Shape = [data.length]): RingTensor {
    return new RingTensor(this, data, shape);
  }
}

export class RingTensor {
  readonly ring: Ring;
  readonly data: BigUint64Array;
  readonly shape: Shape;

  constructor(ring: Ring, data: BigUint64Array, shape: Shape) {
    if (shapeSize(shape) !== data.length) {
      throw new SecpError('ERR_BUFFER_LENGTH', `a tensor of shape ${fmt(shape)} needs ${shapeSize(shape)} elements, got ${data.length}`);
    }
    this.ring = ring;
    this.data = data;
    this.shape = Object.freeze([...shape]);
  }

  get size(): number {
    return this.data.length;
  }

  private get k(): KernelBackend {
    return this.ring.backend;
  }

  private like(data: BigUint64Array, shape: Shape = this.shape): RingTensor {
    return new RingTensor(this.ring, data, shape);
  }

  private dims2(op: string): [number, number] {
    if (this.shape.length !== 2) throw new SecpError('ERR_SHAPE_MISMATCH', `${op} needs a 2-D tensor, got shape ${fmt(this.shape)}`);
    return [this.shape[0]!, this.shape[1]!];
  }

  /** Same data, new shape (a view). */
  reshape(shape: Shape): RingTensor {
    if (shapeSize(shape) !== this.size) throw new SecpError('ERR_SHAPE_MISMATCH', `cannot reshape ${fmt(this.shape)} to ${fmt(shape)}`);
    return this.like(this.data, shape);
  }

  /** Rows `start..end` of the first axis, sharing memory (a view). */
  rows(start: number, end: number): RingTensor {
    const n = this.shape[0] ?? 0;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > n || start > end) {
      throw new SecpError('ERR_SHAPE_MISMATCH', `rows(${start}, ${end}) is outside the first axis of shape ${fmt(this.shape)}`);
    }
    const inner = n === 0 ? 0 : this.size / n;
    return this.like(this.data.subarray(start * inner, end * inner), [end - start, ...this.shape.slice(1)]);
  }

  clone(): RingTensor {
    return this.like(this.data.slice());
  }

  /** 2-D transpose (a copy). */
  transpose(): RingTensor {
    const [r, c] = this.dims2('transpose');
    const out = new BigUint64Array(this.size);
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = this.data[i * c + j]!;
    return this.like(out, [c, r]);
  }

  add(o: RingTensor): RingTensor {
    sameShape('add', this.shape, o.shape);
    return this.like(this.k.add(this.data, o.data));
  }

  sub(o: RingTensor): RingTensor {
    sameShape('sub', this.shape, o.shape);
    return this.like(this.k.sub(this.data, o.data));
  }

  /** Elementwise wrapping product of the ring elements (2f fractional bits; truncation is a protocol). */
  mul(o: RingTensor): RingTensor {
    sameShape('mul', this.shape, o.shape);
    return this.like(this.k.mul(this.data, o.data));
  }

  neg(): RingTensor {
    return this.like(this.k.neg(this.data));
  }

  /** Multiplies every element by the integer `s` (mod 2^64). */
  scalarMul(s: bigint): RingTensor {
    return this.like(this.k.scalarMul(this.data, s));
  }

  /** [m,k] · [k,n] → [m,n] (mod 2^64, no truncation). */
  matmul(o: RingTensor): RingTensor {
    const [m, k] = this.dims2('matmul');
    const [k2, n] = o.dims2('matmul');
    if (k !== k2) throw new SecpError('ERR_SHAPE_MISMATCH', `matmul: inner dimensions differ: ${fmt(this.shape)} · ${fmt(o.shape)}`);
    return this.like(this.k.matmul(this.data, o.data, m, k, n), [m, n]);
  }

  /** [m,k] · [n,k]ᵀ → [m,n]. */
  matmulBT(o: RingTensor): RingTensor {
    const [m, k] = this.dims2('matmulBT');
    const [n, k2] = o.dims2('matmulBT');
    if (k !== k2) throw new SecpError('ERR_SHAPE_MISMATCH', `matmulBT: inner dimensions differ: ${fmt(this.shape)} · ${fmt(o.shape)}ᵀ`);
    return this.like(this.k.matmulBT(this.data, o.data, m, k, n), [m, n]);
  }

  /** Sum of a 2-D tensor over axis 0 (→ [cols]) or 1 (→ [rows]). */
  sum(axis: 0 | 1): RingTensor {
    const [r, c] = this.dims2('sum');
    return this.like(this.k.sumAxis(this.data, r, c, axis), [axis === 0 ? c : r]);
  }

  /** Decodes to reals with the ring's fractional bits. */
  toFloat(): Float64Array {
    return this.k.decode(this.data, this.ring.fracBits);
  }

  /** Signed view of the same memory. */
  toSigned(): BigInt64Array {
    return new BigInt64Array(this.data.buffer, this.data.byteOffset, this.data.length);
  }
}
