/**
 * The native backend: loads the napi-rs addon built from crates/napi by scripts/build-native.sh
 * (bindings/native/secp-kernels.<platform>.node) and adapts it to KernelBackend.
 * The addon writes into caller-provided outputs; this wrapper allocates the ones left out and
 * turns every addon error into a SecpError carrying the kernel's code.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { assertDim, assertPlaneBits, assertSeries, assertTerms, SecpError, type ErrorCode } from './errors.js';
import { unzeroed } from './fresh.js';
import { PACKAGE_NAME, packageRoot } from './package-root.js';
import type { KernelBackend } from './types.js';

/** The addon's raw exports (crates/napi/src/lib.rs); outputs are always passed in. */
interface NativeAddon {
  matmul(a: BigUint64Array, b: BigUint64Array, m: number, k: number, n: number, out: BigUint64Array): void;
  matmulBT(a: BigUint64Array, bt: BigUint64Array, m: number, k: number, n: number, out: BigUint64Array): void;
  matmulAsync(a: BigUint64Array, b: BigUint64Array, m: number, k: number, n: number): Promise<BigUint64Array>;
  add(a: BigUint64Array, b: BigUint64Array, out: BigUint64Array): void;
  sub(a: BigUint64Array, b: BigUint64Array, out: BigUint64Array): void;
  mul(a: BigUint64Array, b: BigUint64Array, out: BigUint64Array): void;
  neg(a: BigUint64Array, out: BigUint64Array): void;
  xor(a: BigUint64Array, b: BigUint64Array, out: BigUint64Array): void;
  truncFinish(c: BigUint64Array, rTr: BigUint64Array, rMsb: BigUint64Array, bits: number, party0: boolean, out: BigUint64Array): void;
  and(a: BigUint64Array, b: BigUint64Array, out: BigUint64Array): void;
  shrXor(a: BigUint64Array, s: number, b: BigUint64Array, out: BigUint64Array): void;
  toBitPlanes(x: BigUint64Array, bits: number, out: BigUint64Array): void;
  fromBitPlanes(planes: BigUint64Array, bits: number, out: BigUint64Array): void;
  beaverAnd(c: BigUint64Array, a: BigUint64Array, b: BigUint64Array, d: BigUint64Array, e: BigUint64Array, party0: boolean, out: BigUint64Array): void;
  beaverMul(c: BigUint64Array, a: BigUint64Array, b: BigUint64Array, e: BigUint64Array, f: BigUint64Array, party0: boolean, out: BigUint64Array): void;
  addScalar(a: BigUint64Array, s: bigint, out: BigUint64Array): void;
  truncDeal(r: BigUint64Array, bits: number, tr: BigUint64Array, msb: BigUint64Array): void;
  scalarMul(a: BigUint64Array, s: bigint, out: BigUint64Array): void;
  sumAxis(a: BigUint64Array, rows: number, cols: number, axis: number, out: BigUint64Array): void;
  encode(x: Float64Array, fracBits: number, out: BigUint64Array): void;
  decode(x: BigUint64Array, fracBits: number, out: Float64Array): void;
  prgFill(key: Uint8Array, nonce: Uint8Array, counter: number, out: BigUint64Array): void;
  cosSinTurns(angle: BigUint64Array, fracBits: number, cos: BigUint64Array, sin: BigUint64Array): void;
  cosSinSeries(d: BigUint64Array, coef: BigUint64Array, terms: number, fracBits: number, acc: BigUint64Array, out: BigUint64Array): void;
  cosSinTerms(t: BigUint64Array, coefs: BigUint64Array, fracBits: number, shift: number, out: BigUint64Array): void;
  angleScale(w: Float64Array, fracBits: number, out: BigUint64Array): void;
  linearF64(x: Float64Array, w: Float32Array, b: Float32Array, rows: number, inDim: number, out: Float64Array): void;
  threadCount(): number;
  retainFreedMemory(bytes: number): boolean;
}

/** KernelBackend plus what only the native addon knows. */
export interface NativeBackend extends KernelBackend {
  /** Threads that large matmuls are split across (rayon's pool; RAYON_NUM_THREADS overrides it). */
  readonly threads: number;
  /** The .node file that was loaded. */
  readonly file: string;
}

