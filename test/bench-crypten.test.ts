/**
 * The pure half of `npm run bench:crypten` (bench/crypten/compare.ts): reading bench/crypten/layer.py's result
 * line, and the CrypTen / ours ratios. CrypTen itself is not needed (the bench runs it; CI does not).
 */
import test from 'ava';
import { parseCryptenResult, ratios, table, type CryptenLayer } from '../bench/crypten/compare.js';

const result = {
  crypten: '0.4.1',
  torch: '2.0.1+cu117',
  python: '3.11.7',
  provider: 'TFP',
  precisionBits: 16,
  threadsPerParty: 1,
  gelu: 'tanh',
  shape: { hidden: 768, heads: 12, intermediate: 3072, batch: 2, seq: 16 },
  seconds: 11,
  cpu: 10.8,
  bytes: 212625408,
  rounds: 170,
  commSeconds: 3,
  maxAbsError: 0.005,
  meanAbsError: 0.001,
  refMaxAbs: 4.07,
  parties: [{ rank: 0 }, { rank: 1 }],
};

test('the result is the last JSON line, after whatever CrypTen printed', (t) => {
  const out = `WARNING: something\n{"not": "this one"}\n${JSON.stringify(result)}\n\n`;
  const r = parseCryptenResult(out);
  t.is(r.gelu, 'tanh');
  t.is(r.bytes, 212625408);
  t.is(r.rounds, 170);
  t.deepEqual(r.shape, result.shape);
  t.is(r.maxAbsError, 0.005);
});

test('a missing, non-numeric or negative field is named', (t) => {
  t.throws(() => parseCryptenResult('no json here\n'), { message: /no JSON line/ });
  t.throws(() => parseCryptenResult('{"truncated": '), { message: /does not parse/ });
  const { bytes: _bytes, ...noBytes } = result;
  t.throws(() => parseCryptenResult(JSON.stringify(noBytes)), { message: /'bytes' is undefined/ });
  t.throws(() => parseCryptenResult(JSON.stringify({ ...result, seconds: 'fast' })), { message: /'seconds' is "fast"/ });
  t.throws(() => parseCryptenResult(JSON.stringify({ ...result, rounds: -1 })), { message: /'rounds' is -1/ });
  t.throws(() => parseCryptenResult(JSON.stringify({ ...result, shape: { ...result.shape, seq: null } })), { message: /shape: 'seq' is null/ });
  t.throws(() => parseCryptenResult(JSON.stringify({ ...result, gelu: 'relu' })), { message: /'gelu' is "relu"/ });
});

test('ratios are CrypTen over ours; dealer bytes count only in the with-dealer ratio', (t) => {
  const c: CryptenLayer = parseCryptenResult(JSON.stringify({ ...result, seconds: 30, cpu: 50, bytes: 600, rounds: 200 }));
  const q = ratios(c, { seconds: 10, cpu: 20, online: 200, dealer: 100, rounds: 50 });
  t.deepEqual(q, { time: 3, cpu: 2.5, online: 3, withDealer: 2, rounds: 4 });
});

test('table pads the first column left and the others right', (t) => {
  t.is(table([['a', 'bb'], ['ccc', 'd']]), 'a    bb\nccc   d');
});
