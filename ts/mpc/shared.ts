/**
 * A secret-shared tensor as one party sees it: a server holds its additive share over Z_2^64; the
 * dealer follows the same program with shapes only (`share` is null there). Local (0-round) ops live
 * here: add, sub, negate, public add/scale, reshape.
 */
import { SecpError } from '../../bindings/errors.js';
import { concatWords, shapeSize, type Shape } from '../ring/tensor.js';
import type { Party } from './party.js';

export class Shared {
  readonly shape: Shape;
  readonly share: BigUint64Array | null;

  constructor(shape: Shape, share: BigUint64Array | null) {
    if (share && share.length !== shapeSize(shape)) {
      throw new SecpError('ERR_BUFFER_LENGTH', `share of shape [${shape.join(', ')}] needs ${shapeSize(shape)} words, got ${share.length}`);
    }
    this.shape = Object.freeze([...shape]);
    this.share = share;
  }

  get size(): number {
    return shapeSize(this.shape);
  }

  /** The share, asserting this party holds one (servers only). */
  get s(): BigUint64Array {
    if (!this.share) throw new SecpError('ERR_INVALID_ARGUMENT', 'the dealer holds no shares');
    return this.share;
  }

  reshape(shape: Shape): Shared {
    if (shapeSize(shape) !== this.size) throw new SecpError('ERR_SHAPE_MISMATCH', `cannot reshape [${this.shape.join(', ')}] to [${shape.join(', ')}]`);
    return new Shared(shape, this.share);
  }

  /** Rows start..end of the first axis (a view). */
  rows(start: number, end: number): Shared {
    const n = this.shape[0]!;
    if (start < 0 || end > n || start > end) throw new SecpError('ERR_SHAPE_MISMATCH', `rows(${start}, ${end}) outside [${this.shape.join(', ')}]`);
    const inner = n === 0 ? 0 : this.size / n;
    return new Shared([end - start, ...this.shape.slice(1)], this.share ? this.share.subarray(start * inner, end * inner) : null);
  }
}

export function sameShape(op: string, a: Shape, b: Shape): void {
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
    throw new SecpError('ERR_SHAPE_MISMATCH', `${op}: shapes [${a.join(', ')}] and [${b.join(', ')}] differ`);
  }
}

/** A local result: computed by the servers, a shape on the dealer. */
export function local(p: Party, shape: Shape, f: () => BigUint64Array): Shared {
  return new Shared(shape, p.isDealer ? null : f());
}

export function add(p: Party, a: Shared, b: Shared): Shared {
  sameShape('add', a.shape, b.shape);
  return local(p, a.shape, () => p.ring.backend.add(a.s, b.s));
}

export function sub(p: Party, a: Shared, b: Shared): Shared {
  sameShape('sub', a.shape, b.shape);
  return local(p, a.shape, () => p.ring.backend.sub(a.s, b.s));
}

export function neg(p: Party, a: Shared): Shared {
  return local(p, a.shape, () => p.ring.backend.neg(a.s));
}

/** x + c for public ring values c (same size as x, or a single value broadcast): S0 adds. */
export function addPublic(p: Party, x: Shared, c: BigUint64Array): Shared {
  if (c.length !== 1 && c.length !== x.size) throw new SecpError('ERR_SHAPE_MISMATCH', `addPublic: ${c.length} constants for ${x.size} elements`);
  return local(p, x.shape, () => {
    if (p.index !== 0) return x.s.slice();
    return c.length === x.size ? p.ring.backend.add(x.s, c) : p.ring.backend.addScalar(x.s, c[0]!);
  });
}

/** x · k for a public integer k (no truncation needed). */
export function mulInt(p: Party, x: Shared, k: bigint): Shared {
  return local(p, x.shape, () => p.ring.backend.scalarMul(x.s, k));
}

/** Adds a public row vector (encoded) to every row of a [rows, cols] tensor. */
export function addPublicRow(p: Party, x: Shared, row: BigUint64Array): Shared {
  const cols = x.shape[x.shape.length - 1]!;
  if (row.length !== cols) throw new SecpError('ERR_SHAPE_MISMATCH', `addPublicRow: row of ${row.length} for ${cols} columns`);
  return local(p, x.shape, () => (p.index === 0 ? addToRows(p, x.s, row) : x.s.slice()));
}

/** x + row on every row of x: the row tiled over x's length (log2(rows) copies), then one kernel call. */
function addToRows(p: Party, x: BigUint64Array, row: BigUint64Array): BigUint64Array {
  const tiled = new BigUint64Array(x.length);
  if (x.length > 0) tiled.set(row, 0);
  for (let len = row.length; len > 0 && len < x.length; len *= 2) tiled.copyWithin(len, 0, Math.min(len, x.length - len));
  return p.ring.backend.add(x, tiled);
}

/** Adds a shared row vector to every row of x (e.g. a secret bias). */
export function addRow(p: Party, x: Shared, row: Shared): Shared {
  const cols = x.shape[x.shape.length - 1]!;
  if (row.size !== cols) throw new SecpError('ERR_SHAPE_MISMATCH', `addRow: row of ${row.size} for ${cols} columns`);
  return local(p, x.shape, () => addToRows(p, x.s, row.s));
}

/** Concatenates shared tensors along the first axis. */
export function concatRows(p: Party, parts: Shared[]): Shared {
  const inner = parts[0]!.shape.slice(1);
  for (const q of parts) sameShape('concatRows (inner dims)', q.shape.slice(1), inner);
  const rows = parts.reduce((s, q) => s + q.shape[0]!, 0);
  return local(p, [rows, ...inner], () => concatWords(parts.map((q) => q.s)));
}

/** Flat concatenation of shared tensors (local). */
export function cat(p: Party, xs: readonly Shared[]): Shared {
  return local(p, [xs.reduce((s, x) => s + x.size, 0)], () => concatWords(xs.map((x) => x.s)));
}
