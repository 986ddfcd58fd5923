/**
 * The transport-independent half of every link: sequence numbers, in-order queues per peer, matching
 * `recv` calls to arrivals, timeouts, metering, the link model, and the abort/close state machine.
 * A transport subclass only moves envelopes (`transmit`) and reports what arrives (`deliver`) or that a
 * peer went away (`peerLost`); it must validate untrusted input with `parseEnvelope` first.
 */
import { SecpError } from '../../bindings/errors.js';
import { MAX_ABORT_MESSAGE, isControl, wallClockMs, type ControlEnvelope, type DataEnvelope, type Envelope } from './envelope.js';
import { Meter } from './meter.js';
import { PROTOCOL_VERSION, checkLabel, type Link, type PartyId, type ResolvedLinkOptions } from './types.js';

interface Waiter {
  op: string;
  resolve: (b: Uint8Array) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface PeerState {
  readonly id: PartyId;
  sendSeq: number;
  arrivedSeq: number;
  /** Arrived, not yet received; `head` avoids O(n) shifts on long queues. */
  queue: DataEnvelope[];
  head: number;
  waiters: Waiter[];
  /** Set once the peer said goodbye or was lost; recv from it then fails once the queue is empty. */
  gone: SecpError | undefined;
  /** Link model, sending side: when the emulated wire to this peer is free again (wallClockMs). */
  busyUntil: number;
  /** Link model, receiving side: arrived envelopes held, in order, until their delivery time. */
  held: Envelope[];
  timer: NodeJS.Timeout | undefined;
  /** The channel closed while messages were held: the loss takes effect once they are delivered. */
  heldLoss: SecpError | undefined;
}

export abstract class BaseLink implements Link {
  readonly meter = new Meter();
  private readonly peers = new Map<PartyId, PeerState>();
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;
  private shutdownPromise: Promise<void> | undefined;

  protected constructor(
    readonly self: PartyId,
    readonly session: string,
    peers: readonly PartyId[],
    protected readonly opts: ResolvedLinkOptions,
  ) {
    for (const id of peers) {
      if (id === self) continue;
      this.peers.set(id, { id, sendSeq: 0, arrivedSeq: 0, queue: [], head: 0, waiters: [], gone: undefined, busyUntil: 0, held: [], timer: undefined, heldLoss: undefined });
    }
  }

  /** Moves one envelope to `to`. Must copy (or encode) a data body before returning; may throw. */
  protected abstract transmit(to: PartyId, env: Envelope): void;

  /**
   * Flushes and releases the transport; called once, after the last transmit. `aborted`: the session
   * failed, so what is still queued need not wait for a slow peer.
   */
  protected abstract shutdown(aborted: boolean): Promise<void>;

