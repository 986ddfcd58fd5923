/**
 * Reader and writer for the safetensors format (huggingface/safetensors): an 8-byte little-endian header
 * length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {..}}`, then
 * the data section, offsets relative to its start. The reader validates the whole header before any tensor
 * is decoded and decodes lazily, so a multi-GB checkpoint costs one copy per tensor actually used.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { SecpError } from '../../bindings/errors.js';

/** Largest JSON header accepted (the Rust reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bytes per element of every dtype the format defines; anything else is rejected as unknown. */
const DTYPE_BYTES = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
} as const;

export type Dtype = keyof typeof DTYPE_BYTES;
/** Dtypes this module can decode to (and encode from) floating point. */
export type FloatDtype = 'F16' | 'BF16' | 'F32' | 'F64';

export interface TensorInfo {
  dtype: Dtype;
  shape: number[];
  /** Byte range [begin, end) inside the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>;
  /** Decodes one tensor to float32 (F16/BF16/F32 exactly; F64 rounded). */
  read(name: string): Float32Array;
}

export interface TensorToWrite {
  dtype: FloatDtype;
  shape: number[];
  data: ArrayLike<number>;
}

// Typed-array views below read the file's bytes in host order; the format is little-endian.
const HOST_IS_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fail(message: string): never {
  throw new SecpError('ERR_SAFETENSORS', message);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Parses and validates a whole safetensors file held in memory. */
export function parseSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  if (!HOST_IS_LE) fail('big-endian hosts are not supported');
  if (bytes.length < 8) fail(`${source}: ${bytes.length} bytes is too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) {
    fail(`${source}: header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const n = Number(headerLen);
  if (8 + n > bytes.length) {
    fail(`${source}: header length ${n} exceeds the file size ${bytes.length} (truncated file?)`);
  }
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
    if (!text.startsWith('{')) fail(`${source}: header does not start with '{'`);
    header = JSON.parse(text);
  } catch (err) {
    if (err instanceof SecpError) throw err;
    throw new SecpError('ERR_SAFETENSORS', `${source}: header is not valid UTF-8 JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    fail(`${source}: header must be a JSON object`);
  }

  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
        fail(`${source}: __metadata__ must be an object of strings`);
      }
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`${source}: __metadata__.${k} must be a string`);
        metadata[k] = v;
      }
      continue;
    }
    tensors.set(name, parseEntry(source, name, entry, dataLen));
  }

  const sorted = [...tensors.entries()].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  for (let i = 1; i < sorted.length; i++) {
    const [prevName, prev] = sorted[i - 1]!;
    const [name, t] = sorted[i]!;
    if (t.begin < prev.end) {
      const range = (x: TensorInfo) => `[${x.begin}, ${x.end})`;
      fail(`${source}: tensors "${prevName}" ${range(prev)} and "${name}" ${range(t)} overlap`);
    }
  }

  return {
    metadata,
    tensors,
    read(name: string): Float32Array {
      const t = tensors.get(name);
      if (t === undefined) throw new SecpError('ERR_MISSING_TENSOR', `${source}: no tensor named "${name}"`);
      // Copy into a fresh, aligned buffer so the typed views below are legal (Buffer#slice would not copy).
      const copy = new Uint8Array(t.end - t.begin);
      copy.set(bytes.subarray(dataStart + t.begin, dataStart + t.end));
      const raw = copy.buffer;
      switch (t.dtype) {
        case 'F32':
          return new Float32Array(raw);
        case 'F64':
          return Float32Array.from(new Float64Array(raw));
        case 'F16':
          return decodeF16(new Uint16Array(raw));
        case 'BF16': {
          const out = new Uint32Array(raw.byteLength / 2);
          const src = new Uint16Array(raw);
          for (let i = 0; i < src.length; i++) out[i] = src[i]! << 16;
          return new Float32Array(out.buffer);
        }
        default:
          return fail(`${source}: tensor "${name}" has dtype ${t.dtype}; only F16, BF16, F32 and F64 decode to floats`);
      }
    },
  };
}

function parseEntry(source: string, name: string, entry: unknown, dataLen: number): TensorInfo {
  const where = `${source}: tensor "${name}"`;
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) fail(`${where} must be an object`);
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype)) {
    fail(`${where} has unknown dtype ${JSON.stringify(dtype)}`);
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) fail(`${where}: shape must be an array of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    fail(`${where}: data_offsets must be [begin, end] with non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) fail(`${where}: data_offsets [${begin}, ${end}] are reversed`);
  if (end > dataLen) fail(`${where}: data_offsets [${begin}, ${end}] run past the ${dataLen}-byte data section`);
  const bytes = numel(shape) * DTYPE_BYTES[dtype as Dtype];
  if (!Number.isSafeInteger(bytes) || bytes !== end - begin) {
    fail(`${where}: data_offsets span ${end - begin} bytes but ${dtype} x [${shape.join(', ')}] needs ${bytes}`);
  }
  return { dtype: dtype as Dtype, shape: shape as number[], begin, end };
}

/** Reads and validates a safetensors file (see parseSafetensors). */
export function readSafetensors(path: string): SafetensorsFile {
  if (!existsSync(path)) throw new SecpError('ERR_FILE_MISSING', `safetensors file not found: ${path}`);
  return parseSafetensors(readFileSync(path), path);
}

/** Encodes tensors (in iteration order, contiguous) with an optional string metadata map. */
export function serializeSafetensors(
  tensors: Iterable<[string, TensorToWrite]>,
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header['__metadata__'] = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new SecpError('ERR_INVALID_ARGUMENT', '"__metadata__" is not a tensor name');
    if (Object.hasOwn(header, name)) throw new SecpError('ERR_INVALID_ARGUMENT', `duplicate tensor name "${name}"`);
    if (!t.shape.every(isCount)) throw new SecpError('ERR_INVALID_ARGUMENT', `tensor "${name}": bad shape`);
    if (t.data.length !== numel(t.shape)) {
      throw new SecpError(
        'ERR_SHAPE_MISMATCH',
        `tensor "${name}": ${t.data.length} values for shape [${t.shape.join(', ')}]`,
      );
    }
    const raw = encode(t);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + raw.length] };
    chunks.push(raw);
    offset += raw.length;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Writes tensors to `path` (see serializeSafetensors). */
export function writeSafetensors(
  path: string,
  tensors: Iterable<[string, TensorToWrite]>,
  metadata?: Record<string, string>,
): void {
  writeFileSync(path, serializeSafetensors(tensors, metadata));
}

function encode(t: TensorToWrite): Uint8Array {
  switch (t.dtype) {
    case 'F32':
      return new Uint8Array(Float32Array.from(t.data).buffer);
    case 'F64':
      return new Uint8Array(Float64Array.from(t.data).buffer);
    case 'F16':
      return new Uint8Array(Uint16Array.from(Float32Array.from(t.data), f32ToF16).buffer);
    case 'BF16':
      return new Uint8Array(Uint16Array.from(Float32Array.from(t.data), f32ToBf16).buffer);
    default:
      throw new SecpError('ERR_INVALID_ARGUMENT', `cannot write dtype ${String(t.dtype)}`);
  }
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** float32 -> IEEE binary16 bits, round to nearest even, with subnormals, overflow to inf and NaN kept. */
function f32ToF16(x: number): number {
  F32[0] = x;
  const b = U32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) === 1)) h++; // a carry into the exponent is still correct
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // may carry up to 0x7c00 = inf: correct
  return sign | h;
}

/** float32 -> bfloat16 bits, round to nearest even, NaN kept quiet. */
function f32ToBf16(x: number): number {
  F32[0] = x;
  const b = U32[0]!;
  if ((b & 0x7fffffff) > 0x7f800000) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

function decodeF16(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i]!;
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) out[i] = sign * mant * 2 ** -24;
    else if (exp === 31) out[i] = mant === 0 ? sign * Infinity : NaN;
    else out[i] = sign * (1024 + mant) * 2 ** (exp - 25);
  }
  return out;
}