/** File name suffixes napi-rs gives this platform, most likely first. */
function platformSuffixes(): string[] {
  const { platform, arch } = process;
  switch (platform) {
    case 'linux':
      return [`linux-${arch}-gnu`, `linux-${arch}-musl`];
    case 'win32':
      return [`win32-${arch}-msvc`, `win32-${arch}-gnu`];
    case 'darwin':
      return [`darwin-${arch}`, 'darwin-universal'];
    default:
      return [`${platform}-${arch}`];
  }
}

/**
 * What loadNative tries when given no file, in order: the addon built in this checkout
 * (bindings/native/secp-kernels.<platform>.node, by `npm run build:native`), then the per-platform package
 * an installed copy gets as an optional dependency (secp-tuning-<platform>, napi-rs's layout: npm/<platform>/).
 */
export function nativeAddonCandidates(): string[] {
  const dir = join(packageRoot(), 'bindings', 'native');
  return platformSuffixes().flatMap((s) => [join(dir, `secp-kernels.${s}.node`), `${PACKAGE_NAME}-${s}`]);
}

/** Addon errors (kernel codes, or napi-rs's own for wrong argument types) as SecpError. */
function toSecpError(e: unknown): unknown {
  if (e instanceof SecpError || !(e instanceof Error)) return e;
  const raw = (e as { code?: unknown }).code;
  let code: ErrorCode = 'ERR_KERNEL';
  if (typeof raw === 'string' && raw.startsWith('ERR_')) code = raw;
  else if (raw === 'InvalidArg' || (typeof raw === 'string' && raw.endsWith('Expected'))) code = 'ERR_INVALID_ARGUMENT';
  return new SecpError(code, e.message, { cause: e });
}

type ArrayCtor = typeof BigUint64Array | typeof Float64Array | typeof Float32Array | typeof Uint8Array;

/** napi-rs reports a wrong array type without naming the argument; this names it. */
function expectArray(name: string, v: unknown, ctor: ArrayCtor): void {
  if (!(v instanceof ctor)) {
    const got = v === null ? 'null' : typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
    throw new SecpError('ERR_INVALID_ARGUMENT', `${name} must be a ${ctor.name}, got ${got}`);
  }
}

/**
 * A fresh output, not zero-filled (bindings/fresh.ts): every kernel below writes every element of its output
 * (the elementwise kernels element by element, matmul after zeroing its output, the bit-plane kernels every
 * word of every plane; test/kernels.test.ts checks each with a dirty output).
 */
function alloc<T>(ctor: Parameters<typeof unzeroed<T>>[0], len: number): T {
  try {
    return unzeroed(ctor, len);
  } catch (e) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `cannot allocate an output of ${len} elements`, { cause: e });
  }
}

/**
 * Below this size glibc's malloc serves allocations from its heap and keeps all freed memory for reuse (the addon's
 * retainFreedMemory: no trimming): fresh typed arrays then skip the page faults of a new mapping, which cost the MPC
 * forward more than the arithmetic on them. `SECP_RETAIN_FREED_MEMORY=0` leaves malloc's defaults (mmap above 128 KiB
 * to 32 MiB, adaptively, and unmapped on free). The process keeps its peak heap mapped (3.6 GB for a 3-layer
 * BERT-base forward at batch 8 with every role in one process).
 */
export const RETAIN_FREED_BYTES = 2 ** 30;

