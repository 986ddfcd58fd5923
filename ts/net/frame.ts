/**
 * TCP framing. A frame on the wire is a 4-byte big-endian length L followed by L bytes holding exactly
 * one MessagePack document (msgpackr), a map. For a data message the map is
 *
 *   {v, s, o, q, f, p, b}    p: a 0-7 character padding string, b: bin32 holding the body
 *
 * The header fields {v, s, o, q, f} are encoded by msgpackr; the writer appends `p` and the bin32
 * header of `b` by hand and copies the body straight after them into the same buffer, so a send costs
 * one copy of the body (the snapshot `Link.send` promises) and no msgpack re-encoding of it. `p` makes
 * the body start at a multiple of 8 bytes from the length prefix, so a receiver that reassembles a frame
 * into a fresh buffer can hand out the body as an 8-byte-aligned view without copying it again.
 * Control and handshake frames are plain msgpackr maps. Any msgpack reader decodes every frame.
 *
 * The reader (`FrameParser`) checks L against its limit as soon as the 4 prefix bytes are in, before it
 * allocates anything, and copies each byte at most once: a frame inside one socket chunk is a view of
 * that chunk; a frame spanning chunks is filled into one buffer of exactly its size as chunks arrive.
 */
import { Packr, Unpackr } from 'msgpackr';
import { SecpError } from '../../bindings/errors.js';
import type { DataEnvelope } from './envelope.js';

/** Bytes of the length prefix. */
export const FRAME_PREFIX_BYTES = 4;

const packr = new Packr({ useRecords: false, variableMapSize: true });
// Records, structured clones and other extensions stay off: a frame decodes to plain maps, strings,
// numbers and binary only, which `parseEnvelope` then checks field by field.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

const FIXMAP_5 = 0x85;
const FIXMAP_7 = 0x87;
const FIXSTR = 0xa0;
const BIN32 = 0xc6;
const KEY_P = 0x70; // 'p'
const KEY_B = 0x62; // 'b'

function tooLarge(len: number, max: number, what: string): SecpError {
  return new SecpError('ERR_FRAME_TOO_LARGE', `${what} of ${len} bytes exceeds the limit of ${max} bytes`);
}

/** Encodes a control or handshake object as one frame (prefix included). */
export function encodeFrame(obj: Record<string, unknown>, maxFrameBytes: number): Buffer {
  const doc = packr.pack(obj);
  if (doc.length > maxFrameBytes) throw tooLarge(doc.length, maxFrameBytes, 'frame');
  const out = Buffer.allocUnsafe(FRAME_PREFIX_BYTES + doc.length);
  out.writeUInt32BE(doc.length, 0);
  out.set(doc, FRAME_PREFIX_BYTES);
  return out;
}

/** Encodes a data message as one frame (prefix included); the body is copied once, after the header. */
export function encodeDataFrame(env: DataEnvelope, maxFrameBytes: number): Buffer {
  const head = packr.pack({ v: env.v, s: env.s, o: env.o, q: env.q, f: env.f });
  if (head[0] !== FIXMAP_5) throw new SecpError('ERR_MALFORMED_FRAME', 'msgpackr did not encode the header as a fixmap');
  const pad = (8 - ((head.length + 14) % 8)) % 8;
  const bodyOffset = FRAME_PREFIX_BYTES + head.length + 3 + pad + 7;
  const n = env.b.byteLength;
  const docLen = bodyOffset - FRAME_PREFIX_BYTES + n;
  if (docLen > maxFrameBytes) throw tooLarge(docLen, maxFrameBytes, `frame for op '${env.o}'`);
  const out = Buffer.allocUnsafe(bodyOffset + n);
  out.writeUInt32BE(docLen, 0);
  let at = FRAME_PREFIX_BYTES;
  out.set(head, at);
  out[at] = FIXMAP_7;
  at += head.length;
  out[at++] = FIXSTR | 1;
  out[at++] = KEY_P;
  out[at++] = FIXSTR | pad;
  out.fill(0x20, at, at + pad);
  at += pad;
  out[at++] = FIXSTR | 1;
  out[at++] = KEY_B;
  out[at++] = BIN32;
  out.writeUInt32BE(n, at);
  at += 4;
  out.set(env.b, at);
  return out;
}

/** Decodes one frame's MessagePack document; anything but a single well-formed document is an error. */
export function decodeFrame(doc: Uint8Array): unknown {
  try {
    return unpackr.unpack(doc);
  } catch (e) {
    throw new SecpError('ERR_MALFORMED_FRAME', `frame is not a MessagePack document: ${(e as Error).message}`, { cause: e });
  }
}

/** One frame as read: its MessagePack document and whether that memory belongs to this frame alone. */
export interface ReadFrame {
  doc: Uint8Array;
  /** True when `doc` was reassembled into its own buffer (then views of it may be handed out as is). */
  exclusive: boolean;
}

/** Streaming reader of length-prefixed frames. */
export class FrameParser {
  private readonly prefix = new Uint8Array(FRAME_PREFIX_BYTES);
  private prefixGot = 0;
  /** Length of the frame being read, or -1 while reading a prefix. */
  private need = -1;
  private target: Uint8Array | undefined;
  private filled = 0;

  /** `maxFrameBytes` may be raised between frames (after a handshake). */
  constructor(public maxFrameBytes: number) {}

  /** Bytes held for a frame not yet complete. */
  get pendingBytes(): number {
    return this.need < 0 ? this.prefixGot : this.filled;
  }

  /**
   * Feeds one chunk; calls `onFrame` for each complete frame, in order, synchronously, so that the
   * handler can change `maxFrameBytes` before the next prefix is checked. Throws ERR_FRAME_TOO_LARGE
   * or ERR_MALFORMED_FRAME; the stream is unusable afterwards.
   */
  push(chunk: Uint8Array, onFrame: (f: ReadFrame) => void): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.need < 0) {
        while (this.prefixGot < FRAME_PREFIX_BYTES && off < chunk.length) this.prefix[this.prefixGot++] = chunk[off++]!;
        if (this.prefixGot < FRAME_PREFIX_BYTES) return;
        this.prefixGot = 0;
        const p = this.prefix;
        const len = ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!;
        if (len > this.maxFrameBytes) throw tooLarge(len, this.maxFrameBytes, 'incoming frame');
        if (len === 0) throw new SecpError('ERR_MALFORMED_FRAME', 'incoming frame has length 0');
        this.need = len;
        continue;
      }
      if (this.target === undefined && chunk.length - off >= this.need) {
        const doc = chunk.subarray(off, off + this.need);
        off += this.need;
        this.need = -1;
        onFrame({ doc, exclusive: false });
        continue;
      }
      // Room for the prefix in front keeps the sender's body alignment (see the header comment).
      this.target ??= new Uint8Array(FRAME_PREFIX_BYTES + this.need);
      const n = Math.min(this.need - this.filled, chunk.length - off);
      this.target.set(chunk.subarray(off, off + n), FRAME_PREFIX_BYTES + this.filled);
      this.filled += n;
      off += n;
      if (this.filled === this.need) {
        const doc = this.target.subarray(FRAME_PREFIX_BYTES);
        this.target = undefined;
        this.filled = 0;
        this.need = -1;
        onFrame({ doc, exclusive: true });
      }
    }
  }
}
