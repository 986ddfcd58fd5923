/**
 * The network surface the MPC engine is written against: a `Link` is one party's view of a full mesh
 * between the parties of one session. Every transport (in-process, worker threads, TCP) implements the
 * same semantics, so a protocol and its meter readings do not depend on the transport:
 *
 * - `send` is non-blocking and snapshots the body before it returns (the caller may reuse its buffer).
 * - Messages between a directed pair arrive in order and carry {v: version, s: session, o: op label,
 *   q: sequence number, f: sender}; `recv(from, op)` checks all of them.
 * - Any error a link raises (protocol mismatch, malformed frame, timeout, a peer lost without saying
 *   goodbye) is fatal to the session: the link aborts, every pending and future `recv` rejects, and the
 *   abort is announced to every peer so that nobody waits for a message that will never come.
 */
import { SecpError } from '../../bindings/errors.js';
import type { Meter } from './meter.js';

/** Every role of DESIGN §1. */
export type PartyId = 's0' | 's1' | 'dealer' | 'data' | 'model';

/** All parties in rank order; in a TCP mesh the lower-ranked party of a pair dials the higher-ranked one. */
export const PARTY_IDS: readonly PartyId[] = ['s0', 's1', 'dealer', 'data', 'model'];

/** Wire protocol version, carried by every message and by the TCP handshake. */
export const PROTOCOL_VERSION = 2;

/** One party's view of the network. */
export interface Link {
  readonly self: PartyId;
  readonly session: string;
  readonly meter: Meter;
  /** Queues `body` for `to` under the label `op`; never blocks. The body is copied before this returns. */
  send(to: PartyId, op: string, body: Uint8Array): void;
  /**
   * The next message from `from`; it must carry this session, the label `op` and the next sequence
   * number of the pair, else ERR_PROTOCOL_MISMATCH. The result is a plain Uint8Array spanning the whole
   * of an ArrayBuffer nobody else holds (byteOffset 0), so `new BigUint64Array(b.buffer)` views it
   * without a copy when its length is a multiple of 8.
   */
  recv(from: PartyId, op: string): Promise<Uint8Array>;
  /** Ends the session: rejects everything pending and future with `reason`, and tells every peer. */
  abort(reason: Error): void;
  /** Flushes what was sent, says goodbye to every peer and releases the transport. */
  close(): Promise<void>;
}

/**
 * A deterministic model of one directed link for network emulation: a message of n body bytes is
 * serialised at `bandwidthBitsPerSec` behind earlier messages of the same pair, then delivered
 * `latencyMs` later. Applied by the sender before the message enters the transport.
 */
export interface LinkModel {
  bandwidthBitsPerSec: number;
  latencyMs: number;
}

/** Options every transport accepts. */
export interface LinkOptions {
  /** A recv that waits longer than this fails with ERR_PEER_TIMEOUT (and aborts the session). */
  recvTimeoutMs?: number;
  /** Largest body (and, over TCP, largest frame) accepted; checked before any allocation. */
  maxFrameBytes?: number;
  /** Emulated bandwidth and latency, one model for all pairs or one per directed pair (undefined: none). */
  linkModel?: LinkModel | ((from: PartyId, to: PartyId) => LinkModel | undefined);
}

/** Defaults of every tunable of the net layer, in one place. */
export const NET_DEFAULTS = {
  recvTimeoutMs: 60_000,
  maxFrameBytes: 2 ** 30,
  /** TCP: how long to keep dialling a peer (and waiting for peers to dial in). */
  connectTimeoutMs: 30_000,
  /** TCP: how long one connection may take to complete the handshake. */
  handshakeTimeoutMs: 10_000,
  /** TCP: pause between connection attempts. */
  retryDelayMs: 50,
  /** TCP: largest frame accepted before the peer has authenticated. */
  handshakeMaxFrameBytes: 4096,
  /**
   * TCP: bytes held per peer for messages that arrive before the whole mesh is up (the link does not exist
   * yet); past this the connection is not read until the mesh is up (TCP backpressure, nothing is dropped).
   */
  earlyBytesPerPeer: 64 * 2 ** 20,
  /** TCP: the same bound over all peers of one set-up together. */
  earlyBytesTotal: 128 * 2 ** 20,
  /** TCP: incoming connections in their handshake at once; further ones are closed at once. */
  maxUnauthenticatedConnections: 32,
  /** Longest op label or session id, in UTF-16 code units. */
  maxLabelLength: 256,
} as const;

