/**
 * Getting values in and out: an input party (data owner D or model owner M) secret-shares a tensor
 * into S0 and S1; the servers reveal a result to one named party only (outputs go to D, never to the
 * servers). Input: 0 rounds between servers, 8 bytes per element to each server. Reveal: 8 bytes per
 * element from each server to the receiving party.
 * The input party draws its masks from its own ChaCha12 key (fresh per session, from the OS CSPRNG).
 */
import { SecpError } from '../../bindings/errors.js';
import type { KernelBackend } from '../../bindings/types.js';
import type { Link, PartyId } from '../net/types.js';
import { Prg } from '../ring/prg.js';
import { shapeSize, type Shape } from '../ring/tensor.js';
import { bytesOf, type Party } from './party.js';
import { Shared } from './shared.js';

/** The input party's side: splits encoded values into two random-looking shares. */
export class InputParty {
  private readonly prg: Prg;

  /** `insecureKey` replaces the OS-random mask key: for reproducible tests only. */
  constructor(readonly link: Link, readonly backend: KernelBackend, insecureKey?: Uint8Array) {
    this.prg = new Prg(backend, insecureKey ?? Prg.randomKey());
  }

  /** Shares `x` (ring-encoded) to S0 and S1 under the label `op`. */
  share(op: string, x: BigUint64Array): void {
    const x0 = this.prg.next(x.length);
    const x1 = this.backend.sub(x, x0);
    this.link.send('s0', op, bytesOf(x0));
    this.link.send('s1', op, bytesOf(x1));
  }

  /** Receives a revealed output: both servers' shares, added. */
  async receive(op: string, n: number): Promise<BigUint64Array> {
    const [a, b] = await Promise.all([this.recv('s0', op, n), this.recv('s1', op, n)]);
    return this.backend.add(a, b);
  }

  private async recv(from: PartyId, op: string, n: number): Promise<BigUint64Array> {
    const b = await this.link.recv(from, op);
    if (b.byteLength !== n * 8) {
      const err = new SecpError('ERR_PROTOCOL_MISMATCH', `${op}: ${from} sent ${b.byteLength} bytes, expected ${n * 8}`);
      this.link.abort(err);
      throw err;
    }
    return new BigUint64Array(b.slice().buffer);
  }
}

/** Servers: receive a share of an input from `owner`. The dealer just tracks the shape. */
export async function input(p: Party, owner: PartyId, op: string, shape: Shape): Promise<Shared> {
  if (p.isDealer) return new Shared(shape, null);
  return new Shared(shape, await p.recvWords(owner, op, shapeSize(shape)));
}

/** Servers: send their shares of x to `to` (the only party that learns x). */
export function reveal(p: Party, to: PartyId, op: string, x: Shared): void {
  if (p.isDealer) return;
  if (to === 's0' || to === 's1' || to === 'dealer') {
    throw new SecpError('ERR_INVALID_ARGUMENT', `outputs are revealed to an input party only, never to ${to}`);
  }
  p.link.send(to, op, bytesOf(x.s));
}
