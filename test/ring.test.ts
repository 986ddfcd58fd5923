import test from 'ava';
import { SecpError } from '../bindings/errors.js';
import { Prg } from '../ts/ring/prg.js';
import { Ring } from '../ts/ring/tensor.js';
import { compiledBackends, backend, randomReals } from './helpers.js';

for (const name of compiledBackends) {
  test(`${name}: ring tensors round-trip floats and compute fixed-point products`, (t) => {
    const ring = new Ring({ backend: backend(name), fracBits: 16 });
    const x = randomReals('rx', 12, 10);
    const a = ring.encode(x, [3, 4]);
    const back = a.toFloat();
    for (let i = 0; i < x.length; i++) t.true(Math.abs(back[i]! - x[i]!) <= 2 ** -17);
    const w = ring.encode(randomReals('rw', 8, 2), [4, 2]);
    const p = a.matmul(w);
    t.deepEqual(p.shape, [3, 2]);
    // The product carries 2f fractional bits: decode with 32 and compare with float64.
    const pf = ring.backend.decode(p.data, 32);
    const af = a.toFloat();
    const wf = w.toFloat();
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 2; j++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += af[i * 4 + k]! * wf[k * 2 + j]!;
        t.true(Math.abs(pf[i * 2 + j]! - s) < 1e-9);
      }
    }
    t.deepEqual(a.matmulBT(w.transpose()).data, p.data);
    t.deepEqual(a.add(a).sub(a).data, a.data);
    t.deepEqual(a.neg().add(a).data, new BigUint64Array(12));
    t.deepEqual(a.scalarMul(3n).data, a.add(a).add(a).data);
    t.deepEqual(a.sum(0).shape, [4]);
    t.deepEqual(a.rows(1, 3).toFloat(), a.toFloat().subarray(4, 12));
  });
}

test('ring tensors check shapes and options', (t) => {
  const ring = new Ring({ backend: backend('js') });
  const a = ring.encode([1, 2, 3, 4, 5, 6], [2, 3]);
  const codeOf = (f: () => unknown): string => (t.throws(f) as SecpError).code;
  t.is(codeOf(() => a.add(ring.encode([1, 2, 3, 4, 5, 6], [3, 2]))), 'ERR_SHAPE_MISMATCH');
  t.is(codeOf(() => a.matmul(a)), 'ERR_SHAPE_MISMATCH');
  t.is(codeOf(() => ring.encode([1, 2, 3], [2, 2])), 'ERR_SHAPE_MISMATCH');
  t.is(codeOf(() => a.reshape([4, 2])), 'ERR_SHAPE_MISMATCH');
  t.is(codeOf(() => a.rows(1, 3)), 'ERR_SHAPE_MISMATCH');
  t.is(codeOf(() => ring.wrap(new BigUint64Array(5), [2, 3])), 'ERR_BUFFER_LENGTH');
  t.is(codeOf(() => new Ring({ fracBits: 70, backend: backend('js') })), 'ERR_INVALID_ARGUMENT');
  t.is(codeOf(() => ring.encode([NaN])), 'ERR_NON_FINITE');
});

test('PRG streams: same key and stream give the same draws, chunking does not matter', (t) => {
  const be = backend('js');
  const key = Prg.randomKey();
  const a = new Prg(be, key, 7n);
  const b = new Prg(be, key, 7n);
  const whole = a.next(24);
  t.deepEqual(BigUint64Array.from([...b.next(8), ...b.next(16)]), whole);
  t.notDeepEqual(new Prg(be, key, 8n).next(24), whole, 'another stream id gives another stream');
  t.is(a.position, 3);
});