function adapt(addon: NativeAddon, file: string): NativeBackend {
  if (process.env.SECP_RETAIN_FREED_MEMORY !== '0') addon.retainFreedMemory(RETAIN_FREED_BYTES);
  const call = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw toSecpError(e);
    }
  };
  const u64 = (name: string, v: unknown): void => expectArray(name, v, BigUint64Array);
  const dims = (m: number, k: number, n: number): void => {
    assertDim('m', m);
    assertDim('k', k);
    assertDim('n', n);
  };
  const binary =
    (op: 'add' | 'sub' | 'mul' | 'xor' | 'and') =>
    (a: BigUint64Array, b: BigUint64Array, out?: BigUint64Array): BigUint64Array => {
      u64('a', a);
      u64('b', b);
      const o = out ?? alloc(BigUint64Array, a.length);
      u64('out', o);
      call(() => addon[op](a, b, o));
      return o;
    };

  return {
    name: 'native',
    threads: addon.threadCount(),
    file,
    matmul(a, b, m, k, n, out) {
      u64('a', a);
      u64('b', b);
      dims(m, k, n);
      const o = out ?? alloc(BigUint64Array, m * n);
      u64('out', o);
      call(() => addon.matmul(a, b, m, k, n, o));
      return o;
    },
    matmulBT(a, bt, m, k, n, out) {
      u64('a', a);
      u64('bt', bt);
      dims(m, k, n);
      const o = out ?? alloc(BigUint64Array, m * n);
      u64('out', o);
      call(() => addon.matmulBT(a, bt, m, k, n, o));
      return o;
    },
    /** Runs on libuv's pool; `a` and `b` must not be written until the promise settles. */
    async matmulAsync(a, b, m, k, n) {
      u64('a', a);
      u64('b', b);
      dims(m, k, n);
      try {
        return await addon.matmulAsync(a, b, m, k, n);
      } catch (e) {
        throw toSecpError(e);
      }
    },
    add: binary('add'),
    xor: binary('xor'),
    and: binary('and'),
    shrXor(a, s, b, out) {
      u64('a', a);
      u64('b', b);
      if (!Number.isInteger(s) || s < 0 || s >= 64) throw new SecpError('ERR_INVALID_ARGUMENT', `invalid argument: shift must be in 0..64, got ${s}`);
      const o = out ?? alloc(BigUint64Array, a.length);
      u64('out', o);
      call(() => addon.shrXor(a, s, b, o));
      return o;
    },
    toBitPlanes(x, bits, out) {
      u64('x', x);
      assertPlaneBits(bits);
      const o = out ?? alloc(BigUint64Array, bits * Math.ceil(x.length / 64));
      u64('out', o);
      call(() => addon.toBitPlanes(x, bits, o));
      return o;
    },
    fromBitPlanes(planes, bits, n, out) {
      u64('planes', planes);
      assertPlaneBits(bits);
      assertDim('n', n);
      if (out !== undefined && out.length !== n) throw new SecpError('ERR_SHAPE_MISMATCH', `shape mismatch: out: ${out.length} elements vs ${n} elements`);
      const o = out ?? alloc(BigUint64Array, n);
      u64('out', o);
      call(() => addon.fromBitPlanes(planes, bits, o));
      return o;
    },
    truncFinish(c, rTr, rMsb, bits, party0, out) {
      for (const [name, v] of [['c', c], ['rTr', rTr], ['rMsb', rMsb]] as const) u64(name, v);
      assertDim('bits', bits);
      const o = out ?? alloc(BigUint64Array, c.length);
      u64('out', o);
      call(() => addon.truncFinish(c, rTr, rMsb, bits, party0, o));
      return o;
    },
    beaverAnd(c, a, b, d, e, party0, out) {
      for (const [name, v] of [['c', c], ['a', a], ['b', b], ['d', d], ['e', e]] as const) u64(name, v);
      const o = out ?? alloc(BigUint64Array, c.length);
      u64('out', o);
      call(() => addon.beaverAnd(c, a, b, d, e, party0, o));
      return o;
    },
    beaverMul(c, a, b, e, f, party0, out) {
      for (const [name, v] of [['c', c], ['a', a], ['b', b], ['e', e], ['f', f]] as const) u64(name, v);
      const o = out ?? alloc(BigUint64Array, c.length);
      u64('out', o);
      call(() => addon.beaverMul(c, a, b, e, f, party0, o));
      return o;
    },
    addScalar(a, s, out) {
      u64('a', a);
      if (typeof s !== 'bigint') throw new SecpError('ERR_INVALID_ARGUMENT', `s must be a bigint, got ${typeof s}`);
      const o = out ?? alloc(BigUint64Array, a.length);
      u64('out', o);
      call(() => addon.addScalar(a, s, o));
      return o;
    },
    truncDeal(r, bits) {
      u64('r', r);
      assertDim('bits', bits);
      const tr = alloc(BigUint64Array, r.length);
      const msb = alloc(BigUint64Array, r.length);
      call(() => addon.truncDeal(r, bits, tr, msb));
      return { tr, msb };
    },
    sub: binary('sub'),
    mul: binary('mul'),
    neg(a, out) {
      u64('a', a);
      const o = out ?? alloc(BigUint64Array, a.length);
      u64('out', o);
      call(() => addon.neg(a, o));
      return o;
    },
    scalarMul(a, s, out) {
      u64('a', a);
      if (typeof s !== 'bigint') throw new SecpError('ERR_INVALID_ARGUMENT', `s must be a bigint, got ${typeof s}`);
      const o = out ?? alloc(BigUint64Array, a.length);
      u64('out', o);
      call(() => addon.scalarMul(a, s, o));
      return o;
    },
    sumAxis(a, rows, cols, axis) {
      u64('a', a);
      assertDim('rows', rows);
      assertDim('cols', cols);
      assertDim('axis', axis);
      const o = alloc(BigUint64Array, axis === 0 ? cols : axis === 1 ? rows : 0);
      call(() => addon.sumAxis(a, rows, cols, axis, o));
      return o;
    },
    encode(x, fracBits, out) {
      expectArray('x', x, Float64Array);
      assertDim('fracBits', fracBits);
      const o = out ?? alloc(BigUint64Array, x.length);
      u64('out', o);
      call(() => addon.encode(x, fracBits, o));
      return o;
    },
    decode(x, fracBits, out) {
      u64('x', x);
      assertDim('fracBits', fracBits);
      const o = out ?? alloc(Float64Array, x.length);
      expectArray('out', o, Float64Array);
      call(() => addon.decode(x, fracBits, o));
      return o;
    },
    prgFill(key, nonce, counter, out) {
      expectArray('key', key, Uint8Array);
      expectArray('nonce', nonce, Uint8Array);
      assertDim('counter', counter);
      u64('out', out);
      call(() => addon.prgFill(key, nonce, counter, out));
      return out;
    },
    cosSinTurns(angle, fracBits) {
      u64('angle', angle);
      assertDim('fracBits', fracBits);
      const cos = alloc(BigUint64Array, angle.length);
      const sin = alloc(BigUint64Array, angle.length);
      call(() => addon.cosSinTurns(angle, fracBits, cos, sin));
      return { cos, sin };
    },
    cosSinSeries(d, coef, terms, fracBits, acc) {
      u64('d', d);
      u64('coef', coef);
      u64('acc', acc);
      assertDim('fracBits', fracBits);
      assertSeries(d.length, coef.length, terms, acc.length);
      const o = alloc(BigUint64Array, d.length);
      call(() => addon.cosSinSeries(d, coef, terms, fracBits, acc, o));
      return o;
    },
    cosSinTerms(tv, coefs, fracBits, shift) {
      u64('t', tv);
      u64('coefs', coefs);
      assertDim('fracBits', fracBits);
      assertTerms(coefs.length, shift);
      const o = alloc(BigUint64Array, 2 * coefs.length * tv.length);
      call(() => addon.cosSinTerms(tv, coefs, fracBits, shift, o));
      return o;
    },
    angleScale(w, fracBits) {
      expectArray('w', w, Float64Array);
      assertDim('fracBits', fracBits);
      const o = alloc(BigUint64Array, w.length);
      call(() => addon.angleScale(w, fracBits, o));
      return o;
    },
    linearF64(x, w, b, rows, inDim, out) {
      expectArray('x', x, Float64Array);
      expectArray('w', w, Float32Array);
      expectArray('b', b, Float32Array);
      assertDim('rows', rows);
      assertDim('inDim', inDim);
      const o = out ?? alloc(Float64Array, rows * b.length);
      expectArray('out', o, Float64Array);
      call(() => addon.linearF64(x, w, b, rows, inDim, o));
      return o;
    },
  };
}

/**
 * Loads the native addon (from `file`, or the first of nativeAddonCandidates() that loads) and
 * returns it as a KernelBackend. Throws ERR_BACKEND_UNAVAILABLE naming every path tried and why it
 * failed, with the loader's error(s) as `cause`.
 */
export function loadNative(file?: string): NativeBackend {
  const tried = file !== undefined ? [file] : nativeAddonCandidates();
  const req = createRequire(import.meta.url);
  const errors: unknown[] = [];
  for (const path of tried) {
    try {
      return adapt(req(path) as NativeAddon, req.resolve(path));
    } catch (e) {
      errors.push(e);
    }
  }
  const why = tried.map((p, i) => {
    const e = errors[i];
    return `  ${p}: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`;
  });
  throw new SecpError(
    'ERR_BACKEND_UNAVAILABLE',
    `native addon could not be loaded (build it with \`npm run build:native\`, or install ${PACKAGE_NAME}-<platform>); tried:\n${why.join('\n')}`,
    { cause: errors.length === 1 ? errors[0] : new AggregateError(errors, 'every native addon candidate failed') },
  );
}
