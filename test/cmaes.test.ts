import test from 'ava';

import { SecpError } from '../bindings/errors.js';
import { BoxTransform, CMAES, defaultPopsize, type CMAESOptions } from '../ts/tuning/cmaes.js';
import { RNG_ALGORITHM, Xoshiro128ss, splitmix64 } from '../ts/tuning/rng.js';

type Fn = (x: Float64Array) => number;

const sphere: Fn = (x) => {
  let s = 0;
  for (const v of x) s += v * v;
  return s;
};

/** Ellipsoid with condition number 1e6: sum 10^(6 (i-1)/(n-1)) x_i^2. */
const ellipsoid: Fn = (x) => {
  const n = x.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += 10 ** ((6 * i) / (n - 1)) * x[i]! * x[i]!;
  return s;
};

const rosenbrock: Fn = (x) => {
  let s = 0;
  for (let i = 0; i < x.length - 1; i++) s += 100 * (x[i]! * x[i]! - x[i + 1]!) ** 2 + (x[i]! - 1) ** 2;
  return s;
};

function run(es: CMAES, f: Fn): void {
  while (es.stop().length === 0) {
    const xs = es.ask();
    es.tell(xs, xs.map(f));
  }
}

function generations(es: CMAES, f: Fn, count: number): void {
  for (let g = 0; g < count; g++) {
    const xs = es.ask();
    es.tell(xs, xs.map(f));
  }
}

const TARGET = 1e-8;
/** How far above the literature number a run may go before the test fails. */
const BUDGET_FACTOR = 1.5;

/**
 * Reference evaluation counts to reach f < 1e-8..1e-10 with default (mu_w, lambda)-CMA-ES from x0 = 1
 * (sphere, ellipsoid) or x0 = 0 (Rosenbrock). n = 10 values: Hansen & Ostermeier 2001 (Evol. Comput.
 * 9(2)), Hansen 2016 tutorial and the BBOB CMA-ES data, as quoted in the task brief (sphere
 * ~1,500-2,000, ellipsoid ~6,000, Rosenbrock ~6,000-10,000; the low end is used so the test is tight).
 * Larger n: extrapolated with the scaling those papers report (sphere ~ linear in n; ellipsoid and
 * Rosenbrock, which need C learned, ~ n^2 at most), i.e. estimates, not table entries.
 */
const CASES: Array<{ name: string; f: Fn; n: number; x0: number; sigma0: number; seed: number; reference: number }> = [
  { name: 'sphere', f: sphere, n: 10, x0: 1, sigma0: 1, seed: 1, reference: 1_500 },
  { name: 'sphere', f: sphere, n: 30, x0: 1, sigma0: 1, seed: 1, reference: 4_500 },
  { name: 'sphere', f: sphere, n: 100, x0: 1, sigma0: 1, seed: 1, reference: 15_000 },
  { name: 'ellipsoid', f: ellipsoid, n: 10, x0: 1, sigma0: 1, seed: 1, reference: 6_000 },
  { name: 'ellipsoid', f: ellipsoid, n: 30, x0: 1, sigma0: 1, seed: 1, reference: 54_000 },
  // About 1 run in 10 of plain CMA-ES ends in Rosenbrock's local minimum near x_1 = -1 (seed 6 does in
  // 10-D, seed 4 in 30-D); the seeds here are fixed and runs are deterministic.
  { name: 'rosenbrock', f: rosenbrock, n: 10, x0: 0, sigma0: 0.5, seed: 1, reference: 6_000 },
  { name: 'rosenbrock', f: rosenbrock, n: 30, x0: 0, sigma0: 0.5, seed: 1, reference: 54_000 },
];

for (const c of CASES) {
  test(`${c.name} ${c.n}-D reaches f < ${TARGET} within ${BUDGET_FACTOR}x ${c.reference} evaluations`, (t) => {
    const budget = Math.floor(BUDGET_FACTOR * c.reference);
    const es = new CMAES({
      x0: new Array<number>(c.n).fill(c.x0),
      sigma0: c.sigma0,
      seed: c.seed,
      ftarget: TARGET,
      maxFevals: budget,
    });
    run(es, c.f);
    t.log(`${c.name} n=${c.n}: ${es.fevals} evaluations (reference ${c.reference}), f = ${es.best!.f.toExponential(2)}`);
    t.deepEqual(es.stop(), ['ftarget']);
    t.true(es.best!.f < TARGET);
    t.true(es.fevals <= budget);
  });
}

