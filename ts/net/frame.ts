/**
 * TCP framing. A frame on the wire is a 4-byte big-endian length L followed by L bytes holding exactly
 * one MessagePack document (msgpackr), a map. For a data message the map is
 *
 *   {b, v, s, o, q, f, t}    b: bin32 holding the body, first; then the header fields
 *
 * The writer puts the map marker and the bin32 header of `b` by hand, copies the body after them and
 * appends the header fields as msgpackr encodes them, all in one buffer: a send costs one copy of the
 * body (the snapshot `Link.send` promises) and no msgpack re-encoding of it. Control and handshake
 * frames are plain msgpackr maps. Any MessagePack reader decodes every frame.
 *
 * The reader (`FrameParser`) checks L against its limit as soon as the 4 prefix bytes are in, before it
 * allocates anything, and copies each byte at most once. Because `b` comes first, the body's length is
 * known after 8 bytes of the document; a reader in message mode then reads the body straight into a
 * buffer of exactly that size (so `recv` can hand out memory that is the body's alone, offset 0) and the
 * few header bytes after it into a small buffer of their own, decoded by msgpackr.
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

/** The header fields of a data frame, as msgpackr encodes them: a fixmap of 6. */
const HEADER_FIXMAP = 0x86;
/** First bytes of a data frame's document: fixmap(7), fixstr "b", bin32 marker; then the u32 body length. */
const DATA_SIGNATURE = new Uint8Array([0x87, 0xa1, 0x62, 0xc6]);
const DATA_LEAD_BYTES = 8;

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

/** Encodes a data message as one frame (prefix included); the body is copied once, right after its bin32 header. */
export function encodeDataFrame(env: DataEnvelope, maxFrameBytes: number): Buffer {
  const head = packr.pack({ v: env.v, s: env.s, o: env.o, q: env.q, f: env.f, t: env.t });
  if (head[0] !== HEADER_FIXMAP) throw new SecpError('ERR_MALFORMED_FRAME', 'msgpackr did not encode the header as a fixmap');
  const n = env.b.byteLength;
  const docLen = DATA_LEAD_BYTES + n + head.length - 1;
  if (docLen > maxFrameBytes) throw tooLarge(docLen, maxFrameBytes, `frame for op '${env.o}'`);
  const out = Buffer.allocUnsafe(FRAME_PREFIX_BYTES + docLen);
  out.writeUInt32BE(docLen, 0);
  out.set(DATA_SIGNATURE, FRAME_PREFIX_BYTES);
  out.writeUInt32BE(n, FRAME_PREFIX_BYTES + 4);
  out.set(env.b, FRAME_PREFIX_BYTES + DATA_LEAD_BYTES);
  out.set(head.subarray(1), FRAME_PREFIX_BYTES + DATA_LEAD_BYTES + n);
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

/** One frame as read. */
export interface ReadFrame {
  /** The MessagePack document; for a split data frame, the map of its header fields only. */
  doc: Uint8Array;
  /** Message mode, data frames: the body, in an ArrayBuffer of its own. */
  body?: Uint8Array;
  /** Bytes this frame took on the wire, prefix included. */
  wireBytes: number;
}

/** Streaming reader of length-prefixed frames. */
export class FrameParser {
  private readonly prefix = new Uint8Array(FRAME_PREFIX_BYTES);
  private prefixGot = 0;
  /** Document length of the frame being read, or -1 while reading a prefix. */
  private need = -1;
  // Generic frames: the whole document.
  private doc: Uint8Array | undefined;
  private docGot = 0;
  // Split data frames: the lead bytes, then the body, then the header fields.
  private readonly lead = new Uint8Array(DATA_LEAD_BYTES);
  private leadGot = 0;
  private body: Uint8Array | undefined;
  private bodyGot = 0;
  private tail: Uint8Array | undefined;
  private tailGot = 0;

  /**
   * `maxFrameBytes` may be raised between frames (after a handshake); `splitBodies` turns on the
   * message-mode reading of data frames.
   */
  constructor(
    public maxFrameBytes: number,
    public splitBodies = false,
  ) {}

  /** Bytes held for a frame not yet complete. */
  get pendingBytes(): number {
    if (this.need < 0) return this.prefixGot;
    return this.docGot + this.leadGot + this.bodyGot + this.tailGot;
  }

  /**
   * Feeds one chunk; calls `onFrame` for each complete frame, in order, synchronously, so that the
   * handler can change the parser's settings before the next prefix is read. Throws
   * ERR_FRAME_TOO_LARGE or ERR_MALFORMED_FRAME; the stream is unusable afterwards.
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
      if (this.splitBodies && this.doc === undefined && this.need > DATA_LEAD_BYTES) {
        if (this.leadGot < DATA_LEAD_BYTES) {
          while (this.leadGot < DATA_LEAD_BYTES && off < chunk.length) this.lead[this.leadGot++] = chunk[off++]!;
          if (this.leadGot < DATA_LEAD_BYTES) return;
          if (!DATA_SIGNATURE.every((b, i) => this.lead[i] === b)) {
            // Not our data layout (a control frame, or another writer): read the document whole.
            this.doc = new Uint8Array(this.need);
            this.doc.set(this.lead);
            this.docGot = DATA_LEAD_BYTES;
            this.leadGot = 0;
            continue;
          }
          const l = this.lead;
          const n = ((l[4]! << 24) >>> 0) + (l[5]! << 16) + (l[6]! << 8) + l[7]!;
          if (n >= this.need - DATA_LEAD_BYTES) throw new SecpError('ERR_MALFORMED_FRAME', `data frame declares a body of ${n} bytes in a frame of ${this.need}`);
          this.body = new Uint8Array(n);
          this.tail = new Uint8Array(1 + this.need - DATA_LEAD_BYTES - n);
          this.tail[0] = HEADER_FIXMAP;
          this.tailGot = 1;
        }
        if (this.bodyGot < this.body!.length) {
          const k = Math.min(this.body!.length - this.bodyGot, chunk.length - off);
          this.body!.set(chunk.subarray(off, off + k), this.bodyGot);
          this.bodyGot += k;
          off += k;
          continue;
        }
        const tail = this.tail!;
        const k = Math.min(tail.length - this.tailGot, chunk.length - off);
        tail.set(chunk.subarray(off, off + k), this.tailGot);
        this.tailGot += k;
        off += k;
        if (this.tailGot === tail.length) {
          const frame: ReadFrame = { doc: tail, body: this.body!, wireBytes: FRAME_PREFIX_BYTES + this.need };
          this.need = -1;
          this.leadGot = this.bodyGot = this.tailGot = 0;
          this.body = this.tail = undefined;
          onFrame(frame);
        }
        continue;
      }
      if (this.doc === undefined && chunk.length - off >= this.need) {
        // The whole document is in this chunk: decode it in place.
        const frame: ReadFrame = { doc: chunk.subarray(off, off + this.need), wireBytes: FRAME_PREFIX_BYTES + this.need };
        off += this.need;
        this.need = -1;
        onFrame(frame);
        continue;
      }
      this.doc ??= new Uint8Array(this.need);
      const k = Math.min(this.need - this.docGot, chunk.length - off);
      this.doc.set(chunk.subarray(off, off + k), this.docGot);
      this.docGot += k;
      off += k;
      if (this.docGot === this.need) {
        const frame: ReadFrame = { doc: this.doc, wireBytes: FRAME_PREFIX_BYTES + this.need };
        this.doc = undefined;
        this.docGot = 0;
        this.need = -1;
        onFrame(frame);
      }
    }
  }
}
