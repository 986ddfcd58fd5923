/**
 * A party of the 2-server + dealer computation (DESIGN §1): S0 and S1 hold additive shares over
 * Z_2^64; the dealer T holds only PRG seeds and produces correlated randomness. All three run the same
 * program (SPMD); every protocol function branches on `role`. Semi-honest, non-colluding parties.
 *
 * Seeds: at set-up the dealer sends a fresh 32-byte ChaCha12 key to each server. Everything "random"
 * (masks A, B, r, t, ...) is expanded by both the dealer and the server that shares the key; the dealer
 * sends S1 only the correcting share of derived values (C = A·B, cos t, ...). Over plain TCP the key
 * travels in the clear: use TLS between the dealer and the servers outside a test.
 */
import { createHmac } from 'node:crypto';
import { SecpError } from '../../bindings/errors.js';
import type { Link, PartyId } from '../net/types.js';
import { Prg } from '../ring/prg.js';
import { Ring, concatWords } from '../ring/tensor.js';

export type Role = 's0' | 's1' | 'dealer';

/**
 * Which protocol versions a session runs (every party of a session must agree: the spec carries it).
 * 'v2' (default): truncation deals r's top bit in f + 1 bits, narrow products and truncations where the
 * callers' bounds allow, the GELU of nonlinear.ts in narrow rings with coarse comparisons, LayerNorm's
 * normalised product untruncated. 'v1': the protocols of commit bc2c1c5, kept so that benches can put old
 * and new side by side.
 */
export type ProtocolVersion = 'v1' | 'v2';

export interface PartyOptions {
  ring: Ring;
  link: Link;
  /**
   * Dealer only: derive the servers' PRG keys from this 32-byte secret instead of the OS CSPRNG, so that a
   * session restarted with the same seed draws the same randomness (resume, replayable tests). It must stay
   * the dealer's secret: whoever holds it learns every mask of the session.
   */
  dealerSeed?: Uint8Array;
  /** Test hook: called with (op, stream position, words) for every activation mask drawn. */
  onMask?: (op: string, role: Role, position: number, words: number) => void;
}

export class Party {
  readonly role: Role;
  readonly ring: Ring;
  readonly link: Link;
  /** Index of a server (0 or 1); -1 for the dealer. */
  readonly index: 0 | 1 | -1;
  readonly onMask: PartyOptions['onMask'];
  /** The protocol versions this party runs (see ProtocolVersion); set before the first protocol call. */
  protocols: ProtocolVersion = 'v2';
  /** Server: the PRG shared with the dealer. Dealer: [S0's, S1's]. */
  private prgs: Prg[] = [];
  /** The session keys of `prgs`. */
  private keys: Uint8Array[] = [];

  private constructor(role: Role, opts: PartyOptions) {
    this.role = role;
    this.ring = opts.ring;
    this.link = opts.link;
    this.index = role === 's0' ? 0 : role === 's1' ? 1 : -1;
    this.onMask = opts.onMask;
  }

  /** Joins the session as `role`: exchanges PRG keys with the dealer. */
  static async join(role: Role, opts: PartyOptions): Promise<Party> {
    if (role !== 's0' && role !== 's1' && role !== 'dealer') throw new SecpError('ERR_INVALID_ARGUMENT', `unknown MPC role "${String(role)}"`);
    if (opts.link.self !== role) throw new SecpError('ERR_INVALID_ARGUMENT', `link belongs to ${opts.link.self}, not ${role}`);
    const p = new Party(role, opts);
    const be = p.ring.backend;
    if (role === 'dealer') {
      if (opts.dealerSeed && opts.dealerSeed.byteLength !== 32) throw new SecpError('ERR_INVALID_ARGUMENT', `the dealer seed must have 32 bytes, got ${opts.dealerSeed.byteLength}`);
      const seeded = opts.dealerSeed ? new Prg(be, opts.dealerSeed, 0xdea1n) : null;
      for (const s of ['s0', 's1'] as const) {
        const key = seeded ? new Uint8Array(seeded.next(4).buffer) : Prg.randomKey();
        p.link.send(s, 'setup.seed', key);
        p.keys.push(key);
        p.prgs.push(new Prg(be, key));
      }
    } else {
      const key = await p.link.recv('dealer', 'setup.seed');
      if (key.byteLength !== 32) throw new SecpError('ERR_PROTOCOL_MISMATCH', `dealer seed has ${key.byteLength} bytes, expected 32`);
      p.keys.push(key.slice());
      p.prgs.push(new Prg(be, key));
    }
    return p;
  }

