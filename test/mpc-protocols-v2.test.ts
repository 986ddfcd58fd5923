/**
 * The v2 building blocks (ts/mpc/party.ts ProtocolVersion) against exact integer references over their whole
 * advertised ranges, their openings' uniformity, and their metered bytes against the cost formulas:
 * truncation of inputs held mod 2^m (packed top bit), narrow Beaver products, coarse comparisons, products
 * with a comparison's masked bit, GELU's cosine series, masked openings reused by several products.
 */
import test from 'ava';
import { mulRaw, mulRowsRaw, openMasked, rowSquaresRaw, squareRaw } from '../ts/mpc/beaver.js';
import { ltz, ltzMasked, ltzShifts, mulMaskedBit } from '../ts/mpc/compare.js';
import { GELU_SERIES_RING, GELU_TERMS, gelu } from '../ts/mpc/nonlinear.js';
import { Shared } from '../ts/mpc/shared.js';
import { truncCosts, truncate } from '../ts/mpc/truncation.js';
import { randomRing } from './helpers.js';
import { chiSquareTopBits, runMpc, splitRaw } from './mpc-harness.js';

const CHI2_MAX = 52;
const N = 2048; // a multiple of 64: the meter's bytes are exactly the formulas'

/** Signed values uniform in [-2^(b-1), 2^(b-1)), with the two ends and 0, ±1 first. */
function signedValues(label: string, b: number, n = N): bigint[] {
  const half = 1n << BigInt(b - 1);
  const edges = [0n, 1n, -1n, half - 1n, -half];
  return [...edges, ...[...randomRing(label, n - edges.length)].map((v) => BigInt.asIntN(b, v))];
}

/** Shares of xs that agree only mod 2^m: S0's share carries garbage above bit m. */
function narrowShares(p: Parameters<typeof splitRaw>[0], xs: BigUint64Array, m: number): Shared {
  const s = splitRaw(p, xs);
  if (p.index !== 0 || m === 64) return s;
  const junk = randomRing(`junk${m}`, xs.length).map((v) => BigInt.asUintN(64, v << BigInt(m)));
  return new Shared(s.shape, p.ring.backend.add(s.s, junk));
}

const words = (xs: bigint[]) => BigUint64Array.from(xs.map((v) => BigInt.asUintN(64, v)));

