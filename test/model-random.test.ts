import test from 'ava';
import { SecpError } from '../bindings/errors.js';
import { Rng } from '../ts/model/random.js';

const M = (1n << 64n) - 1n;
const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (64n - k))) & M;

/** Straightforward BigInt xoshiro256** from the reference C code. */
function* xoshiroRef(s: bigint[]): Generator<bigint> {
  for (;;) {
    const out = (rotl((s[1]! * 5n) & M, 7n) * 9n) & M;
    const t = (s[1]! << 17n) & M;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 45n);
    yield out;
  }
}

function splitmixRef(seed: bigint, count: number): bigint[] {
  const out: bigint[] = [];
  let x = seed;
  for (let i = 0; i < count; i++) {
    x = (x + 0x9e3779b97f4a7c15n) & M;
    let z = x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
    out.push(z ^ (z >> 31n));
  }
  return out;
}

const take = (g: Generator<bigint>, n: number) => Array.from({ length: n }, () => g.next().value as bigint);

test('the BigInt references match published vectors', (t) => {
  // xoshiro256** from state {1, 2, 3, 4} (reference C code / rand_xoshiro test vector).
  t.deepEqual(take(xoshiroRef([1n, 2n, 3n, 4n]), 4), [11520n, 0n, 1509978240n, 1215971899390074240n]);
  // SplitMix64 from seed 0.
  t.deepEqual(splitmixRef(0n, 2), [0xe220a8397b1dcdafn, 0x6e789e6aa1b965f4n]);
});

test('Rng(seed) is xoshiro256** seeded with SplitMix64(seed)', (t) => {
  for (const seed of [0n, 1n, 0xdeadbeefn, M]) {
    const ref = take(xoshiroRef(splitmixRef(seed, 4)), 200);
    const rng = new Rng(seed);
    t.deepEqual(Array.from({ length: 200 }, () => rng.nextU64()), ref);
  }
  const a = new Rng(42);
  const b = new Rng(42n);
  t.is(a.nextU64(), b.nextU64());
  t.is(new Rng(-1).nextU64(), new Rng(M).nextU64());
});

test('streams are deterministic and distinct', (t) => {
  const draw = (...args: [number, ...number[]]) => {
    const r = new Rng(...args);
    return Array.from({ length: 8 }, () => r.nextFloat());
  };
  t.deepEqual(draw(7, 1, 2), draw(7, 1, 2));
  t.notDeepEqual(draw(7, 1, 2), draw(7, 2, 1));
  t.notDeepEqual(draw(7, 1), draw(7, 1, 0));
  t.notDeepEqual(draw(7), draw(8));
});

test('nextFloat is in [0, 1) and normals have mean 0, variance 1', (t) => {
  const r = new Rng(3);
  const n = 200_000;
  let sum = 0;
  let sq = 0;
  let lo = 1;
  let hi = 0;
  for (let i = 0; i < n; i++) {
    const u = r.nextFloat();
    lo = Math.min(lo, u);
    hi = Math.max(hi, u);
    const z = r.normal();
    sum += z;
    sq += z * z;
  }
  t.true(lo >= 0 && hi < 1);
  t.true(Math.abs(sum / n) < 0.01);
  t.true(Math.abs(sq / n - 1) < 0.01);
  const x = new Float64Array(4);
  new Rng(3).fillNormal(x, 2, 10);
  t.true(x.every((v) => Number.isFinite(v) && v !== 10));
});

test('bad seeds are ERR_INVALID_ARGUMENT', (t) => {
  t.throws(() => new Rng(1.5), { instanceOf: SecpError, code: 'ERR_INVALID_ARGUMENT', message: /seed/ });
  t.throws(() => new Rng(1, Number.NaN), { instanceOf: SecpError, code: 'ERR_INVALID_ARGUMENT', message: /stream\[0\]/ });
});
