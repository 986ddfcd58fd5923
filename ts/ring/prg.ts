/**
 * A keyed stream of uniform ring elements: ChaCha12 (RFC 8439 layout, 12 rounds) with a 32-byte key, the 96-bit nonce
 * holding a 64-bit stream id, and the block counter advanced by every draw (whole blocks of 8 words).
 * Two parties holding the same key and stream id draw the same elements in the same order.
 */
import { randomBytes } from 'node:crypto';
import { SecpError } from '../../bindings/errors.js';
import { unzeroed } from '../../bindings/fresh.js';
import type { KernelBackend } from '../../bindings/types.js';

export const PRG_KEY_BYTES = 32;

export class Prg {
  private readonly backend: KernelBackend;
  private readonly key: Uint8Array;
  private readonly nonce: Uint8Array;
  private block = 0;

  constructor(backend: KernelBackend, key: Uint8Array, stream: bigint = 0n) {
    if (key.length !== PRG_KEY_BYTES) throw new SecpError('ERR_INVALID_ARGUMENT', `PRG key must be ${PRG_KEY_BYTES} bytes, got ${key.length}`);
    if (stream < 0n || stream >= 1n << 64n) throw new SecpError('ERR_INVALID_ARGUMENT', `PRG stream id must fit in 64 bits, got ${stream}`);
    this.backend = backend;
    this.key = Uint8Array.from(key);
    this.nonce = new Uint8Array(12);
    new DataView(this.nonce.buffer).setBigUint64(4, stream, true);
  }

  /** A fresh key from the operating system's CSPRNG. */
  static randomKey(): Uint8Array {
    return new Uint8Array(randomBytes(PRG_KEY_BYTES));
  }

  /** Blocks consumed so far (the stream position). */
  get position(): number {
    return this.block;
  }

  /** Fills `out` with the next uniform ring elements. */
  fill(out: BigUint64Array): BigUint64Array {
    this.backend.prgFill(this.key, this.nonce, this.block, out);
    this.block += Math.ceil(out.length / 8);
    return out;
  }

  next(n: number): BigUint64Array {
    return this.fill(unzeroed(BigUint64Array, n));
  }
}