test('regression guard: mean evaluations on the 10-D ellipsoid over seeds 1-5 stay within 10% of this implementation', (t) => {
  // Not a literature bound: 5,650 is the mean this implementation measured when written (seed-to-seed
  // spread ~3%). It catches weakened covariance learning that the 1.5x literature bound lets through
  // (e.g. cmu scaled by 0.3 measured ~7,000; no rank-mu update ~7,400).
  const BASELINE = 5_650;
  let total = 0;
  for (let seed = 1; seed <= 5; seed++) {
    const es = new CMAES({ x0: new Array<number>(10).fill(1), sigma0: 1, seed, ftarget: TARGET, maxFevals: 20_000 });
    run(es, ellipsoid);
    t.deepEqual(es.stop(), ['ftarget']);
    total += es.fevals;
  }
  t.log(`mean ${total / 5} evaluations (baseline ${BASELINE})`);
  t.true(total / 5 <= 1.1 * BASELINE);
});

test('defaultPopsize is 4 + floor(3 ln n)', (t) => {
  t.is(defaultPopsize(1), 4);
  t.is(defaultPopsize(10), 10);
  t.is(defaultPopsize(500), 22);
  t.is(new CMAES({ x0: new Array<number>(30).fill(0), sigma0: 1, seed: 0 }).popsize, 14);
  t.throws(() => defaultPopsize(0), { instanceOf: SecpError, message: /dimension/ });
});

test('splitmix64 matches the published reference outputs for seed 1234567', (t) => {
  // Vigna's splitmix64.c; the same five values are the Rosetta Code "Splitmix64" task's test vector.
  const g = splitmix64(1234567n);
  const out = Array.from({ length: 5 }, () => g.next().value);
  t.deepEqual(out, [
    6457827717110365317n,
    3203168211198807973n,
    9817491932198370423n,
    4593380528125082431n,
    16408922859458223821n,
  ]);
});

test('xoshiro128** matches the reference C implementation', (t) => {
  // From Vigna's xoshiro128starstar.c with s = {1, 2, 3, 4} (also rand_xoshiro's test vector).
  const r = Xoshiro128ss.fromState({ algorithm: RNG_ALGORITHM, s: [1, 2, 3, 4], spareGaussian: null });
  t.deepEqual(
    Array.from({ length: 8 }, () => r.nextU32()),
    [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849],
  );
  // Seed 42 through splitmix64 (low word first), checked against the same C code.
  const s = new Xoshiro128ss(42);
  t.deepEqual(
    Array.from({ length: 8 }, () => s.nextU32()),
    [1776835114, 4165204688, 17111135, 2317295270, 2792088233, 2554630222, 2940343271, 2244566231],
  );
});

test('Gaussian sampler has mean 0 and variance 1, and its state (with a cached deviate) round-trips', (t) => {
  const r = new Xoshiro128ss(7n);
  const N = 200_000;
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < N; i++) {
    const z = r.nextGaussian();
    sum += z;
    sumSq += z * z;
  }
  t.true(Math.abs(sum / N) < 0.01);
  t.true(Math.abs(sumSq / N - 1) < 0.01);
  r.nextGaussian(); // leaves the second deviate of a pair cached
  const saved = JSON.parse(JSON.stringify(r.state())) as unknown;
  const copy = Xoshiro128ss.fromState(saved);
  for (let i = 0; i < 5; i++) t.is(copy.nextGaussian(), r.nextGaussian());
  t.throws(() => Xoshiro128ss.fromState({ algorithm: RNG_ALGORITHM, s: [0, 0, 0, 0], spareGaussian: null }), {
    instanceOf: SecpError,
  });
});

test('a fixed seed gives an identical trajectory; another seed does not', (t) => {
  const opts = (seed: number | bigint): CMAESOptions => ({ x0: new Array<number>(8).fill(0), sigma0: 0.5, seed });
  const a = new CMAES(opts(123));
  const b = new CMAES(opts(123n));
  const c = new CMAES(opts(124));
  generations(a, rosenbrock, 40);
  generations(b, rosenbrock, 40);
  generations(c, rosenbrock, 40);
  t.is(JSON.stringify(a.state().mean), JSON.stringify(b.state().mean));
  t.deepEqual(a.state().rng, b.state().rng);
  t.is(a.best!.f, b.best!.f);
  t.not(a.best!.f, c.best!.f);
});

