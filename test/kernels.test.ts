import test from 'ava';
import { SecpError } from '../bindings/errors.js';
import { concatWords } from '../ts/ring/tensor.js';
import { compiledBackends, backend, naiveLinear, randomReals, randomRing, reference } from './helpers.js';

const BLOCK = 128; // crates/kernels BLOCK: shapes around it exercise the tile edges
const shapes: Array<[number, number, number]> = [
  [1, 1, 1], [1, 7, 1], [2, 3, 5], [7, 1, 9], [5, 13, 3], [3, BLOCK, 4], [4, BLOCK + 1, 3],
  [9, BLOCK - 1, 2 * BLOCK + 1], [17, 2 * BLOCK + 3, 5], [6, 33, 2 * BLOCK], [0, 4, 3], [3, 0, 2], [2, 5, 0],
];

function transpose(b: BigUint64Array, k: number, n: number): BigUint64Array {
  const t = new BigUint64Array(k * n);
  for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) t[j * k + i] = b[i * n + j]!;
  return t;
}

for (const name of compiledBackends) {
  test(`${name}: matmul and matmulBT equal the BigInt reference on awkward shapes`, async (t) => {
    const be = backend(name);
    for (const [m, k, n] of shapes) {
      const a = randomRing(`a${m},${k},${n}`, m * k);
      const b = randomRing(`b${m},${k},${n}`, k * n);
      const want = reference.matmul(a, b, m, k, n);
      t.deepEqual(be.matmul(a, b, m, k, n), want, `matmul ${m}x${k}x${n}`);
      t.deepEqual(be.matmulBT(a, transpose(b, k, n), m, k, n), want, `matmulBT ${m}x${k}x${n}`);
      t.deepEqual(await be.matmulAsync(a, b, m, k, n), want, `matmulAsync ${m}x${k}x${n}`);
      const out = new BigUint64Array(m * n).fill(123n);
      t.is(be.matmul(a, b, m, k, n, out), out, 'writes into the given out');
      t.deepEqual(out, want);
    }
  });

  test(`${name}: a large matmul (threaded path) equals the reference on sampled entries`, async (t) => {
    const be = backend(name);
    const [m, k, n] = [67, 300, 129];
    const a = randomRing('bigA', m * k);
    const b = randomRing('bigB', k * n);
    const got = await be.matmulAsync(a, b, m, k, n);
    t.deepEqual(be.matmul(a, b, m, k, n), got);
    for (let s = 0; s < 200; s++) {
      const i = (s * 31) % m;
      const j = (s * 17) % n;
      let acc = 0n;
      for (let x = 0; x < k; x++) acc += a[i * k + x]! * b[x * n + j]!;
      t.is(got[i * n + j], BigInt.asUintN(64, acc));
    }
  });

  test(`${name}: elementwise ops and axis sums equal the reference`, (t) => {
    const be = backend(name);
    for (const len of [0, 1, 2, 7, 8, 9, 1000, 4097]) {
      const a = randomRing(`ea${len}`, len);
      const b = randomRing(`eb${len}`, len);
      t.deepEqual(be.add(a, b), reference.add(a, b));
      t.deepEqual(be.sub(a, b), reference.sub(a, b));
      t.deepEqual(be.mul(a, b), reference.mul(a, b));
      t.deepEqual(be.neg(a), reference.neg(a));
      for (const s of [0n, 1n, -1n, 3n, 1n << 63n, 0xdeadbeefcafef00dn]) t.deepEqual(be.scalarMul(a, s), reference.scalarMul(a, s));
      t.deepEqual(be.xor(a, b), reference.xor(a, b));
      t.deepEqual(be.and(a, b), reference.and(a, b));
      for (const s of [0, 1, 17, 63]) t.deepEqual(be.shrXor(a, s, b), reference.shrXor(a, s, b));
      const [c, d, e] = ['c', 'd', 'e'].map((l) => randomRing(`${l}${len}`, len)) as [BigUint64Array, BigUint64Array, BigUint64Array];
      for (const p0 of [true, false]) t.deepEqual(be.beaverAnd(c, a, b, d, e, p0), reference.beaverAnd(c, a, b, d, e, p0));
      for (const p0 of [true, false]) {
        t.deepEqual(be.beaverMul(c, a, b, d, e, p0), reference.beaverMul(c, a, b, d, e, p0), `beaverMul ${len}`);
        t.deepEqual(be.beaverMul(c, a, a, d, d, p0), reference.beaverMul(c, a, a, d, d, p0), `beaverMul (square) ${len}`);
      }
      for (const s of [0n, 1n, -1n, 1n << 62n, 0xdeadbeefcafef00dn]) t.deepEqual(be.addScalar(a, s), reference.addScalar(a, s));
      for (const bits of [1, 16, 62]) t.deepEqual(be.truncDeal(a, bits), reference.truncDeal(a, bits), `truncDeal ${bits}`);
      const bitsOf = be.and(e, new BigUint64Array(len).fill(1n));
      for (const [bits, p0] of [[1, true], [16, false], [16, true], [62, true]] as const) {
        t.deepEqual(be.truncFinish(c, d, bitsOf, bits, p0), reference.truncFinish(c, d, bitsOf, bits, p0), `truncFinish ${bits}`);
      }
    }
    for (const [r, c] of [[1, 1], [3, 5], [130, 7], [0, 4], [4, 0]] as const) {
      const a = randomRing(`s${r},${c}`, r * c);
      t.deepEqual(be.sumAxis(a, r, c, 0), reference.sumAxis(a, r, c, 0));
      t.deepEqual(be.sumAxis(a, r, c, 1), reference.sumAxis(a, r, c, 1));
    }
  });

  test(`${name}: long elementwise kernels and PRG fills (the native addon's threaded split) equal the reference`, (t) => {
    const be = backend(name);
    // Around crates/napi's PAR_MIN_WORDS (2^16) and PAR_CHUNK (2^15): unsplit, split evenly, split with a short tail.
    for (const len of [(1 << 16) - 1, 1 << 16, (1 << 16) + 1, 3 * (1 << 15) + 5]) {
      const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((l) => randomRing(`long${l}${len}`, len)) as BigUint64Array[];
      const same = (got: BigUint64Array, want: BigUint64Array, what: string): void => {
        // One assertion per array: deepEqual on 2^16 bigints would print an unreadable diff.
        const bad = got.length !== want.length ? 0 : got.findIndex((v, i) => v !== want[i]);
        t.true(got.length === want.length && bad === -1, `${what} at length ${len}: first difference at ${bad}`);
      };
      same(be.add(a!, b!), reference.add(a!, b!), 'add');
      same(be.sub(a!, b!), reference.sub(a!, b!), 'sub');
      same(be.mul(a!, b!), reference.mul(a!, b!), 'mul');
      same(be.xor(a!, b!), reference.xor(a!, b!), 'xor');
      same(be.and(a!, b!), reference.and(a!, b!), 'and');
      same(be.neg(a!), reference.neg(a!), 'neg');
      same(be.scalarMul(a!, -3n), reference.scalarMul(a!, -3n), 'scalarMul');
      same(be.addScalar(a!, 1n << 62n), reference.addScalar(a!, 1n << 62n), 'addScalar');
      same(be.shrXor(a!, 17, b!), reference.shrXor(a!, 17, b!), 'shrXor');
      for (const p0 of [true, false]) {
        same(be.beaverAnd(c!, a!, b!, d!, e!, p0), reference.beaverAnd(c!, a!, b!, d!, e!, p0), `beaverAnd ${p0}`);
        same(be.beaverMul(c!, a!, b!, d!, e!, p0), reference.beaverMul(c!, a!, b!, d!, e!, p0), `beaverMul ${p0}`);
        const msb = be.shrXor(e!, 63, new BigUint64Array(len));
        same(be.truncFinish(c!, d!, msb, 16, p0), reference.truncFinish(c!, d!, msb, 16, p0), `truncFinish ${p0}`);
      }
      const deal = be.truncDeal(a!, 16);
      const want = reference.truncDeal(a!, 16);
      same(deal.tr, want.tr, 'truncDeal tr');
      same(deal.msb, want.msb, 'truncDeal msb');
      const key = new Uint8Array(randomRing(`longkey${len}`, 4).buffer);
      const nonce = new Uint8Array(12).fill(7);
      same(be.prgFill(key, nonce, 3, new BigUint64Array(len)), reference.prgFill(key, nonce, 3, new BigUint64Array(len)), 'prgFill');
      for (const bits of [1, 22, 39, 64]) {
        const planes = be.toBitPlanes(a!, bits);
        same(planes, reference.toBitPlanes(a!, bits), `toBitPlanes ${bits}`);
        same(be.fromBitPlanes(planes, bits, len), reference.fromBitPlanes(planes, bits, len), `fromBitPlanes ${bits}`);
      }
      const cs = be.cosSinTurns(a!, 16);
      const csWant = reference.cosSinTurns(a!, 16);
      same(cs.cos, csWant.cos, 'cos');
      same(cs.sin, csWant.sin, 'sin');
    }
    const e = t.throws(() => be.prgFill(new Uint8Array(32), new Uint8Array(12), 2 ** 32 - 100, new BigUint64Array(1 << 17)));
    t.is((e as SecpError).code, 'ERR_INVALID_ARGUMENT', 'an exhausted stream is reported for a long fill too');
    const m = t.throws(() => be.beaverMul(...[1, 1, 1, 1].map(() => new BigUint64Array(1 << 17)) as [BigUint64Array, BigUint64Array, BigUint64Array, BigUint64Array],
      new BigUint64Array((1 << 17) - 1), true));
    t.is((m as SecpError).code, 'ERR_SHAPE_MISMATCH', 'uneven long inputs are reported, not split');
  });

  test(`${name}: every kernel writes every element of its output (the native wrapper does not zero fresh outputs)`, (t) => {
    const be = backend(name);
    // Lengths below and above the addon's threaded split (2^16), neither a multiple of 64.
    for (const n of [77, 2 ** 16 + 5]) {
      const a = randomRing(`wa${n}`, n);
      const b = randomRing(`wb${n}`, n);
      const c = randomRing(`wc${n}`, n);
      const d = randomRing(`wd${n}`, n);
      const e = randomRing(`we${n}`, n);
      const f = new Float64Array(n).map((_, i) => (i % 1000) / 37 - 13);
      const dirty = (len: number) => randomRing(`dirty${len}`, len);
      const planes = reference.toBitPlanes(a, 22);
      const cases: Array<[string, (out?: BigUint64Array) => BigUint64Array, number]> = [
        ['add', (o) => be.add(a, b, o), n],
        ['sub', (o) => be.sub(a, b, o), n],
        ['mul', (o) => be.mul(a, b, o), n],
        ['neg', (o) => be.neg(a, o), n],
        ['xor', (o) => be.xor(a, b, o), n],
        ['and', (o) => be.and(a, b, o), n],
        ['shrXor', (o) => be.shrXor(a, 13, b, o), n],
        ['toBitPlanes', (o) => be.toBitPlanes(a, 22, o), planes.length],
        ['fromBitPlanes', (o) => be.fromBitPlanes(planes, 22, n, o), n],
        ['beaverAnd', (o) => be.beaverAnd(a, b, c, d, e, true, o), n],
        ['beaverMul', (o) => be.beaverMul(a, b, c, d, e, true, o), n],
        ['addScalar', (o) => be.addScalar(a, 0xdeadbeefn, o), n],
        ['scalarMul', (o) => be.scalarMul(a, 0xdeadbeefn, o), n],
        ['encode', (o) => be.encode(f, 16, o), n],
        ['truncFinish', (o) => be.truncFinish(a, b, reference.and(c, new BigUint64Array(n).fill(1n)), 16, true, o), n],
        ['matmul', (o) => be.matmul(a.subarray(0, 7 * 11), b.subarray(0, 11 * 7), 7, 11, 7, o), 49],
      ];
      for (const [op, run, len] of cases) {
        const want = run();
        const out = dirty(len);
        run(out);
        t.deepEqual(out, want, `${op}, n = ${n}`);
      }
    }
  });

  test(`${name}: cosSinSeries equals the reference and the composition it replaces, on the threaded path too`, (t) => {
    const be = backend(name);
    for (const [n, terms] of [[1, 1], [77, 5], [2 ** 16 + 5, 5], [3 * 2 ** 15 + 7, 2]] as const) {
      const d = randomRing(`sd${n}`, n);
      const acc = randomRing(`sa${n}`, n);
      const coef = randomRing(`sc${n}`, 2 * terms * n);
      let want = acc;
      for (let j = 1; j <= terms; j++) {
        const cs = be.cosSinTurns(be.scalarMul(d, BigInt(j)), 16);
        want = be.add(want, be.add(be.mul(cs.cos, coef.subarray((2 * j - 2) * n, (2 * j - 1) * n)), be.mul(cs.sin, coef.subarray((2 * j - 1) * n, 2 * j * n))));
      }
      const got = be.cosSinSeries(d, coef, terms, 16, acc);
      t.deepEqual(got, want, `composition, n = ${n}`);
      if (n < 1000) t.deepEqual(got, reference.cosSinSeries(d, coef, terms, 16, acc), `reference, n = ${n}`);
    }
    const d = randomRing('sd-err', 10);
    for (const b of [be, reference]) {
      t.throws(() => b.cosSinSeries(d, new BigUint64Array(19), 1, 16, d), { code: 'ERR_INVALID_ARGUMENT', message: /2·1·10 = 20/ });
      t.throws(() => b.cosSinSeries(d, new BigUint64Array(0), 0, 16, d), { code: 'ERR_INVALID_ARGUMENT', message: /terms must be in 1\.\.=64/ });
      t.throws(() => b.cosSinSeries(d, new BigUint64Array(20), 1, 16, d.subarray(1)), { code: 'ERR_SHAPE_MISMATCH' });
      t.throws(() => b.cosSinSeries(d, new BigUint64Array(20), 1, 99, d), { code: 'ERR_INVALID_ARGUMENT' });
    }
  });

  test(`${name}: cosSinTerms equals the reference and the passes it replaces, split by term too`, (t) => {
    const be = backend(name);
    const coefs = BigUint64Array.from([1234567890n, BigInt.asUintN(64, -987654321n), 3n, 2n ** 31n - 1n, 7n]);
    for (const n of [1, 77, 2 ** 14 + 3]) {
      const tv = randomRing(`tt${n}`, n);
      const got = be.cosSinTerms(tv, coefs, 30, 45);
      // The dealer's former passes: scalarMul by the coefficient, + 2^63 + 2^44, a logical shift, − 2^18.
      const want: BigUint64Array[] = [];
      for (let j = 1; j <= coefs.length; j++) {
        const cs = be.cosSinTurns(be.scalarMul(tv, BigInt(j)), 30);
        for (const v of [cs.cos, cs.sin]) {
          const prod = be.addScalar(be.scalarMul(v, coefs[j - 1]!), (1n << 63n) + (1n << 44n));
          want.push(be.addScalar(be.shrXor(prod, 45, new BigUint64Array(n)), BigInt.asUintN(64, -(1n << 18n))));
        }
      }
      t.deepEqual(got, concatWords(want), `passes, n = ${n}`);
      if (n < 100) t.deepEqual(got, reference.cosSinTerms(tv, coefs, 30, 45), `reference, n = ${n}`);
    }
    for (const b of [be, reference]) {
      t.throws(() => b.cosSinTerms(new BigUint64Array(3), new BigUint64Array(0), 30, 45), { code: 'ERR_INVALID_ARGUMENT', message: /terms must be in 1\.\.=64/ });
      t.throws(() => b.cosSinTerms(new BigUint64Array(3), coefs, 30, 0), { code: 'ERR_INVALID_ARGUMENT', message: /shift must be in 1\.\.=62/ });
    }
  });

  test(`${name}: bit planes equal the reference and round-trip, padding included`, (t) => {
    const be = backend(name);
    for (const len of [0, 1, 2, 63, 64, 65, 1000, 4097]) {
      const x = randomRing(`bp${len}`, len);
      for (const bits of [1, 2, 7, 31, 32, 33, 63, 64]) {
        const planes = be.toBitPlanes(x, bits);
        t.deepEqual(planes, reference.toBitPlanes(x, bits), `toBitPlanes ${len} × ${bits}`);
        const low = bits === 64 ? (1n << 64n) - 1n : (1n << BigInt(bits)) - 1n;
        t.deepEqual(be.fromBitPlanes(planes, bits, len), x.map((v) => v & low), `round trip ${len} × ${bits}`);
        const noisy = randomRing(`bpn${len},${bits}`, planes.length); // padding bits of the input are ignored
        t.deepEqual(be.fromBitPlanes(noisy, bits, len), reference.fromBitPlanes(noisy, bits, len), `fromBitPlanes ${len} × ${bits}`);
      }
    }
    const out = new BigUint64Array(2).fill(9n);
    t.is(be.toBitPlanes(BigUint64Array.of(1n, 2n, 3n), 2, out), out, 'writes into the given out');
    t.deepEqual(out, BigUint64Array.of(5n, 6n));
  });

  test(`${name}: encode/decode equal the reference, including rounding ties and range edges`, (t) => {
    const be = backend(name);
    const edge = [0, -0, 0.5, -0.5, 1.5 / 65536, -1.5 / 65536, 2.5 / 65536, -2.5 / 65536, 2 ** 47 - 2 ** -6, -(2 ** 47), 1e-30, -1e-30, Number.MIN_VALUE];
    for (const f of [0, 1, 16, 24, 40, 62]) {
      const xs = Float64Array.from([...randomReals(`enc${f}`, 2000, 2 ** Math.min(20, 62 - f)), ...edge.filter((v) => Math.abs(v) < 2 ** (63 - f))]);
      const e = be.encode(xs, f);
      t.deepEqual(e, reference.encode(xs, f), `encode f=${f}`);
      t.deepEqual(be.decode(e, f), reference.decode(e, f), `decode f=${f}`);
      const raw = randomRing(`dec${f}`, 500);
      t.deepEqual(be.decode(raw, f), reference.decode(raw, f), `decode raw f=${f}`);
    }
    const d = be.decode(be.encode(Float64Array.of(1.25, -3.5), 16), 16);
    t.deepEqual([...d], [1.25, -3.5]);
  });

  test(`${name}: PRG is ChaCha12 (RFC 8439 layout) and matches the reference stream`, (t) => {
    const be = backend(name);
    // ChaCha12 of the all-zero key and nonce, blocks 0 and 1 (crates/kernels/src/prg.rs: where they come from).
    const zero = be.prgFill(new Uint8Array(32), new Uint8Array(12), 0, new BigUint64Array(16));
    t.is(Buffer.from(zero.buffer).toString('hex'), '9bf49a6a0755f953811fce125f2683d50429c3bb49e074147e0089a52eae155f'
      + '0564f879d27ae3c02ce82834acfa8c793a629f2ca0de6919610be82f411326be'
      + '0bd58841203e74fe86fc71338ce0173dc628ebb719bdcbcc151585214cc089b4'
      + '42258dcda14cf111c602b8971b8cc843e91e46ca905151c02744a6b017e69316');
    // RFC 8439 §2.3.2's key, nonce and counter at 12 rounds (the same Python implementation).
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const nonce = Uint8Array.from([0, 0, 0, 9, 0, 0, 0, 0x4a, 0, 0, 0, 0]);
    const out = be.prgFill(key, nonce, 1, new BigUint64Array(8));
    t.is(Buffer.from(out.buffer, out.byteOffset, 64).toString('hex'), '7f8b136677c73799e3e7777d16e6d8ccc787ce39694990c628e087029ce9190b'
      + 'da4be31ac3fe2102a9ad737cf82fa3b06e68b63371c65c827299040ade1ba8a0');
    for (const len of [1, 7, 8, 9, 1023]) {
      const k2 = randomRing(`key${len}`, 4);
      const kb = new Uint8Array(k2.buffer);
      t.deepEqual(be.prgFill(kb, nonce, 5, new BigUint64Array(len)), reference.prgFill(kb, nonce, 5, new BigUint64Array(len)));
    }
  });

  test(`${name}: cos/sin in turns and angle scaling are bit-identical to the reference`, (t) => {
    const be = backend(name);
    const specials = [0n, 1n, (1n << 61n) - 1n, 1n << 61n, 1n << 62n, 3n << 62n, 1n << 63n, (1n << 64n) - 1n, 7n << 61n];
    const angles = BigUint64Array.from([...randomRing('angles', 5000), ...specials]);
    for (const f of [16, 30, 62]) {
      const got = be.cosSinTurns(angles, f);
      const want = reference.cosSinTurns(angles, f);
      t.deepEqual(got.cos, want.cos);
      t.deepEqual(got.sin, want.sin);
    }
    const c = reference.decode(be.cosSinTurns(angles, 40).cos, 40);
    for (let i = 0; i < angles.length; i++) {
      const theta = (Number(angles[i]!) / 2 ** 64) * 2 * Math.PI;
      if (Math.abs(c[i]! - Math.cos(theta)) > 2 ** -39) t.fail(`cos error at ${angles[i]}`);
    }
    const w = randomReals('w', 3000, 50);
    t.deepEqual(be.angleScale(w, 16), reference.angleScale(w, 16));
  });

  test(`${name}: bad input gives typed errors naming the problem, and the process lives on`, (t) => {
    const be = backend(name);
    const u = (n: number): BigUint64Array => new BigUint64Array(n);
    const code = (f: () => unknown, c: string, msg: RegExp): void => {
      const e = t.throws(f);
      t.true(e instanceof SecpError, `${c}: is a SecpError`);
      t.is((e as SecpError).code, c);
      t.regex(e!.message, msg);
    };
    code(() => be.matmul(u(6), u(6), 2, 3, 3), 'ERR_BUFFER_LENGTH', /b has 6 elements/);
    code(() => be.matmul(u(5), u(6), 2, 3, 2), 'ERR_BUFFER_LENGTH', /a has 5 elements/);
    code(() => be.matmul(u(6), u(6), 2, 3, 2, u(5)), 'ERR_BUFFER_LENGTH', /out/);
    code(() => be.matmulBT(u(6), u(5), 2, 3, 2), 'ERR_BUFFER_LENGTH', /transposed/);
    code(() => be.add(u(3), u(4)), 'ERR_SHAPE_MISMATCH', /3 elements vs 4/);
    code(() => be.shrXor(u(3), 64, u(3)), 'ERR_INVALID_ARGUMENT', /shift/);
    code(() => be.truncFinish(u(3), u(3), u(3), 63, true), 'ERR_INVALID_ARGUMENT', /bits/);
    code(() => be.beaverAnd(u(3), u(3), u(2), u(3), u(3), true), 'ERR_SHAPE_MISMATCH', /elements/);
    code(() => be.beaverMul(u(3), u(3), u(3), u(2), u(3), false), 'ERR_SHAPE_MISMATCH', /elements/);
    code(() => be.addScalar(u(3), 1n, u(2)), 'ERR_SHAPE_MISMATCH', /elements/);
    code(() => be.truncDeal(u(3), 0), 'ERR_INVALID_ARGUMENT', /bits/);
    code(() => be.truncDeal(u(3), 63), 'ERR_INVALID_ARGUMENT', /bits/);
    code(() => be.toBitPlanes(u(3), 0), 'ERR_INVALID_ARGUMENT', /bit planes/);
    code(() => be.toBitPlanes(u(3), 65), 'ERR_INVALID_ARGUMENT', /bit planes/);
    code(() => be.toBitPlanes(u(65), 2, u(3)), 'ERR_BUFFER_LENGTH', /out/);
    code(() => be.fromBitPlanes(u(3), 2, 65), 'ERR_BUFFER_LENGTH', /planes/);
    code(() => be.fromBitPlanes(u(2), 2, 3, u(4)), 'ERR_SHAPE_MISMATCH', /4 elements vs 3/);
    code(() => be.sumAxis(u(6), 2, 3, 2 as 0), 'ERR_INVALID_ARGUMENT', /axis/);
    code(() => be.encode(Float64Array.of(1, NaN), 16), 'ERR_NON_FINITE', /index 1/);
    code(() => be.encode(Float64Array.of(Infinity), 16), 'ERR_NON_FINITE', /non-finite/);
    code(() => be.encode(Float64Array.of(0, 0, 2 ** 47), 16), 'ERR_FIXED_OVERFLOW', /index 2/);
    code(() => be.encode(Float64Array.of(1), 63), 'ERR_INVALID_ARGUMENT', /frac_bits/);
    code(() => be.prgFill(new Uint8Array(31), new Uint8Array(12), 0, u(8)), 'ERR_INVALID_ARGUMENT', /key/);
    code(() => be.prgFill(new Uint8Array(32), new Uint8Array(12), 2 ** 32 - 1, u(9)), 'ERR_INVALID_ARGUMENT', /exhausted/);
    code(() => be.angleScale(Float64Array.of(1e9), 16), 'ERR_INVALID_ARGUMENT', /too large/);
    code(() => be.matmul(u(1), u(1), -1, 1, 1), 'ERR_INVALID_ARGUMENT', /non-negative/);
    t.deepEqual(be.add(BigUint64Array.of(1n), BigUint64Array.of(2n)), BigUint64Array.of(3n), 'still works after errors');
  });
}

