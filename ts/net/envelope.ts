/**
 * The messages links exchange, and their validation. A data message carries {v, s, o, q, f, b}; a
 * control message carries {v, s, f, c} where c is 'bye' (graceful close: the sender will send nothing
 * more) or 'abort' (the sender's session failed; e and m carry its error code and message). Whatever
 * arrives from another thread or socket goes through `parseEnvelope` before anything else looks at it.
 */
import { SecpError } from '../../bindings/errors.js';
import { NET_DEFAULTS, PROTOCOL_VERSION, isPartyId, type PartyId } from './types.js';

export interface DataEnvelope {
  v: number;
  s: string;
  o: string;
  q: number;
  f: PartyId;
  b: Uint8Array;
  /**
   * Link model: the wall-clock time (ms since the epoch, `wallClockMs`) at which the emulated wire delivers this
   * message, stamped by the sender; the receiver holds it until then. 0: no link model, deliver at once.
   */
  t: number;
}

export interface ControlEnvelope {
  v: number;
  s: string;
  f: PartyId;
  c: 'bye' | 'abort';
  /** Abort only: the error code. */
  e?: string;
  /** Abort only: the error message. */
  m?: string;
}

export type Envelope = DataEnvelope | ControlEnvelope;

/** Longest abort message carried to peers. */
export const MAX_ABORT_MESSAGE = 1024;

const DATA_KEYS = new Set(['v', 's', 'o', 'q', 'f', 'b', 't']);
const CONTROL_KEYS = new Set(['v', 's', 'f', 'c', 'e', 'm']);

export function isControl(e: Envelope): e is ControlEnvelope {
  return 'c' in e;
}

function malformed(what: string): SecpError {
  return new SecpError('ERR_MALFORMED_FRAME', `malformed message: ${what}`);
}

function isLabel(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= NET_DEFAULTS.maxLabelLength;
}

/** Checks the protocol version field shared by messages and handshake frames. */
export function checkVersion(v: unknown): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw malformed('version field v is not an integer');
  if (v !== PROTOCOL_VERSION) throw new SecpError('ERR_VERSION_MISMATCH', `peer speaks protocol version ${v}, this build speaks ${PROTOCOL_VERSION}`);
}

/**
 * Validates a decoded message: a plain object with exactly the fields of a data or control envelope,
 * each of the right type. Throws ERR_MALFORMED_FRAME, or ERR_VERSION_MISMATCH for a well-formed
 * message of another protocol version.
 */
export function parseEnvelope(x: unknown): Envelope {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || ArrayBuffer.isView(x)) throw malformed('not a map');
  const r = x as Record<string, unknown>;
  checkVersion(r['v']);
  if (!isLabel(r['s'])) throw malformed('session field s is not a non-empty string');
  if (!isPartyId(r['f'])) throw malformed('sender field f is not a party id');
  const keys = Object.keys(r);
  if ('c' in r) {
    for (const k of keys) if (!CONTROL_KEYS.has(k)) throw malformed(`unexpected field ${JSON.stringify(k.slice(0, 20))}`);
    const c = r['c'];
    if (c !== 'bye' && c !== 'abort') throw malformed('control field c is not "bye" or "abort"');
    const e = r['e'];
    const m = r['m'];
    if (e !== undefined && (typeof e !== 'string' || e.length > 64)) throw malformed('abort code e is not a short string');
    if (m !== undefined && (typeof m !== 'string' || m.length > MAX_ABORT_MESSAGE)) throw malformed('abort message m is not a string');
    const out: ControlEnvelope = { v: PROTOCOL_VERSION, s: r['s'], f: r['f'], c };
    if (e !== undefined) out.e = e;
    if (m !== undefined) out.m = m;
    return out;
  }
  for (const k of keys) if (!DATA_KEYS.has(k)) throw malformed(`unexpected field ${JSON.stringify(k.slice(0, 20))}`);
  if (!isLabel(r['o'])) throw malformed('op field o is not a non-empty string');
  const q = r['q'];
  if (typeof q !== 'number' || !Number.isSafeInteger(q) || q < 0) throw malformed('sequence field q is not a non-negative integer');
  if (!(r['b'] instanceof Uint8Array)) throw malformed('body field b is not binary');
  const t = r['t'];
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) throw malformed('delivery time field t is not a non-negative number');
  return { v: PROTOCOL_VERSION, s: r['s'], o: r['o'], q, f: r['f'], b: r['b'], t };
}

/** Milliseconds since the epoch at sub-millisecond resolution: the clock of the link model's delivery times. */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}