test('state() -> JSON -> fromState() resumes bit-identically (lazy eigendecomposition, bounds, pending ask)', (t) => {
  // n = 100: the eigendecomposition is postponed every other generation, so the checkpoint falls
  // between decompositions and the stale B, D must be restored rather than recomputed.
  const n = 100;
  const opts: CMAESOptions = { x0: new Array<number>(n).fill(0.5), sigma0: 0.3, seed: 99, bounds: [-1, 1] };
  const shifted: Fn = (x) => ellipsoid(x.map((v) => v - 0.9));
  const total = 25;
  const CHECKPOINT = 13;

  const straight = new CMAES(opts);
  generations(straight, shifted, total);

  const first = new CMAES(opts);
  let snapshot = '';
  for (let g = 0; g < total; g++) {
    if (g === CHECKPOINT) t.not(first.state().eigenFevals, first.state().localFevals, 'checkpoint between decompositions');
    const xs = first.ask();
    if (g === CHECKPOINT) snapshot = JSON.stringify(first.state()); // taken with a population outstanding
    first.tell(xs, xs.map(shifted));
  }
  const resumed = CMAES.fromState(JSON.parse(snapshot));
  const xs = resumed.ask(); // returns the outstanding population, not a new one
  resumed.tell(xs, xs.map(shifted));
  generations(resumed, shifted, total - CHECKPOINT - 1);

  t.is(JSON.stringify(resumed.state()), JSON.stringify(straight.state()));
  t.is(JSON.stringify(first.state()), JSON.stringify(straight.state()));
  t.is(resumed.fevals, straight.fevals);
  t.deepEqual(resumed.best, straight.best);
});

test('bad options are rejected with messages naming the option and its range', (t) => {
  const base: CMAESOptions = { x0: [0, 0], sigma0: 1, seed: 1 };
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ x0: [] }, /x0 must be a non-empty array/],
    [{ x0: [0, NaN] }, /x0\[1\] must be a finite number/],
    [{ sigma0: 0 }, /sigma0 must be a finite number > 0/],
    [{ sigma0: Infinity }, /sigma0 must be a finite number > 0/],
    [{ seed: -1 }, /seed must be a non-negative safe integer/],
    [{ seed: 1.5 }, /seed must be a non-negative safe integer/],
    [{ seed: 1n << 64n }, /seed must be a bigint in \[0, 2\^64\)/],
    [{ popsize: 1 }, /popsize must be an integer >= 2/],
    [{ bounds: [5, -5] }, /bounds must be \[lower, upper\] with finite lower < upper/],
    [{ bounds: [-1, 1], x0: [0, 2] }, /x0\[1\] = 2 must lie within bounds \[-1, 1\]/],
    [{ maxFevals: 0 }, /maxFevals must be an integer >= 1 or Infinity/],
    [{ maxGenerations: 2.5 }, /maxGenerations must be an integer >= 1 or Infinity/],
    [{ ftarget: NaN }, /ftarget must be a finite number or -Infinity/],
    [{ tolFun: -1 }, /tolFun must be a finite number >= 0/],
    [{ tolX: NaN }, /tolX must be a finite number >= 0/],
    [{ restarts: -1 }, /restarts must be an integer >= 0/],
    [{ incPopsize: 1 }, /incPopsize must be a finite number > 1/],
    [{ tolfun: 1e-9 }, /unknown CMAES option 'tolfun'/],
  ];
  for (const [patch, message] of cases) {
    const err = t.throws(() => new CMAES({ ...base, ...patch } as CMAESOptions), { instanceOf: SecpError, message });
    t.is((err as SecpError).code, 'ERR_INVALID_ARGUMENT');
  }
});

test('tell() accepts only the population of the last ask(), unchanged and in order', (t) => {
  const es = new CMAES({ x0: [0, 0, 0], sigma0: 1, seed: 5 });
  const code = { instanceOf: SecpError, code: 'ERR_INVALID_ARGUMENT' } as const;
  t.throws(() => es.tell([], []), { ...code, message: /without a pending population/ });
  const xs = es.ask();
  const fs = xs.map(sphere);
  t.throws(() => es.tell(xs.slice(1), fs.slice(1)), { ...code, message: /must hold the 7 solutions/ });
  t.throws(() => es.tell(xs, fs.slice(1)), { ...code, message: /fitnesses must hold 7 numbers/ });
  t.throws(() => es.tell([xs[0]!.subarray(1), ...xs.slice(1)], fs), { ...code, message: /xs\[0\] must have dimension 3/ });
  const tampered = xs.map((x) => Float64Array.from(x));
  tampered[2]![1]! += 1e-12;
  t.throws(() => es.tell(tampered, fs), { ...code, message: /xs\[2\] differs/ });
  t.throws(() => es.tell([xs[1]!, xs[0]!, ...xs.slice(2)], fs), { ...code, message: /xs\[0\] differs/ });
  t.deepEqual(es.ask(), xs, 'ask() before tell() returns the same population');
  es.tell(
    xs.map((x) => Array.from(x)),
    fs,
  );
  t.is(es.generation, 1);
  t.is(es.fevals, 7);
});