test('the reference backend gives the same typed errors (it is the oracle)', (t) => {
  const e = t.throws(() => reference.encode(Float64Array.of(0, 2 ** 47), 16));
  t.is((e as SecpError).code, 'ERR_FIXED_OVERFLOW');
  t.deepEqual(reference.matmul(BigUint64Array.of(2n, 3n), BigUint64Array.of(5n, (1n << 64n) - 1n), 1, 2, 1), BigUint64Array.of(7n));
  // Plane j holds bit j of every element, element e at bit e: [1, 2, 3] → planes 0b101, 0b110.
  t.deepEqual(reference.toBitPlanes(BigUint64Array.of(1n, 2n, 3n), 2), BigUint64Array.of(5n, 6n));
  t.deepEqual(reference.fromBitPlanes(BigUint64Array.of(5n, 6n), 2, 3), BigUint64Array.of(1n, 2n, 3n));
});

/** Float64 x, float32 W and b of awkward values: mixed signs and magnitudes, so that rounding order shows. */
function linearInputs(label: string, rows: number, inDim: number, outDim: number) {
  const x = randomReals(`lx${label}`, rows * inDim, 1e3);
  for (let i = 0; i < x.length; i += 7) x[i] = x[i]! * 1e-9; // tiny terms next to large ones
  const w = Float32Array.from(randomReals(`lw${label}`, outDim * inDim, 3));
  const b = Float32Array.from(randomReals(`lb${label}`, outDim, 10));
  return { x, w, b };
}