  /**
   * Restarts every PRG shared with the dealer on a key derived from the session key and `label`
   * (HMAC-SHA256): the draws after it depend only on the session key and the label, not on what the session
   * did before. A forward labelled by a hash of its own inputs thus uses the same randomness whenever it is
   * run again with the same inputs in a session with the same keys (a resumed run), and fresh randomness for
   * any other input.
   */
  rekey(label: Uint8Array): void {
    this.prgs = this.keys.map((k) => new Prg(this.ring.backend, new Uint8Array(createHmac('sha256', k).update(label).digest())));
  }

  get isDealer(): boolean {
    return this.role === 'dealer';
  }

  /** The other server. */
  get peer(): PartyId {
    return this.role === 's0' ? 's1' : 's0';
  }

  /**
   * Uniform randomness shared with the dealer: a server gets its share, the dealer gets the sum of
   * both servers' shares (the value itself).
   */
  rand(n: number): BigUint64Array {
    if (this.role !== 'dealer') return this.prgs[0]!.next(n);
    return this.ring.backend.add(this.prgs[0]!.next(n), this.prgs[1]!.next(n));
  }

  /** Uniform words XOR-shared with the dealer (servers: their share; dealer: the XOR of both). */
  randXor(n: number): BigUint64Array {
    if (this.role !== 'dealer') return this.prgs[0]!.next(n);
    return this.ring.backend.xor(this.prgs[0]!.next(n), this.prgs[1]!.next(n));
  }

  /** Like rand, reporting the draw to the onMask hook (used for activation masks). */
  mask(op: string, n: number): BigUint64Array {
    if (this.onMask) this.onMask(op, this.role, this.prgs[0]!.position, n);
    return this.rand(n);
  }

  /**
   * A dealer-computed value, additively shared: S0's share comes from its PRG, S1 receives the
   * correction `value - share0`. The dealer passes `value()`; servers get their share.
   */
  async deal(op: string, n: number, value?: () => BigUint64Array): Promise<BigUint64Array> {
    if (this.role === 's0') return this.prgs[0]!.next(n);
    if (this.role === 's1') return this.recvWords('dealer', op, n);
    if (!value) throw new SecpError('ERR_INVALID_ARGUMENT', `dealer has no value for ${op}`);
    const v = value();
    if (v.length !== n) throw new SecpError('ERR_SHAPE_MISMATCH', `dealer value for ${op} has ${v.length} words, expected ${n}`);
    const c = this.ring.backend.sub(v, this.prgs[0]!.next(n));
    this.link.send('s1', op, bytesOf(c));
    return v;
  }

  /** Like deal, for XOR (boolean) sharing of words. */
  async dealXor(op: string, n: number, value?: () => BigUint64Array): Promise<BigUint64Array> {
    if (this.role === 's0') return this.prgs[0]!.next(n);
    if (this.role === 's1') return this.recvWords('dealer', op, n);
    if (!value) throw new SecpError('ERR_INVALID_ARGUMENT', `dealer has no value for ${op}`);
    const v = value();
    this.link.send('s1', op, bytesOf(this.ring.backend.xor(v, this.prgs[0]!.next(n))));
    return v;
  }