test('truncation from a narrow ring: floor(x/2^k) or one more for every |x| < 2^(m−2); opens m bits; costs as truncCosts', async (t) => {
  const cases = [[64, 16], [64, 32], [58, 32], [39, 20], [35, 16], [35, 0], [24, 3]] as const;
  const inputs = cases.map(([m], i) => signedValues(`trunc-narrow${i}`, m - 2));
  const r = await runMpc({
    inputs: [],
    outputSizes: cases.map(() => N),
    outputBits: cases.map(() => 0),
    run: async (p) => {
      const outs = [];
      for (const [i, [m, k]] of cases.entries()) outs.push(await truncate(p, narrowShares(p, words(inputs[i]!), m), k, `tr${i}`, { from: m }));
      return { reveal: outs };
    },
  });
  const s0 = r.links.get('s0')!.meter.snapshot().ops;
  const dealer = r.links.get('dealer')!.meter.snapshot().ops;
  for (const [i, [m, k]] of cases.entries()) {
    let bad = 0;
    // outputs are decoded with 0 fractional bits: exact, as every result is below 2^53
    inputs[i]!.forEach((x, j) => {
      const want = Number(x >> BigInt(k));
      const got = r.outputs[i]![j]!;
      if (got !== want && got !== want + 1) bad++;
    });
    t.is(bad, 0, `m = ${m}, k = ${k}: every result is floor(x/2^k) or one more`);
    const cost = truncCosts({ protocols: 'v2' }, k, m);
    const sum = (ops: typeof s0) => Object.entries(ops).filter(([op]) => op === `tr${i}` || op.startsWith(`tr${i}.`)).reduce((a, [, v]) => a + v.bytesSent, 0);
    t.is(sum(s0), cost.serverBytes * N, `m = ${m}: bytes per server`);
    t.is(sum(dealer), cost.dealerBytes * N, `m = ${m}: dealer bytes`);
  }
  t.deepEqual(truncCosts({ protocols: 'v2' }, 16), { serverBytes: 8, dealerBytes: 10.125 });
  t.deepEqual(truncCosts({ protocols: 'v1' }, 16), { serverBytes: 8, dealerBytes: 16 });
  const bad = await t.throwsAsync(runMpc({ inputs: [], outputSizes: [], run: async (p) => {
    p.protocols = 'v1';
    return { reveal: [], result: await truncate(p, splitRaw(p, new BigUint64Array(64)), 16, 'x', { from: 40 }) };
  } }));
  t.regex(bad!.message, /input width must be an integer in 2\.\.64 \(64 with v1/);
});

test('truncation from a narrow ring: what a server receives is uniform for a constant input', async (t) => {
  const n = 20032;
  const zeros = new BigUint64Array(n);
  const r = await runMpc({
    inputs: [],
    outputSizes: [n],
    run: async (p) => ({ reveal: [await truncate(p, splitRaw(p, zeros), 16, 'nt', { from: 39 })] }),
  });
  for (const role of ['s0', 's1'] as const) {
    const all = BigUint64Array.from(r.opened[role].get('nt')!.flatMap((m) => [...m]));
    t.true(chiSquareTopBits(all) < CHI2_MAX, `${role}: chi² ${chiSquareTopBits(all).toFixed(1)}`);
  }
});

test('narrow Beaver products: x·y and x² exact mod 2^m for operands held mod 2^m, m bits opened per operand', async (t) => {
  const m = 35;
  const xs = signedValues('nmul-x', 17);
  const ys = signedValues('nmul-y', 16);
  const r = await runMpc({
    inputs: [],
    outputSizes: [N, N],
    outputBits: [0, 0],
    run: async (p) => {
      const x = narrowShares(p, words(xs), m);
      const y = narrowShares(p, words(ys), m);
      // Lift the narrow results to Z_2^64 with a truncation by 0 bits (|x·y| < 2^33 = 2^(m−2)).
      const prod = await truncate(p, await mulRaw(p, x, y, 'nm', m), 0, 'nm.lift', { from: m });
      const sq = await truncate(p, await squareRaw(p, y, 'ns', m), 0, 'ns.lift', { from: m });
      return { reveal: [prod, sq] };
    },
  });
  t.is(r.outputs[0]!.filter((v, j) => v !== Number(xs[j]! * ys[j]!)).length, 0, 'x·y exact');
  t.is(r.outputs[1]!.filter((v, j) => v !== Number(ys[j]! * ys[j]!)).length, 0, 'y² exact');
  const s0 = r.links.get('s0')!.meter.snapshot().ops;
  const dealer = r.links.get('dealer')!.meter.snapshot().ops;
  t.is(s0['nm']!.bytesSent, (2 * m * N) / 8);
  t.is(dealer['nm.c']!.bytesSent, (m * N) / 8);
  t.is(s0['ns']!.bytesSent, (m * N) / 8);
  for (const role of ['s0', 's1'] as const) {
    const all = BigUint64Array.from(r.opened[role].get('nm')!.flatMap((w) => [...w]));
    t.true(chiSquareTopBits(all) < CHI2_MAX, `${role}: chi² ${chiSquareTopBits(all).toFixed(1)}`);
  }
});

test('coarse comparison (drop d): exact for x < 0 and x ≥ 2^d over its whole range, either bit below 2^d', async (t) => {
  const cases = [[22, 10], [20, 12], [8, 40], [64 - 3, 3]] as const;
  const inputs = cases.map(([k, d], i) => {
    const lo = -(1n << BigInt(k - 1 + d)) + (1n << BigInt(d));
    const hi = (1n << BigInt(k - 1 + d)) - 1n;
    const span = hi - lo + 1n;
    const rnd = [...randomRing(`coarse${i}`, N - 8)].map((v) => lo + (v % span));
    return [lo, hi, 0n, (1n << BigInt(d)) - 1n, 1n << BigInt(d), -1n, 5n, -(1n << BigInt(d)), ...rnd];
  });
  const r = await runMpc({
    inputs: [],
    outputSizes: cases.map(() => N),
    outputBits: cases.map(() => 0),
    run: async (p) => {
      const outs = [];
      for (const [i, [k, d]] of cases.entries()) outs.push(await ltz(p, splitRaw(p, words(inputs[i]!)), `c${i}`, { bits: k, drop: d }));
      return { reveal: outs };
    },
  });
  for (const [i, [k, d]] of cases.entries()) {
    let wrong = 0;
    inputs[i]!.forEach((x, j) => {
      const got = r.outputs[i]![j]!;
      if (x >= 0n && x < 1n << BigInt(d)) {
        if (got !== 0 && got !== 1) wrong++;
      } else if (got !== (x < 0n ? 1 : 0)) wrong++;
    });
    t.is(wrong, 0, `k = ${k}, drop = ${d}`);
  }
  const bad = await t.throwsAsync(runMpc({ inputs: [], outputSizes: [], run: async (p) => ({ reveal: [], result: await ltz(p, splitRaw(p, new BigUint64Array(64)), 'x', { bits: 40, drop: 30 }) }) }));
  t.regex(bad!.message, /drop must be an integer in 0\.\.24/);
});

test('comparison against several shifts: one opening of c, every [x − s < 0] exact at width k; bytes as documented; its opening uniform for a constant input', async (t) => {
  // n not a multiple of 64: each shift's elements are padded to whole words.
  const [k, n] = [20, 1000];
  const shifts = [0n, 512n, -300n];
  const half = 1n << BigInt(k - 1);
  // |x − s| < 2^(k−1) for every shift, edges included.
  const lo = -half + 512n;
  const hi = half - 301n;
  const xs = [lo, hi, 0n, 511n, 512n, -300n, -301n, ...[...randomRing('shifts', n - 7)].map((v) => lo + (v % (hi - lo + 1n)))];
  const r = await runMpc({
    inputs: [],
    outputSizes: [shifts.length * n],
    outputBits: [0],
    run: async (p) => ({ reveal: [(await ltzShifts(p, splitRaw(p, words(xs)), shifts, 'sh', { bits: k })).bit] }),
  });
  shifts.forEach((sh, j) => {
    const wrong = xs.filter((x, i) => r.outputs[0]![j * n + i]! !== (x - sh < 0n ? 1 : 0)).length;
    t.is(wrong, 0, `shift ${sh}`);
  });
  const s0 = r.links.get('s0')!.meter.snapshot();
  const dealer = r.links.get('dealer')!.meter.snapshot();
  const w0 = Math.ceil(n / 64);
  t.is(s0.ops['sh.open']!.bytesSent, 8 * k * w0, 'c is opened once, k bit planes');
  t.is(dealer.ops['sh.r_bits']!.bytesSent, 8 * k * w0, "r's bits are dealt once");
  t.is(dealer.ops['sh.rho']!.bytesSent, 8 * shifts.length * 64 * w0, 'one ρ per element and shift (padded to words)');
  t.is(s0.ops['sh.b2a']!.bytesSent, 8 * shifts.length * w0, 'one result plane per shift');
  const constant = await runMpc({
    inputs: [],
    outputSizes: [2 * N],
    outputBits: [0],
    run: async (p) => ({ reveal: [(await ltzShifts(p, splitRaw(p, new BigUint64Array(N).fill(7n)), [0n, 9n], 'k', { bits: 64 })).bit] }),
  });
  t.is(constant.outputs[0]!.filter((v, i) => v !== (i < N ? 0 : 1)).length, 0, '7 ≥ 0 and 7 − 9 < 0');
  for (const role of ['s0', 's1'] as const) {
    const all = BigUint64Array.from(constant.opened[role].get('k.open')!.flatMap((w) => [...w]));
    t.true(chiSquareTopBits(all) < CHI2_MAX, `${role}: chi² ${chiSquareTopBits(all).toFixed(1)}`);
  }
});

test('product with a masked comparison bit: b·y exact; one opening of 8 bytes per element, uniform', async (t) => {
  const xs = signedValues('mb-x', 30);
  const ys = signedValues('mb-y', 50);
  const r = await runMpc({
    inputs: [],
    outputSizes: [N],
    outputBits: [0],
    run: async (p) => {
      const b = await ltzMasked(p, splitRaw(p, words(xs)), 'mb.cmp', { bits: 31 });
      return { reveal: [await mulMaskedBit(p, b, splitRaw(p, words(ys)), 'mb')] };
    },
  });
  t.is(r.outputs[0]!.filter((v, j) => v !== (xs[j]! < 0n ? Number(ys[j]!) : 0)).length, 0);
  t.is(r.links.get('s0')!.meter.snapshot().ops['mb']!.bytesSent, 8 * N);
  t.is(r.links.get('dealer')!.meter.snapshot().ops['mb.c']!.bytesSent, 8 * N);
  for (const role of ['s0', 's1'] as const) {
    const all = BigUint64Array.from(r.opened[role].get('mb')!.flatMap((w) => [...w]));
    t.true(chiSquareTopBits(all) < CHI2_MAX, `${role}: chi² ${chiSquareTopBits(all).toFixed(1)}`);
  }
});

test('row-broadcast products: X ⊙ v per row exact for several pairs in one round; one word per row opened for v; uniform', async (t) => {
  const pairs = [[64, 12], [32, 65]] as const;
  const xs = pairs.map(([r, c], i) => signedValues(`rows-x${i}`, 30, r * c));
  const vs = pairs.map(([r], i) => signedValues(`rows-v${i}`, 30, r));
  for (const version of ['v2', 'v1'] as const) {
    const r = await runMpc({
      inputs: [],
      outputSizes: pairs.map(([a, b]) => a * b),
      outputBits: pairs.map(() => 0),
      run: async (p) => {
        p.protocols = version;
        const args = pairs.map((_, i) => [splitRaw(p, words(xs[i]!)), splitRaw(p, words(vs[i]!))] as const);
        return { reveal: await mulRowsRaw(p, args, 'rows') };
      },
    });
    for (const [i, [, c]] of pairs.entries()) {
      t.is(r.outputs[i]!.filter((v, j) => v !== Number(xs[i]![j]! * vs[i]![Math.floor(j / c)]!)).length, 0, `${version}: pair ${i} exact`);
    }
    const elems = pairs.reduce((s, [a, b]) => s + a * b, 0);
    const rows = pairs.reduce((s, [a]) => s + a, 0);
    t.is(r.links.get('s0')!.meter.snapshot().ops['rows']!.bytesSent, 8 * (version === 'v2' ? elems + rows : 2 * elems), `${version}: bytes per server`);
    t.is(r.links.get('dealer')!.meter.snapshot().ops['rows.c']!.bytesSent, 8 * elems, `${version}: dealer bytes`);
    if (version === 'v2') {
      for (const role of ['s0', 's1'] as const) {
        const all = BigUint64Array.from(r.opened[role].get('rows')!.flatMap((w) => [...w]));
        t.true(chiSquareTopBits(all) < CHI2_MAX, `${role}: chi² ${chiSquareTopBits(all).toFixed(1)}`);
      }
    }
  }
});

test('masked opening: x opened once serves Σx² per row and x ⊙ v per row, both exact; x is not opened again; uniform', async (t) => {
  const [rows, cols] = [64, 24];
  const xs = signedValues('mo-x', 24, rows * cols);
  const vs = signedValues('mo-v', 24, rows);
  const r = await runMpc({
    inputs: [],
    outputSizes: [rows, rows * cols],
    outputBits: [0, 0],
    run: async (p) => {
      const opened = await openMasked(p, splitRaw(p, words(xs)), 'mo');
      const sq = await rowSquaresRaw(p, opened, rows, 'mo');
      const [prod] = await mulRowsRaw(p, [[opened, splitRaw(p, words(vs))]], 'mo.rows');
      return { reveal: [sq, prod!] };
    },
  });
  for (let i = 0; i < rows; i++) {
    const want = xs.slice(i * cols, (i + 1) * cols).reduce((a, v) => a + v * v, 0n);
    if (BigInt(r.outputs[0]![i]!) !== want) t.fail(`row ${i}: ${r.outputs[0]![i]} vs ${want}`);
  }
  t.is(r.outputs[1]!.filter((v, j) => v !== Number(xs[j]! * vs[Math.floor(j / cols)]!)).length, 0, 'x ⊙ v exact');
  const s0 = r.links.get('s0')!.meter.snapshot();
  const dealer = r.links.get('dealer')!.meter.snapshot();
  t.is(s0.ops['mo']!.bytesSent, 8 * rows * cols, 'x opened once');
  t.is(dealer.ops['mo.c']!.bytesSent, 8 * rows, 'ΣA² dealt per row');
  t.is(s0.ops['mo.rows']!.bytesSent, 8 * rows, 'the product opens only v − b');
  t.is(s0.ops['mo']!.rounds + s0.ops['mo.rows']!.rounds, 2);
  for (const role of ['s0', 's1'] as const) {
    const all = BigUint64Array.from(r.opened[role].get('mo')!.flatMap((w) => [...w]));
    t.true(chiSquareTopBits(all) < CHI2_MAX, `${role}: chi² ${chiSquareTopBits(all).toFixed(1)}`);
  }
});

test("GELU's cosine series and selection: their openings are uniform for a constant input; bytes and rounds as documented", async (t) => {
  const x = new Float64Array(N).fill(1.5);
  const r = await runMpc({ inputs: [{ values: x, shape: [N] }], outputSizes: [N], run: async (p, [X]) => ({ reveal: [await gelu(p, X!)] }) });
  const want = 1.5 * 0.5 * (1 + 0.8663855974622838); // erf(1.5/√2)
  t.true(r.outputs[0]!.every((v) => Math.abs(v - want) < 1e-3), `GELU(1.5) = ${r.outputs[0]![0]} vs ${want}`);
  const s0 = r.links.get('s0')!.meter.snapshot();
  const dealer = r.links.get('dealer')!.meter.snapshot();
  t.is(s0.ops['gelu.even']!.bytesSent, 8 * N, 'd is opened whole');
  t.is(dealer.ops['gelu.even.trig']!.bytesSent, (2 * GELU_TERMS * N * GELU_SERIES_RING(16)) / 8, 'the terms as bit planes mod 2^38');
  t.is(s0.ops['gelu.even']!.rounds, 1);
  // The selection opens inner − α only (x's masked value comes from d): 8 bytes per server, 16 from the dealer.
  t.is(s0.ops['gelu.sel']!.bytesSent, 8 * N, 'the selection opens one word per element');
  t.is(dealer.ops['gelu.sel.c']!.bytesSent, 2 * 8 * N, 'two products with ρ dealt');
  for (const role of ['s0', 's1'] as const) {
    for (const label of ['gelu.even', 'gelu.sel']) {
      const all = BigUint64Array.from(r.opened[role].get(label)!.flatMap((w) => [...w]));
      t.true(chiSquareTopBits(all) < CHI2_MAX, `${role} ${label}: chi² ${chiSquareTopBits(all).toFixed(1)}`);
    }
  }
  const total = Object.values(r.links.get('s0')!.meter.snapshot().ops).reduce((a, o) => a + o.rounds, 0);
  t.is(total, 9, 'rounds of one GELU');
});
