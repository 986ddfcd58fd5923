/**
 * The wasm kernel backend: crates/wasm (secp-kernels compiled to wasm32-unknown-unknown) behind a small
 * hand-written loader.
 *
 * Why raw `extern "C"` exports and not wasm-bindgen: the wasm build has to use Debian's Rust 1.63
 * (the only wasm32 std on offline machines), so wasm-bindgen would be pinned to an old 0.2.8x
 * release and wasm-bindgen-cli would have to be `cargo install`ed at exactly that version. That is
 * slow, pulls through cargo 1.65's git index, and is one more moving part to keep in step. Our
 * interface is only typed arrays and numbers, which raw exports carry as (pointer, length) pairs
 * with no glue at all, and the module needs no imports. So: the module exports `alloc`/`dealloc`,
 * one function per kernel that returns 0 (ok) or 1 (failed), and `last_error_ptr/len`, which hold
 * "CODE: message" from the kernel's `KernelError`; this file turns that into a SecpError.
 *
 * Each call allocates a buffer per argument, copies the inputs in, runs the kernel, copies the
 * outputs out and frees everything (copies are cheap next to a matmul; outputs may be the caller's
 * `out`). The module's memory grows to the largest call seen and is reused, never shrunk.
 * `matmulAsync` is the synchronous matmul returned as a resolved promise: wasm here runs on the
 * calling thread, so use piscina workers to keep the event loop free.
 *
 * The module is built without simd128 (scripts/build-wasm.sh says why: no fast 64-bit vector
 * multiply in wasm); its matmul is a scalar register-blocked kernel (crates/kernels/src/matmul_packed.rs).
 */
import { SecpError, assertDim, assertPlaneBits, assertSeries, assertTerms } from './errors.js';
import type { KernelBackend } from './types.js';

const U32_MAX = 0xffffffff;
const FRAC_BITS_MAX = 62;

type Ptr = number;
interface Exports {
  memory: { buffer: ArrayBuffer };
  alloc(bytes: number): Ptr;
  dealloc(ptr: Ptr, bytes: number): void;
  last_error_ptr(): Ptr;
  last_error_len(): number;
  matmul(a: Ptr, aLen: number, b: Ptr, bLen: number, m: number, k: number, n: number, out: Ptr, outLen: number): number;
  matmul_bt(a: Ptr, aLen: number, b: Ptr, bLen: number, m: number, k: number, n: number, out: Ptr, outLen: number): number;
  add(a: Ptr, aLen: number, b: Ptr, bLen: number, out: Ptr, outLen: number): number;
  sub(a: Ptr, aLen: number, b: Ptr, bLen: number, out: Ptr, outLen: number): number;
  mul(a: Ptr, aLen: number, b: Ptr, bLen: number, out: Ptr, outLen: number): number;
  neg(a: Ptr, aLen: number, out: Ptr, outLen: number): number;
  xor(a: Ptr, aLen: number, b: Ptr, bLen: number, out: Ptr, outLen: number): number;
  and(a: Ptr, aLen: number, b: Ptr, bLen: number, out: Ptr, outLen: number): number;
  shr_xor(a: Ptr, aLen: number, s: number, b: Ptr, bLen: number, out: Ptr, outLen: number): number;
  trunc_finish(c: Ptr, rTr: Ptr, rMsb: Ptr, n: number, bits: number, party0: number, out: Ptr): number;
  to_bit_planes(x: Ptr, xLen: number, bits: number, out: Ptr, outLen: number): number;
  from_bit_planes(planes: Ptr, planesLen: number, bits: number, out: Ptr, outLen: number): number;
  beaver_and(c: Ptr, a: Ptr, b: Ptr, d: Ptr, e: Ptr, n: number, party0: number, out: Ptr): number;
  beaver_mul(c: Ptr, a: Ptr, b: Ptr, e: Ptr, f: Ptr, n: number, party0: number, out: Ptr): number;
  add_scalar(a: Ptr, aLen: number, s: bigint, out: Ptr, outLen: number): number;
  trunc_deal(r: Ptr, n: number, bits: number, tr: Ptr, msb: Ptr): number;
  scalar_mul(a: Ptr, aLen: number, s: bigint, out: Ptr, outLen: number): number;
  sum_axis(a: Ptr, aLen: number, rows: number, cols: number, axis: number, out: Ptr, outLen: number): number;
  encode(x: Ptr, xLen: number, fracBits: number, out: Ptr, outLen: number): number;
  decode(x: Ptr, xLen: number, fracBits: number, out: Ptr, outLen: number): number;
  prg_fill(key: Ptr, keyLen: number, nonce: Ptr, nonceLen: number, counter: number, out: Ptr, outLen: number): number;
  cos_sin_turns(a: Ptr, aLen: number, fracBits: number, cos: Ptr, cosLen: number, sin: Ptr, sinLen: number): number;
  cos_sin_terms(t: Ptr, tLen: number, coefs: Ptr, coefsLen: number, fracBits: number, shift: number, out: Ptr, outLen: number): number;
  cos_sin_series(d: Ptr, dLen: number, coef: Ptr, coefLen: number, terms: number, fracBits: number, acc: Ptr, accLen: number, out: Ptr, outLen: number): number;
  angle_scale(w: Ptr, wLen: number, fracBits: number, out: Ptr, outLen: number): number;
  linear_f64(x: Ptr, xLen: number, w: Ptr, wLen: number, b: Ptr, bLen: number, rows: number, inDim: number, out: Ptr, outLen: number): number;
}

