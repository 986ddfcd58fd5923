import test from 'ava';
import { SecpError } from '../bindings/errors.js';
import { embeddingScaledStd, RandomProjection } from '../ts/tuning/projection.js';

const zs = (d: number, count: number) =>
  Array.from({ length: count }, (_, k) => Float64Array.from({ length: d }, (_, j) => Math.sin(1 + k * d + j)));

test('shapes: C latent vectors of d give C prompts of D', (t) => {
  const p = new RandomProjection({ d: 8, D: 100, kind: 'uniform', seed: 1 });
  const out = p.project(zs(8, 3));
  t.is(out.length, 3);
  t.true(out.every((x) => x instanceof Float64Array && x.length === 100));
  t.is(p.rows(0, 100).length, 800);
});

test('deterministic per seed; independent of caching and chunk size', (t) => {
  for (const kind of ['uniform', 'normal'] as const) {
    const z = zs(16, 4);
    const a = new RandomProjection({ d: 16, D: 333, kind, seed: 7 }).project(z);
    const b = new RandomProjection({ d: 16, D: 333, kind, seed: 7 }).project(z);
    const chunked = new RandomProjection({ d: 16, D: 333, kind, seed: 7, cacheBytes: 0, chunkRows: 10 }).project(z);
    const other = new RandomProjection({ d: 16, D: 333, kind, seed: 8 }).project(z);
    t.deepEqual(a, b);
    t.deepEqual(a, chunked);
    t.notDeepEqual(a, other);
    // Row i is the same whatever D is (one stream per row).
    const longer = new RandomProjection({ d: 16, D: 500, kind, seed: 7 }).rows(0, 333);
    t.deepEqual(longer, new RandomProjection({ d: 16, D: 333, kind, seed: 7 }).rows(0, 333));
  }
});

test('p = A z (+ p0): a unit vector picks a column, p0 is added', (t) => {
  const d = 10;
  const D = 50;
  const proj = new RandomProjection({ d, D, kind: 'normal', seed: 3, std: 0.5 });
  const A = proj.rows(0, D);
  const e3 = new Float64Array(d);
  e3[3] = 1;
  const [col] = proj.project([e3]);
  for (let i = 0; i < D; i++) t.is(col![i], A[i * d + 3]);
  const p0 = Float64Array.from({ length: D }, (_, i) => i);
  const [withP0] = proj.project([e3], p0);
  for (let i = 0; i < D; i++) t.is(withP0![i], A[i * d + 3]! + i);
  const [zero] = proj.project([new Float64Array(d)], p0);
  t.deepEqual(zero, p0);
});

test("uniform entries lie in ±1/sqrt(d) (PyTorch Linear's init); normal entries have the requested std", (t) => {
  const d = 100;
  const u = new RandomProjection({ d, D: 2000, kind: 'uniform', seed: 0 });
  const a = u.rows(0, 2000);
  const bound = 1 / Math.sqrt(d);
  t.is(u.scale, bound);
  let mean = 0;
  let sq = 0;
  for (const v of a) {
    t.true(Math.abs(v) <= bound);
    mean += v;
    sq += v * v;
  }
  mean /= a.length;
  t.true(Math.abs(mean) < 0.002);
  t.true(Math.abs(sq / a.length - bound ** 2 / 3) < 0.01 * bound ** 2);
  for (const std of [undefined, 0.3]) {
    const n = new RandomProjection({ d, D: 2000, kind: 'normal', seed: 0, ...(std ? { std } : {}) });
    const want = std ?? 1 / d;
    t.is(n.scale, want);
    const r = n.rows(0, 2000);
    let s = 0;
    for (const v of r) s += v * v;
    t.true(Math.abs(Math.sqrt(s / r.length) / want - 1) < 0.01);
  }
});

test("BBTv2's embedding-scaled std: alpha·std(emb) / (sqrt(d)·sigma0)", (t) => {
  t.is(embeddingScaledStd(0.05, 500, 0.5, 0.2), (0.2 * 0.05) / (Math.sqrt(500) * 0.5));
  t.is(t.throws(() => embeddingScaledStd(0, 500, 0.5))?.message, 'embeddingStd must be a positive number, got 0');
});

test('errors name the option', (t) => {
  const p = new RandomProjection({ d: 4, D: 8, kind: 'uniform', seed: 0 });
  t.is(t.throws(() => p.project([new Float64Array(5)]), { instanceOf: SecpError })?.code, 'ERR_SHAPE_MISMATCH');
  t.is(
    t.throws(() => new RandomProjection({ d: 0, D: 8, kind: 'uniform', seed: 0 }))?.message,
    'projection d must be an integer >= 1, got 0',
  );
  t.is(
    t.throws(() => new RandomProjection({ d: 4, D: 8, kind: 'gaussian' as 'normal', seed: 0 }))?.message,
    `projection must be 'uniform' or 'normal', got "gaussian"`,
  );
  t.is(
    t.throws(() => new RandomProjection({ d: 4, D: 8, kind: 'uniform', seed: 0, std: 1 }))?.message,
    'projection std applies to the normal projection only',
  );
});