test('non-finite fitness throws ERR_CMAES_NUMERICAL and leaves the state untouched', (t) => {
  const es = new CMAES({ x0: [1, 1, 1, 1], sigma0: 0.5, seed: 3 });
  generations(es, sphere, 3);
  const before = JSON.stringify(es.state());
  const xs = es.ask();
  for (const bad of [NaN, Infinity, -Infinity]) {
    const fs = xs.map(sphere);
    fs[4] = bad;
    t.throws(() => es.tell(xs, fs), { instanceOf: SecpError, code: 'ERR_CMAES_NUMERICAL', message: /fitness of solution 4/ });
  }
  t.is(es.generation, 3);
  es.tell(xs, xs.map(sphere));
  const reference = CMAES.fromState(JSON.parse(before));
  generations(reference, sphere, 1);
  t.is(JSON.stringify(es.state()), JSON.stringify(reference.state()));
});

test('a degenerate covariance matrix (condition > 1e14) throws ERR_CMAES_NUMERICAL', (t) => {
  const es = new CMAES({ x0: [0, 0], sigma0: 1, seed: 11 });
  const st = es.state();
  st.C = [1, 0, 0, 1e-16];
  st.D = [1, 1e-8];
  const broken = CMAES.fromState(st);
  const xs = broken.ask();
  t.throws(() => broken.tell(xs, xs.map(sphere)), {
    instanceOf: SecpError,
    code: 'ERR_CMAES_NUMERICAL',
    message: /condition number .* exceeds 1e\+14/,
  });
  const huge = CMAES.fromState({ ...st, sigma: 1e300, D: [1e10, 1e10] });
  const rngBefore = huge.state().rng;
  t.throws(() => huge.ask(), { instanceOf: SecpError, code: 'ERR_CMAES_NUMERICAL', message: /not finite/ });
  t.deepEqual(huge.state().rng, rngBefore, 'a failed ask() consumes no randomness');
  t.throws(() => CMAES.fromState({ ...st, sigma: NaN }), { instanceOf: SecpError, code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => CMAES.fromState({ ...st, C: [1, 0, 0] }), { instanceOf: SecpError, message: /state\.C/ });
  t.throws(() => CMAES.fromState({}), { instanceOf: SecpError, message: /format/ });
});

test('bounds: every candidate lies in the box and an optimum outside it is approached from the boundary', (t) => {
  const n = 20;
  const lo = -5;
  const hi = 5;
  // BBT-like box; the unconstrained optimum x_i = 7 lies outside, so the constrained optimum is x_i = 5.
  const f: Fn = (x) => {
    let s = 0;
    for (const v of x) s += (v - 7) ** 2;
    return s;
  };
  const es = new CMAES({ x0: new Array<number>(n).fill(0), sigma0: 2, seed: 8, bounds: [lo, hi], maxFevals: 6000 });
  let inside = true;
  while (es.stop().length === 0) {
    const xs = es.ask();
    for (const x of xs) for (const v of x) if (!(v >= lo && v <= hi)) inside = false;
    es.tell(xs, xs.map(f));
  }
  t.true(inside);
  for (const v of es.best!.x) t.true(v <= hi && v > hi - 1e-3);
  for (const v of es.mean) t.true(v >= lo && v <= hi);
  t.true(es.best!.f - n * 4 < 1e-4);
});

test('BoxTransform reproduces pycma BoxConstraintsLinQuadTransformation doctest values', (t) => {
  const tf = new BoxTransform(1, 11);
  const round9 = (v: number): number => Math.round(v * 1e9) / 1e9;
  t.deepEqual([-2.2, -0.2, 2, 4, 10.4].map((v) => round9(tf.transform(v))), [4, 2, 2, 4, 10.4]);
  t.is(round9(new BoxTransform(1, 2).transform(1.52)), 1.52);
  t.is(round9(tf.transform(-12.2)), round9(tf.transform(9.2)));
  for (const y of [1, 1.3, 5, 10.8, 11]) t.true(Math.abs(tf.transform(tf.inverse(y)) - y) < 1e-12);
});

test('IPOP restarts double the population after a local stop and are off by default', (t) => {
  const flat: Fn = () => 0; // tolFun holds after the first generation
  const plain = new CMAES({ x0: [0, 0, 0], sigma0: 1, seed: 2 });
  generations(plain, flat, 1);
  t.deepEqual(plain.stop(), ['tolFun']);
  t.is(plain.restartCount, 0);

  const ipop = new CMAES({ x0: [0, 0, 0], sigma0: 1, seed: 2, restarts: 2 });
  generations(ipop, flat, 1);
  t.is(ipop.restartCount, 1);
  t.is(ipop.popsize, 14);
  t.is(ipop.sigma, 1, 'a restart resets sigma to sigma0');
  t.deepEqual(ipop.stop(), []);
  t.is(ipop.ask().length, 14);
  generations(ipop, flat, 2);
  t.is(ipop.restartCount, 2);
  t.is(ipop.popsize, 28);
  t.deepEqual(ipop.stop(), ['tolFun']);
  t.is(ipop.fevals, 7 + 14 + 28);
});