/** The few WebAssembly / TextDecoder globals used here (tsconfig's lib has no DOM types). */
interface WasmGlobals {
  WebAssembly: {
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: unknown };
    RuntimeError: new () => Error;
  };
  TextDecoder: new () => { decode(bytes: Uint8Array): string };
}
const g = globalThis as unknown as WasmGlobals;

type Typed = BigUint64Array | Float64Array | Float32Array | Uint8Array;
type TypedCtor<T extends Typed> = new (buffer: ArrayBuffer, byteOffset: number, length: number) => T;

/** Throws ERR_INVALID_ARGUMENT unless `v` fits the module's u32 (usize) parameters. */
function u32(name: string, v: number): number {
  assertDim(name, v);
  if (v > U32_MAX) throw new SecpError('ERR_INVALID_ARGUMENT', `${name} is ${v}, beyond the wasm32 backend's limit of ${U32_MAX}`);
  return v;
}

function fracBits(f: number): number {
  if (!Number.isInteger(f) || f < 0 || f > U32_MAX) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: frac_bits must be in 0..=${FRAC_BITS_MAX}, got ${f}`);
  }
  return f;
}

/** Buffers of one call: allocated in the module, freed together by `free()`. */
class Frame {
  private readonly held: [Ptr, number][] = [];
  constructor(private readonly x: Exports) {}

  private alloc(bytes: number): Ptr {
    if (bytes > U32_MAX) {
      throw new SecpError('ERR_INVALID_ARGUMENT', `a ${bytes}-byte buffer does not fit the wasm32 backend's 4 GiB memory`);
    }
    const p = this.x.alloc(bytes) >>> 0;
    if (p === 0) throw new SecpError('ERR_KERNEL', `wasm memory exhausted: cannot allocate ${bytes} bytes`);
    this.held.push([p, bytes]);
    return p;
  }

  /** Copies `src` into a new buffer. The view is made after `alloc`, which may grow (detach) memory. */
  input(src: Typed): Ptr {
    const p = this.alloc(src.byteLength);
    if (src.byteLength > 0) {
      new Uint8Array(this.x.memory.buffer, p, src.byteLength).set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
    }
    return p;
  }

  /** An uninitialised buffer of `len` elements of `bytesPer` bytes (the kernels write before reading). */
  output(len: number, bytesPer: number): Ptr {
    return this.alloc(len * bytesPer);
  }

  free(): void {
    for (const [p, bytes] of this.held) this.x.dealloc(p, bytes);
    this.held.length = 0;
  }
}

function kernelError(x: Exports): SecpError {
  const text = new g.TextDecoder().decode(new Uint8Array(x.memory.buffer, x.last_error_ptr() >>> 0, x.last_error_len() >>> 0));
  const sep = text.indexOf(': ');
  return sep > 0 ? new SecpError(text.slice(0, sep), text.slice(sep + 2)) : new SecpError('ERR_KERNEL', text);
}

