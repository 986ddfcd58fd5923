import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecpError } from '../bindings/errors.js';
import {
  MAX_HEADER_BYTES,
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
  type TensorToWrite,
} from '../ts/model/safetensors.js';

/** A file from a raw header object and raw data bytes, bypassing the writer. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function code(t: { throws: (fn: () => unknown, exp: object) => unknown }, fn: () => unknown, c: string, msg?: RegExp) {
  t.throws(fn, { instanceOf: SecpError, code: c, ...(msg ? { message: msg } : {}) });
}

const specials = [0, -0, 1, -2.5, 1 / 3, 65504, 2 ** -14, 2 ** -24, 3 * 2 ** -24, 1e-8, 70000, Infinity, -Infinity, NaN];

test('F32 and F64 round trip exactly, including special values', (t) => {
  const f32 = Float32Array.from(specials);
  const f64 = Float64Array.from(specials);
  const file = parseSafetensors(
    serializeSafetensors([
      ['a', { dtype: 'F32', shape: [2, 7], data: f32 }],
      ['b', { dtype: 'F64', shape: [14], data: f64 }],
    ]),
  );
  t.deepEqual([...file.read('a')], [...f32]);
  t.deepEqual([...file.read('b')], [...Float32Array.from(f64)]);
  t.true(Object.is(file.read('a')[1], -0));
  t.deepEqual(file.tensors.get('a')!.shape, [2, 7]);
});

test('F16 encodes with round-to-nearest-even, subnormals, overflow and NaN', (t) => {
  const values = [...specials, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 2049, 2051, 65520, -(2 ** -25), 2 ** -25 * 1.5];
  const expected = [
    0, -0, 1, -2.5, 0.333251953125, 65504, 2 ** -14, 2 ** -24, 3 * 2 ** -24, 0, Infinity, Infinity, -Infinity, NaN,
    1, 1 + 2 ** -9, 2048, 2052, Infinity, -0, 2 ** -24,
  ];
  const file = parseSafetensors(serializeSafetensors([['x', { dtype: 'F16', shape: [values.length], data: values }]]));
  const got = [...file.read('x')];
  got.forEach((g, i) => t.true(Object.is(g, expected[i]), `value ${values[i]}: got ${g}, want ${expected[i]}`));
});

test('BF16 encodes with round-to-nearest-even, subnormals, inf and NaN', (t) => {
  const values = [0, -0, 1, 1 / 3, 2 ** -133, 2 ** -149, 3e38, -Infinity, NaN, 1 + 2 ** -8, 1 + 3 * 2 ** -8];
  // 3e38 is 0x7f61b1e6 in float32 and rounds up to 0x7f62 = (128 + 0x62) * 2^120.
  const expected = [0, -0, 1, 0.333984375, 2 ** -133, 0, (128 + 0x62) * 2 ** 120, -Infinity, NaN, 1, 1 + 2 ** -6];
  const file = parseSafetensors(serializeSafetensors([['x', { dtype: 'BF16', shape: [values.length], data: values }]]));
  [...file.read('x')].forEach((g, i) => t.true(Object.is(g, expected[i]), `value ${values[i]}: got ${g}, want ${expected[i]}`));
});

test('F16 and BF16 bit patterns decode exactly (hand-written bytes)', (t) => {
  const f16 = [0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x8000, 0xc000];
  const f16want = [2 ** -24, 1023 * 2 ** -24, 2 ** -14, 1, 65504, Infinity, -Infinity, NaN, -0, -2];
  const bf16 = [0x0001, 0x3f80, 0x7f80, 0xff80, 0x7fc0, 0x8000, 0x3eab];
  const bf16want = [2 ** -133, 1, Infinity, -Infinity, NaN, -0, 0.333984375];
  const data = new Uint8Array(new Uint16Array([...f16, ...bf16]).buffer);
  const file = parseSafetensors(
    rawFile(
      {
        h: { dtype: 'F16', shape: [f16.length], data_offsets: [0, 2 * f16.length] },
        b: { dtype: 'BF16', shape: [bf16.length], data_offsets: [2 * f16.length, data.length] },
      },
      data,
    ),
  );
  [...file.read('h')].forEach((g, i) => t.true(Object.is(g, f16want[i]), `f16 ${f16[i]!.toString(16)}: ${g}`));
  [...file.read('b')].forEach((g, i) => t.true(Object.is(g, bf16want[i]), `bf16 ${bf16[i]!.toString(16)}: ${g}`));
});

test('metadata round trips and the data section is 8-byte aligned', (t) => {
  const bytes = serializeSafetensors([['w', { dtype: 'F32', shape: [3], data: [1, 2, 3] }]], { format: 'pt', note: 'x' });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  t.is((8 + n) % 8, 0);
  const file = parseSafetensors(bytes);
  t.deepEqual(file.metadata, { format: 'pt', note: 'x' });
  t.deepEqual([...file.tensors.keys()], ['w']);
});

test('writeSafetensors / readSafetensors through a file; missing file is ERR_FILE_MISSING', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'secp-st-'));
  try {
    const tensors: [string, TensorToWrite][] = [['x', { dtype: 'F16', shape: [2, 2], data: [1, 2, 3, 4] }]];
    writeSafetensors(join(dir, 'm.safetensors'), tensors);
    t.deepEqual([...readSafetensors(join(dir, 'm.safetensors')).read('x')], [1, 2, 3, 4]);
    code(t, () => readSafetensors(join(dir, 'nope.safetensors')), 'ERR_FILE_MISSING', /nope\.safetensors/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('corrupted headers are ERR_SAFETENSORS with a clear message', (t) => {
  code(t, () => parseSafetensors(new Uint8Array(5)), 'ERR_SAFETENSORS', /too short/);
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES) + 1n, true);
  code(t, () => parseSafetensors(huge), 'ERR_SAFETENSORS', /exceeds the 100000000-byte limit/);
  const long = new Uint8Array(16);
  new DataView(long.buffer).setBigUint64(0, 100n, true);
  code(t, () => parseSafetensors(long), 'ERR_SAFETENSORS', /exceeds the file size/);
  code(t, () => parseSafetensors(rawFile('{"a": ')), 'ERR_SAFETENSORS', /not valid UTF-8 JSON/);
  code(t, () => parseSafetensors(rawFile('[1, 2]')), 'ERR_SAFETENSORS', /does not start with/);
  code(t, () => parseSafetensors(rawFile({ __metadata__: { a: 1 } })), 'ERR_SAFETENSORS', /__metadata__\.a/);
  const bad = rawFile('{}');
  bad[8] = 0xff; // invalid UTF-8 in place of '{'
  code(t, () => parseSafetensors(bad), 'ERR_SAFETENSORS', /UTF-8/);
});

test('bad tensor entries: unknown dtype, bad shape, offsets out of bounds, overlapping, size mismatch', (t) => {
  const data = new Uint8Array(16);
  const one = (entry: unknown) => () => parseSafetensors(rawFile({ x: entry }, data));
  code(t, one({ dtype: 'Q4', shape: [4], data_offsets: [0, 2] }), 'ERR_SAFETENSORS', /"x" has unknown dtype "Q4"/);
  code(t, one({ dtype: 'F32', shape: [-1], data_offsets: [0, 4] }), 'ERR_SAFETENSORS', /shape/);
  code(t, one({ dtype: 'F32', shape: [8], data_offsets: [0, 32] }), 'ERR_SAFETENSORS', /run past the 16-byte data section/);
  code(t, one({ dtype: 'F32', shape: [3], data_offsets: [0, 16] }), 'ERR_SAFETENSORS', /span 16 bytes but F32 x \[3\] needs 12/);
  code(t, one({ dtype: 'F32', shape: [1], data_offsets: [8, 4] }), 'ERR_SAFETENSORS', /reversed/);
  code(t, one({ dtype: 'F32', shape: [1], data_offsets: [0] }), 'ERR_SAFETENSORS', /data_offsets/);
  const overlap = rawFile(
    {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    },
    data,
  );
  code(t, () => parseSafetensors(overlap), 'ERR_SAFETENSORS', /"a" \[0, 8\) and "b" \[4, 12\) overlap/);
});

test('a truncated file is rejected before any tensor is read', (t) => {
  const bytes = serializeSafetensors([
    ['a', { dtype: 'F32', shape: [4], data: [1, 2, 3, 4] }],
    ['b', { dtype: 'F32', shape: [4], data: [5, 6, 7, 8] }],
  ]);
  code(t, () => parseSafetensors(bytes.subarray(0, bytes.length - 3)), 'ERR_SAFETENSORS', /"b".*run past/);
  code(t, () => parseSafetensors(bytes.subarray(0, 20)), 'ERR_SAFETENSORS', /exceeds the file size/);
});

test('known non-float dtypes validate but refuse to decode; unknown names are ERR_MISSING_TENSOR', (t) => {
  const file = parseSafetensors(
    rawFile({ position_ids: { dtype: 'I64', shape: [1, 2], data_offsets: [0, 16] } }, new Uint8Array(16)),
  );
  t.deepEqual(file.tensors.get('position_ids'), { dtype: 'I64', shape: [1, 2], begin: 0, end: 16 });
  code(t, () => file.read('position_ids'), 'ERR_SAFETENSORS', /dtype I64/);
  code(t, () => file.read('nope'), 'ERR_MISSING_TENSOR', /"nope"/);
});

test('the writer rejects wrong value counts and duplicate names', (t) => {
  code(t, () => serializeSafetensors([['x', { dtype: 'F32', shape: [2, 2], data: [1, 2, 3] }]]), 'ERR_SHAPE_MISMATCH');
  const x: TensorToWrite = { dtype: 'F32', shape: [1], data: [1] };
  code(t, () => serializeSafetensors([['x', x], ['x', x]]), 'ERR_INVALID_ARGUMENT', /duplicate/);
});

test('an empty and a zero-size tensor are fine', (t) => {
  const file = parseSafetensors(serializeSafetensors([['e', { dtype: 'F32', shape: [0, 3], data: [] }]]));
  t.is(file.read('e').length, 0);
  t.is(parseSafetensors(serializeSafetensors([])).tensors.size, 0);
});

test('writing is deterministic', (t) => {
  const write = () => serializeSafetensors([['x', { dtype: 'BF16', shape: [3], data: [0.1, 0.2, 0.3] }]], { k: 'v' });
  t.deepEqual(write(), write());
});