const sameFloats = (a: Float64Array, b: Float64Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

// Around the kernel's 8-column panels and 4-row tiles, and (last two) above crates/napi's threaded-split size.
const linearShapes: Array<[number, number, number]> = [
  [1, 1, 1], [1, 9, 7], [3, 5, 8], [4, 8, 9], [5, 17, 15], [7, 1, 16], [9, 33, 17], [0, 4, 3], [3, 0, 2], [2, 5, 0],
  [37, 300, 67], [64, 384, 96],
];

test('linearF64: the JS reference equals the naive in-order loop bit for bit', (t) => {
  for (const [rows, inDim, outDim] of linearShapes) {
    const { x, w, b } = linearInputs(`${rows},${inDim},${outDim}`, rows, inDim, outDim);
    t.true(sameFloats(reference.linearF64(x, w, b, rows, inDim), naiveLinear(x, rows, inDim, w, b)), `${rows}x${inDim}x${outDim}`);
  }
});

for (const name of compiledBackends) {
  test(`${name}: linearF64 equals the JS reference bit for bit on awkward shapes`, (t) => {
    const be = backend(name);
    for (const [rows, inDim, outDim] of linearShapes) {
      const { x, w, b } = linearInputs(`${rows},${inDim},${outDim}`, rows, inDim, outDim);
      const want = reference.linearF64(x, w, b, rows, inDim);
      t.true(sameFloats(be.linearF64(x, w, b, rows, inDim), want), `${rows}x${inDim}x${outDim}`);
      const out = new Float64Array(rows * outDim).fill(Number.NaN);
      t.is(be.linearF64(x, w, b, rows, inDim, out), out, 'writes into the given out');
      t.true(sameFloats(out, want));
    }
    // Not merely close: a summation order other than the loop's (here: reversed) changes some bits.
    const { x, w, b } = linearInputs('order', 4, 300, 8);
    const reversed = new Float64Array(4 * 8);
    for (let r = 0; r < 4; r++) {
      for (let o = 0; o < 8; o++) {
        let s = 0;
        for (let i = 299; i >= 0; i--) s += x[r * 300 + i]! * w[o * 300 + i]!;
        reversed[r * 8 + o] = s + b[o]!;
      }
    }
    t.false(sameFloats(be.linearF64(x, w, b, 4, 300), reversed), 'the test inputs tell summation orders apart');
  });

  test(`${name}: linearF64 reports bad lengths as the reference does`, (t) => {
    const be = backend(name);
    const x = new Float64Array(6);
    const w = new Float32Array(6);
    const b = new Float32Array(2);
    for (const [args, what] of [
      [[new Float64Array(5), w, b, 2, 3], 'x'],
      [[x, new Float32Array(5), b, 2, 3], 'weight'],
      [[x, w, b, 2, 3, new Float64Array(3)], 'out'],
    ] as const) {
      const call = (k: typeof be) => () => k.linearF64(...(args as unknown as Parameters<typeof be.linearF64>));
      const got = t.throws(call(be)) as SecpError;
      const want = t.throws(call(reference)) as SecpError;
      t.is(got.code, 'ERR_BUFFER_LENGTH', what);
      t.is(got.message, want.message, what);
    }
  });
}