/** Wraps a compiled, instantiated module in the KernelBackend interface. */
function backendOf(x: Exports): KernelBackend {
  /** Runs `body` with a fresh frame, maps a failed status to SecpError and always frees. */
  function call<T>(body: (f: Frame) => [number, () => T]): T {
    const f = new Frame(x);
    try {
      let status: number;
      let finish: () => T;
      try {
        [status, finish] = body(f);
      } catch (e) {
        // A trap means a bug in the module (kernels check their arguments); anything else is the caller's.
        if (e instanceof g.WebAssembly.RuntimeError) {
          throw new SecpError('ERR_KERNEL', `wasm kernel trapped: ${e.message}`, { cause: e });
        }
        throw e;
      }
      if (status !== 0) throw kernelError(x);
      return finish();
    } finally {
      f.free();
    }
  }

  /** Copies `len` elements at `p` out of the module (into `dst` when given); views made after the call. */
  function read<T extends Typed>(ctor: TypedCtor<T>, p: Ptr, len: number, dst?: T): T {
    const view = new ctor(x.memory.buffer, p, len);
    if (dst === undefined) return view.slice() as T;
    dst.set(view as never);
    return dst;
  }

  function matmulAny(bt: boolean, a: BigUint64Array, b: BigUint64Array, m: number, k: number, n: number, out?: BigUint64Array): BigUint64Array {
    u32('a rows', m);
    u32('a cols', k);
    u32(bt ? 'b (transposed) rows' : 'b cols', n);
    const outLen = out?.length ?? m * n;
    u32('m*n', outLen);
    return call((f) => {
      const pa = f.input(a);
      const pb = f.input(b);
      const po = f.output(outLen, 8);
      const run = bt ? x.matmul_bt : x.matmul;
      return [run(pa, a.length, pb, b.length, m, k, n, po, outLen), () => read(BigUint64Array, po, outLen, out)];
    });
  }

  function zip(run: (a: Ptr, al: number, b: Ptr, bl: number, o: Ptr, ol: number) => number,
    a: BigUint64Array, b: BigUint64Array, out?: BigUint64Array): BigUint64Array {
    const len = out?.length ?? a.length;
    return call((f) => {
      const pa = f.input(a);
      const pb = f.input(b);
      const po = f.output(len, 8);
      return [run(pa, a.length, pb, b.length, po, len), () => read(BigUint64Array, po, len, out)];
    });
  }

  function map(run: (a: Ptr, al: number, o: Ptr, ol: number) => number, a: BigUint64Array, out?: BigUint64Array): BigUint64Array {
    const len = out?.length ?? a.length;
    return call((f) => {
      const pa = f.input(a);
      const po = f.output(len, 8);
      return [run(pa, a.length, po, len), () => read(BigUint64Array, po, len, out)];
    });
  }

  const matmul = (a: BigUint64Array, b: BigUint64Array, m: number, k: number, n: number, out?: BigUint64Array): BigUint64Array =>
    matmulAny(false, a, b, m, k, n, out);

  return {
    name: 'wasm',
    matmul,
    matmulBT: (a, bt, m, k, n, out) => matmulAny(true, a, bt, m, k, n, out),
    matmulAsync: async (a, b, m, k, n) => matmul(a, b, m, k, n),
    add: (a, b, out) => zip(x.add, a, b, out),
    sub: (a, b, out) => zip(x.sub, a, b, out),
    mul: (a, b, out) => zip(x.mul, a, b, out),
    neg: (a, out) => map(x.neg, a, out),
    xor: (a, b, out) => zip(x.xor, a, b, out),
    and: (a, b, out) => zip(x.and, a, b, out),
    shrXor(a, s, b, out) {
      if (!Number.isInteger(s) || s < 0 || s >= 64) throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: shift must be in 0..64, got ${s}`);
      return zip((pa, al, pb, bl, po, ol) => x.shr_xor(pa, al, s, pb, bl, po, ol), a, b, out);
    },
    toBitPlanes(v, bits, out) {
      assertPlaneBits(bits);
      const len = out?.length ?? bits * Math.ceil(v.length / 64);
      return map((pv, vl, po, ol) => x.to_bit_planes(pv, vl, bits, po, ol), v, out ?? new BigUint64Array(len));
    },
    fromBitPlanes(planes, bits, n, out) {
      assertPlaneBits(bits);
      u32('n', n);
      if (out !== undefined && out.length !== n) throw new SecpError('ERR_SHAPE_MISMATCH', `shape mismatch: out: ${out.length} elements vs ${n} elements`);
      return map((pp, pl, po, ol) => x.from_bit_planes(pp, pl, bits, po, ol), planes, out ?? new BigUint64Array(n));
    },
    truncFinish(c, rTr, rMsb, bits, party0, out) {
      const n = c.length;
      for (const [what, v] of [['r_tr', rTr], ['r_msb', rMsb], ['out', out ?? c]] as const) {
        if (v.length !== n) throw new SecpError('ERR_SHAPE_MISMATCH', `shape mismatch: ${what}: ${v.length} elements vs ${n} elements`);
      }
      u32('bits', bits);
      return call((f) => {
        const ps = [c, rTr, rMsb].map((v) => f.input(v));
        const po = f.output(n, 8);
        return [x.trunc_finish(ps[0]!, ps[1]!, ps[2]!, n, bits, party0 ? 1 : 0, po), () => read(BigUint64Array, po, n, out)];
      });
    },
    beaverAnd(c, a, b, d, e, party0, out) {
      const n = c.length;
      for (const [what, v] of [['a', a], ['b', b], ['d', d], ['e', e], ['out', out ?? c]] as const) {
        if (v.length !== n) throw new SecpError('ERR_SHAPE_MISMATCH', `shape mismatch: ${what}: ${v.length} elements vs ${n} elements`);
      }
      return call((f) => {
        const ps = [c, a, b, d, e].map((v) => f.input(v));
        const po = f.output(n, 8);
        return [x.beaver_and(ps[0]!, ps[1]!, ps[2]!, ps[3]!, ps[4]!, n, party0 ? 1 : 0, po), () => read(BigUint64Array, po, n, out)];
      });
    },
    beaverMul(c, a, b, e, fv, party0, out) {
      const n = c.length;
      for (const [what, v] of [['a', a], ['b', b], ['e', e], ['f', fv], ['out', out ?? c]] as const) {
        if (v.length !== n) throw new SecpError('ERR_SHAPE_MISMATCH', `shape mismatch: ${what}: ${v.length} elements vs ${n} elements`);
      }
      return call((f) => {
        const ps = [c, a, b, e, fv].map((v) => f.input(v));
        const po = f.output(n, 8);
        return [x.beaver_mul(ps[0]!, ps[1]!, ps[2]!, ps[3]!, ps[4]!, n, party0 ? 1 : 0, po), () => read(BigUint64Array, po, n, out)];
      });
    },
    addScalar(a, s, out) {
      if (typeof s !== 'bigint') throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: scalar must be a bigint, got ${typeof s}`);
      const sv = BigInt.asUintN(64, s);
      return map((pa, al, po, ol) => x.add_scalar(pa, al, sv, po, ol), a, out);
    },
    truncDeal(r, bits) {
      u32('bits', bits);
      const n = r.length;
      return call((f) => {
        const pr = f.input(r);
        const pt = f.output(n, 8);
        const pm = f.output(n, 8);
        return [x.trunc_deal(pr, n, bits, pt, pm), () => ({ tr: read(BigUint64Array, pt, n), msb: read(BigUint64Array, pm, n) })];
      });
    },
    scalarMul(a, s, out) {
      if (typeof s !== 'bigint') throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: scalar must be a bigint, got ${typeof s}`);
      const sv = BigInt.asUintN(64, s);
      return map((pa, al, po, ol) => x.scalar_mul(pa, al, sv, po, ol), a, out);
    },
    sumAxis(a, rows, cols, axis) {
      u32('rows', rows);
      u32('cols', cols);
      if (axis !== 0 && axis !== 1) throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: axis must be 0 or 1, got ${String(axis)}`);
      const len = axis === 0 ? cols : rows;
      return call((f) => {
        const pa = f.input(a);
        const po = f.output(len, 8);
        return [x.sum_axis(pa, a.length, rows, cols, axis, po, len), () => read(BigUint64Array, po, len)];
      });
    },
    encode(v, fb, out) {
      fracBits(fb);
      const len = out?.length ?? v.length;
      return call((f) => {
        const pv = f.input(v);
        const po = f.output(len, 8);
        return [x.encode(pv, v.length, fb, po, len), () => read(BigUint64Array, po, len, out)];
      });
    },
    decode(v, fb, out) {
      fracBits(fb);
      const len = out?.length ?? v.length;
      return call((f) => {
        const pv = f.input(v);
        const po = f.output(len, 8);
        return [x.decode(pv, v.length, fb, po, len), () => read(Float64Array, po, len, out)];
      });
    },
    prgFill(key, nonce, counter, out) {
      if (!Number.isInteger(counter) || counter < 0 || counter > U32_MAX) {
        throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: PRG block counter must be a u32, got ${counter}`);
      }
      return call((f) => {
        const pk = f.input(key);
        const pn = f.input(nonce);
        const po = f.output(out.length, 8);
        return [x.prg_fill(pk, key.length, pn, nonce.length, counter, po, out.length), () => read(BigUint64Array, po, out.length, out)];
      });
    },
    cosSinTurns(angle, fb) {
      fracBits(fb);
      const len = angle.length;
      return call((f) => {
        const pa = f.input(angle);
        const pc = f.output(len, 8);
        const ps = f.output(len, 8);
        return [x.cos_sin_turns(pa, len, fb, pc, len, ps, len),
          () => ({ cos: read(BigUint64Array, pc, len), sin: read(BigUint64Array, ps, len) })];
      });
    },
    cosSinSeries(d, coef, terms, fb, acc) {
      fracBits(fb);
      assertSeries(d.length, coef.length, terms, acc.length);
      const len = d.length;
      return call((f) => {
        const pd = f.input(d);
        const pk = f.input(coef);
        const pa = f.input(acc);
        const po = f.output(len, 8);
        return [x.cos_sin_series(pd, len, pk, coef.length, terms, fb, pa, acc.length, po, len), () => read(BigUint64Array, po, len)];
      });
    },
    cosSinTerms(tv, coefs, fb, shift) {
      fracBits(fb);
      assertTerms(coefs.length, shift);
      const len = 2 * coefs.length * tv.length;
      u32('2·terms·n', len);
      return call((f) => {
        const pt = f.input(tv);
        const pk = f.input(coefs);
        const po = f.output(len, 8);
        return [x.cos_sin_terms(pt, tv.length, pk, coefs.length, fb, shift, po, len), () => read(BigUint64Array, po, len)];
      });
    },
    angleScale(w, fb) {
      fracBits(fb);
      const len = w.length;
      return call((f) => {
        const pw = f.input(w);
        const po = f.output(len, 8);
        return [x.angle_scale(pw, len, fb, po, len), () => read(BigUint64Array, po, len)];
      });
    },
    linearF64(v, w, b, rows, inDim, out) {
      u32('rows', rows);
      u32('inDim', inDim);
      const len = out?.length ?? rows * b.length;
      u32('rows*out', len);
      return call((f) => {
        const pv = f.input(v);
        const pw = f.input(w);
        const pb = f.input(b);
        const po = f.output(len, 8);
        return [x.linear_f64(pv, v.length, pw, w.length, pb, b.length, rows, inDim, po, len), () => read(Float64Array, po, len, out)];
      });
    },
  };
}

const EXPORTS: (keyof Exports)[] = ['memory', 'alloc', 'dealloc', 'last_error_ptr', 'last_error_len', 'matmul', 'matmul_bt',
  'add', 'sub', 'mul', 'neg', 'xor', 'and', 'shr_xor', 'beaver_and', 'beaver_mul', 'add_scalar', 'trunc_deal', 'trunc_finish', 'to_bit_planes', 'from_bit_planes', 'scalar_mul', 'sum_axis', 'encode', 'decode', 'prg_fill', 'cos_sin_turns', 'cos_sin_series', 'cos_sin_terms', 'angle_scale', 'linear_f64'];

/**
 * THE loader, for Node and browsers alike: compiles and instantiates the module from its bytes,
 * synchronously, and wraps it. Node reads the bytes from the package (bindings/wasm-file.ts), the browser
 * entry fetches them or is handed them (bindings/browser.ts); neither has kernel code of its own. The module
 * imports nothing and is small (~75 KB), well under the size browsers allow to compile on the main thread.
 */
export function instantiateWasm(bytes: Uint8Array): KernelBackend {
  let instance: { exports: unknown };
  try {
    instance = new g.WebAssembly.Instance(new g.WebAssembly.Module(bytes), {});
  } catch (e) {
    throw new SecpError('ERR_BACKEND_UNAVAILABLE', `the ${bytes.byteLength} bytes given are not the kernels' wasm module: ${(e as Error).message}`, { cause: e });
  }
  const x = instance.exports as Record<string, unknown>;
  const missing = EXPORTS.filter((name) => x[name] === undefined);
  if (missing.length > 0) {
    throw new SecpError('ERR_BACKEND_UNAVAILABLE', `the wasm module lacks the exports ${missing.join(', ')}; rebuild it with npm run build:wasm`);
  }
  return backendOf(x as unknown as Exports);
}