  /**
   * Like deal, for a value needed only mod 2^bits: S1 receives its correction as `bits` bit planes
   * (bits·⌈n/64⌉ words instead of n). A share's bits from `bits` up are not reduced: callers use the
   * result mod 2^bits only (or multiplied by 2^(64−bits)).
   */
  async dealBits(op: string, n: number, bits: number, value?: () => BigUint64Array): Promise<BigUint64Array> {
    if (bits === 64) return this.deal(op, n, value);
    if (!Number.isInteger(bits) || bits < 1 || bits > 64) throw new SecpError('ERR_INVALID_ARGUMENT', `${op}: bits must be in 1..64, got ${bits}`);
    const be = this.ring.backend;
    if (this.role === 's0') return this.prgs[0]!.next(n);
    if (this.role === 's1') return be.fromBitPlanes(await this.recvWords('dealer', op, bits * Math.ceil(n / 64)), bits, n);
    if (!value) throw new SecpError('ERR_INVALID_ARGUMENT', `dealer has no value for ${op}`);
    const v = value();
    if (v.length !== n) throw new SecpError('ERR_SHAPE_MISMATCH', `dealer value for ${op} has ${v.length} words, expected ${n}`);
    this.link.send('s1', op, bytesOf(be.toBitPlanes(be.sub(v, this.prgs[0]!.next(n)), bits)));
    return v;
  }

  /** Receives exactly n u64 words; never trusts a length from the wire. */
  async recvWords(from: PartyId, op: string, n: number): Promise<BigUint64Array> {
    const b = await this.link.recv(from, op);
    if (b.byteLength !== n * 8) {
      // Fatal to the session: abort so that every other party fails fast instead of waiting.
      const err = new SecpError('ERR_PROTOCOL_MISMATCH', `${op}: ${from} sent ${b.byteLength} bytes, expected ${n * 8}`);
      this.link.abort(err);
      throw err;
    }
    return wordsOf(b);
  }

  /**
   * Opens values between the two servers in one round: each sends its shares, both add. Several
   * tensors can be opened in the same round.
   */
  async open(op: string, ...shares: BigUint64Array[]): Promise<BigUint64Array[]> {
    return this.exchange(op, shares, (mine, theirs) => this.ring.backend.add(mine, theirs));
  }

  /**
   * Opens values mod 2^bits in one round, sending bits·⌈n/64⌉ words (bit planes) per tensor instead of n.
   * The results' bits from `bits` up are not reduced: mask them if needed.
   */
  async openBits(op: string, bits: number, ...shares: BigUint64Array[]): Promise<BigUint64Array[]> {
    if (bits === 64) return this.open(op, ...shares);
    const be = this.ring.backend;
    const theirs = await this.exchange(op, shares.map((s) => be.toBitPlanes(s, bits)), (_mine, t) => t);
    return shares.map((s, i) => be.add(s, be.fromBitPlanes(theirs[i]!, bits, s.length)));
  }

  /** Opens XOR-shared words in one round. */
  async openXor(op: string, ...shares: BigUint64Array[]): Promise<BigUint64Array[]> {
    return this.exchange(op, shares, (mine, theirs) => this.ring.backend.xor(mine, theirs));
  }

  /** One round: send the concatenated shares to the other server, combine with what it sends back. */
  private async exchange(op: string, shares: BigUint64Array[],
    combine: (mine: BigUint64Array, theirs: BigUint64Array) => BigUint64Array): Promise<BigUint64Array[]> {
    if (this.role === 'dealer') throw new SecpError('ERR_INVALID_ARGUMENT', `the dealer takes no part in opening ${op}`);
    const buf = shares.length === 1 ? shares[0]! : concatWords(shares);
    this.link.send(this.peer, op, bytesOf(buf));
    this.link.meter.round(op);
    const opened = combine(buf, await this.recvWords(this.peer, op, buf.length));
    let off = 0;
    return shares.map((s) => {
      off += s.length;
      return opened.subarray(off - s.length, off);
    });
  }
}

/** The bytes of a word array (a view, no copy). */
export function bytesOf(x: BigUint64Array): Uint8Array {
  return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
}

/** Words from received bytes: a view when aligned, else a copy. */
export function wordsOf(b: Uint8Array): BigUint64Array {
  if (b.byteOffset % 8 === 0) return new BigUint64Array(b.buffer, b.byteOffset, b.byteLength / 8);
  return new BigUint64Array(b.slice().buffer);
}