  send(to: PartyId, op: string, body: Uint8Array): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.closing !== undefined) throw new SecpError('ERR_PEER_CLOSED', `${this.self}: send on a closed link`);
    const peer = this.peerOf(to);
    checkLabel('op', op);
    if (!(body instanceof Uint8Array)) throw new SecpError('ERR_INVALID_ARGUMENT', `${this.self}: body for op '${op}' must be a Uint8Array`);
    if (body.byteLength > this.opts.maxFrameBytes) {
      throw new SecpError('ERR_FRAME_TOO_LARGE', `${this.self}: body of ${body.byteLength} bytes for op '${op}' exceeds maxFrameBytes (${this.opts.maxFrameBytes})`);
    }
    if (peer.gone !== undefined) {
      const err = new SecpError('ERR_PEER_CLOSED', `${this.self}: cannot send op '${op}' to ${to}: ${peer.gone.message}`, { cause: peer.gone });
      this.abort(err);
      throw err;
    }
    const model = this.opts.linkModel?.(this.self, to);
    const env: DataEnvelope = { v: PROTOCOL_VERSION, s: this.session, o: op, q: peer.sendSeq++, f: this.self, b: body, t: 0 };
    this.meter.countSent(to, op, body.byteLength);
    if (model !== undefined) {
      // The emulated wire: serialised behind earlier messages at the bandwidth, then the latency. The receiver
      // holds the message until that time, so a sender busy computing does not delay it (no sender timers).
      const start = Math.max(wallClockMs(), peer.busyUntil);
      peer.busyUntil = start + (body.byteLength * 8 * 1000) / model.bandwidthBitsPerSec;
      env.t = peer.busyUntil + model.latencyMs;
    }
    try {
      this.transmit(to, env);
    } catch (e) {
      // The sequence number is spent: the session cannot go on.
      const err = e instanceof Error ? e : new Error(String(e));
      this.abort(err);
      throw err;
    }
  }

  recv(from: PartyId, op: string): Promise<Uint8Array> {
    let peer: PeerState;
    try {
      peer = this.peerOf(from);
      checkLabel('op', op);
    } catch (e) {
      return Promise.reject(e);
    }
    this.meter.touchReceive(from, op);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closing !== undefined) return Promise.reject(new SecpError('ERR_PEER_CLOSED', `${this.self}: recv on a closed link`));
    if (peer.waiters.length === 0 && peer.head < peer.queue.length) {
      const env = peer.queue[peer.head]!;
      peer.queue[peer.head++] = undefined as unknown as DataEnvelope;
      if (peer.head === peer.queue.length) {
        peer.queue = [];
        peer.head = 0;
      }
      return this.accept(env, op);
    }
    if (peer.gone !== undefined) {
      const err = new SecpError('ERR_PEER_CLOSED', `${this.self}: ${from} is gone, waiting for op '${op}': ${peer.gone.message}`, { cause: peer.gone });
      this.abort(err);
      return Promise.reject(err);
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.abort(new SecpError('ERR_PEER_TIMEOUT', `${this.self}: no message from ${from} for op '${op}' within ${this.opts.recvTimeoutMs} ms`));
      }, this.opts.recvTimeoutMs);
      peer.waiters.push({ op, resolve, reject, timer });
    });
  }

  abort(reason: Error): void {
    if (this.failure !== undefined) return;
    if (!(reason instanceof Error)) reason = new SecpError('ERR_PEER_CLOSED', `${this.self}: session aborted: ${String(reason)}`);
    this.failure = reason;
    const c = (reason as Error & { code?: unknown }).code;
    const code = typeof c === 'string' ? c : 'ERR_ABORTED';
    for (const peer of this.peers.values()) {
      for (const w of peer.waiters) {
        clearTimeout(w.timer);
        w.reject(reason);
      }
      peer.waiters = [];
      peer.queue = [];
      peer.head = 0;
      clearTimeout(peer.timer);
      peer.held = [];
      if (peer.gone === undefined && this.closing === undefined) {
        try {
          this.transmit(peer.id, { v: PROTOCOL_VERSION, s: this.session, f: this.self, c: 'abort', e: code.slice(0, 64), m: reason.message.slice(0, MAX_ABORT_MESSAGE) });
        } catch {
          // Best effort: a peer we cannot reach anymore finds out from its own side.
        }
      }
    }
    void this.shutdownOnce().catch(() => undefined);
  }

  close(): Promise<void> {
    this.closing ??= this.closeImpl();
    return this.closing;
  }

  private async closeImpl(): Promise<void> {
    if (this.failure === undefined) {
      for (const peer of this.peers.values()) {
        clearTimeout(peer.timer);
        peer.held = [];
        if (peer.gone === undefined) {
          try {
            this.transmit(peer.id, { v: PROTOCOL_VERSION, s: this.session, f: this.self, c: 'bye' });
          } catch {
            // The peer is already unreachable; nothing to say goodbye to.
          }
        }
        const err = new SecpError('ERR_PEER_CLOSED', `${this.self}: link closed while waiting for ${peer.id}`);
        for (const w of peer.waiters) {
          clearTimeout(w.timer);
          w.reject(err);
        }
        peer.waiters = [];
      }
    }
    await this.shutdownOnce();
  }

  /** Transport: a validated envelope arrived from `from` (the peer the channel is bound to). */
  protected deliver(from: PartyId, env: Envelope): void {
    if (this.failure !== undefined || this.closing !== undefined) return;
    const peer = this.peers.get(from);
    if (peer === undefined) return;
    if (env.f !== from) return this.abort(mismatch(`${this.self}: a message from ${from} claims to come from ${env.f}`));
    if (env.s !== this.session) return this.abort(mismatch(`${this.self}: ${from} sent a message of session '${env.s}', expected '${this.session}'`));
    // Link model: a message early for its delivery time waits, and everything after it waits behind it.
    if (peer.held.length > 0 || (!isControl(env) && env.t > wallClockMs())) {
      peer.held.push(env);
      if (peer.timer === undefined) this.armHold(peer);
      return;
    }
    this.release(peer, env);
  }

  /** Releases held envelopes whose time has come, in order, and re-arms for the next. */
  private armHold(peer: PeerState): void {
    const head = peer.held[0];
    if (head === undefined) {
      peer.timer = undefined;
      const loss = peer.heldLoss;
      peer.heldLoss = undefined;
      if (loss !== undefined) this.peerLost(peer.id, loss);
      return;
    }
    const wait = isControl(head) ? 0 : head.t - wallClockMs();
    peer.timer = setTimeout(() => {
      while (peer.held.length > 0 && this.failure === undefined && this.closing === undefined) {
        const env = peer.held[0]!;
        if (!isControl(env) && env.t > wallClockMs() + 0.5) break;
        peer.held.shift();
        this.release(peer, env);
      }
      this.armHold(peer);
    }, Math.max(0, wait));
  }

  /** An envelope whose delivery time has come: a control message, or the next data message in sequence. */
  private release(peer: PeerState, env: Envelope): void {
    const from = peer.id;
    if (isControl(env)) return this.control(peer, env);
    if (peer.gone !== undefined) return;
    env.b = ownBytes(env.b);
    if (env.q !== peer.arrivedSeq) {
      return this.abort(mismatch(`${this.self}: expected sequence number ${peer.arrivedSeq} from ${from}, got ${env.q} (op '${env.o}')`));
    }
    peer.arrivedSeq++;
    const w = peer.waiters.shift();
    if (w === undefined) {
      peer.queue.push(env);
      return;
    }
    clearTimeout(w.timer);
    this.accept(env, w.op).then(w.resolve, w.reject);
  }

  /** Transport: the channel to `from` failed or closed without a goodbye. */
  protected peerLost(from: PartyId, err: SecpError): void {
    const peer = this.peers.get(from);
    if (peer === undefined || peer.gone !== undefined) return;
    if (peer.held.length > 0) {
      // The peer may have sent everything (and its goodbye) before it went: deliver that first.
      peer.heldLoss ??= err;
      return;
    }
    peer.gone = err;
    if (this.failure === undefined && this.closing === undefined) this.abort(err);
  }

  private control(peer: PeerState, env: ControlEnvelope): void {
    if (env.c === 'abort') {
      peer.gone = new SecpError('ERR_PEER_CLOSED', `${peer.id} aborted the session`);
      this.abort(new SecpError('ERR_PEER_CLOSED', `${this.self}: ${peer.id} aborted session '${this.session}': [${env.e ?? 'unknown'}] ${env.m ?? ''}`));
      return;
    }
    if (peer.gone !== undefined) return;
    peer.gone = new SecpError('ERR_PEER_CLOSED', `${peer.id} closed its link`);
    // A goodbye while we wait for that peer means the message will never come.
    if (peer.waiters.length > 0) {
      const w = peer.waiters[0]!;
      this.abort(new SecpError('ERR_PEER_CLOSED', `${this.self}: ${peer.id} closed its link while ${this.self} waits for op '${w.op}'`));
    }
  }

  private accept(env: DataEnvelope, op: string): Promise<Uint8Array> {
    if (env.o !== op) {
      const err = mismatch(`${this.self}: expected op '${op}' from ${env.f}, got '${env.o}' (sequence number ${env.q})`);
      this.abort(err);
      return Promise.reject(err);
    }
    this.meter.countReceived(env.f, op, env.b.byteLength);
    return Promise.resolve(env.b);
  }

  private peerOf(id: PartyId): PeerState {
    const p = this.peers.get(id);
    if (p === undefined) throw new SecpError('ERR_INVALID_ARGUMENT', `${this.self}: ${String(id)} is not a peer of this link (peers: ${[...this.peers.keys()].join(', ')})`);
    return p;
  }

  private shutdownOnce(): Promise<void> {
    this.shutdownPromise ??= this.shutdown(this.failure !== undefined);
    return this.shutdownPromise;
  }
}

function mismatch(message: string): SecpError {
  return new SecpError('ERR_PROTOCOL_MISMATCH', message);
}

/** `b` itself if it is a plain Uint8Array spanning all of its own ArrayBuffer, else such a copy. */
function ownBytes(b: Uint8Array): Uint8Array {
  const exact = b.constructor === Uint8Array && b.byteOffset === 0 && b.buffer.byteLength === b.byteLength && b.buffer instanceof ArrayBuffer;
  return exact ? b : copyBytes(b);
}

/** A copy of `b` in an ArrayBuffer of its own (never shares memory with `b`, even for a pooled Buffer). */
export function copyBytes(b: Uint8Array): Uint8Array {
  const c = new Uint8Array(b.byteLength);
  c.set(b);
  return c;
}