/** Largest value of maxFrameBytes: the TCP length prefix is a u32. */
export const MAX_FRAME_BYTES_LIMIT = 2 ** 32 - 1;

export interface ResolvedLinkOptions {
  recvTimeoutMs: number;
  maxFrameBytes: number;
  linkModel: ((from: PartyId, to: PartyId) => LinkModel | undefined) | undefined;
}

export function isPartyId(x: unknown): x is PartyId {
  return typeof x === 'string' && (PARTY_IDS as readonly string[]).includes(x);
}

/** Rank of a party in PARTY_IDS. */
export function partyRank(p: PartyId): number {
  return PARTY_IDS.indexOf(p);
}

/** Throws ERR_INVALID_ARGUMENT unless `v` is an integer in [min, max]; names the option. */
export function checkIntOption(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `option ${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
  return v;
}

export function checkLabel(name: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > NET_DEFAULTS.maxLabelLength) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `${name} must be a non-empty string of at most ${NET_DEFAULTS.maxLabelLength} characters, got ${typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : typeof v}`);
  }
  return v;
}

/** Validates a party list: known ids, no duplicates, at least two, containing `self` if given. */
export function checkParties(parties: readonly unknown[], self?: PartyId): PartyId[] {
  if (!Array.isArray(parties) || parties.length < 2) throw new SecpError('ERR_INVALID_ARGUMENT', 'parties must list at least two party ids');
  const seen = new Set<PartyId>();
  for (const p of parties) {
    if (!isPartyId(p)) throw new SecpError('ERR_INVALID_ARGUMENT', `unknown party id ${JSON.stringify(p)}; expected one of ${PARTY_IDS.join(', ')}`);
    if (seen.has(p)) throw new SecpError('ERR_INVALID_ARGUMENT', `party ${p} is listed twice`);
    seen.add(p);
  }
  if (self !== undefined && !seen.has(self)) throw new SecpError('ERR_INVALID_ARGUMENT', `parties does not contain self (${self})`);
  return [...seen];
}

/** Validates LinkOptions once, at construction, and fills in the defaults. */
export function resolveLinkOptions(opts: LinkOptions = {}): ResolvedLinkOptions {
  const recvTimeoutMs = checkIntOption('recvTimeoutMs', opts.recvTimeoutMs ?? NET_DEFAULTS.recvTimeoutMs, 1, 2 ** 31 - 1);
  const maxFrameBytes = checkIntOption('maxFrameBytes', opts.maxFrameBytes ?? NET_DEFAULTS.maxFrameBytes, 1024, MAX_FRAME_BYTES_LIMIT);
  const m = opts.linkModel;
  let linkModel: ResolvedLinkOptions['linkModel'];
  if (typeof m === 'function') {
    linkModel = (from, to) => {
      const r = m(from, to);
      if (r !== undefined) checkLinkModel(r);
      return r;
    };
  } else if (m !== undefined) {
    checkLinkModel(m);
    linkModel = () => m;
  }
  return { recvTimeoutMs, maxFrameBytes, linkModel };
}

function checkLinkModel(m: LinkModel): void {
  if (typeof m !== 'object' || m === null || !(m.bandwidthBitsPerSec > 0) || !Number.isFinite(m.bandwidthBitsPerSec)) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `option linkModel.bandwidthBitsPerSec must be a finite number > 0, got ${String(m?.bandwidthBitsPerSec)}`);
  }
  if (!(m.latencyMs >= 0) || !Number.isFinite(m.latencyMs)) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `option linkModel.latencyMs must be a finite number >= 0, got ${String(m.latencyMs)}`);
  }
}
