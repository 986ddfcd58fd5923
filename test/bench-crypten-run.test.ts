/**
 * bench/crypten/layer.py itself, at a small shape: CrypTen's revealed layer output against float64, and its byte
 * count against the part of it that can be counted by hand. Needs the CrypTen venv (bash bench/crypten/setup.sh,
 * ~2.5 GB); skipped without it. With it, ~8 s on the idle 2-core machine (45 s measured under load 5).
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseCryptenResult } from '../bench/crypten/compare.js';

const venv = process.env.SECP_CRYPTEN_VENV ?? '.cache/crypten/venv';
const python = join(venv, 'bin', 'python');
const hasCrypten = existsSync(python);

const HIDDEN = 768;
const FFN = 3072;
/**
 * Bytes CrypTen must send whatever the sequence length: each Beaver product opens (weight - mask) from both
 * parties, 8 bytes an element, for the four 768 x 768 attention matrices and the two FFN matrices.
 */
const WEIGHT_OPENINGS = 2 * 8 * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * FFN);

(hasCrypten ? test : test.skip)(`CrypTen's BERT-base layer (batch 1, seq 8, GELU by tanh) matches float64 and counts its bytes (skipped without ${venv}: bash bench/crypten/setup.sh)`, (t) => {
  const r = spawnSync(python, ['bench/crypten/layer.py', '--batch', '1', '--seq', '8', '--gelu', 'tanh'], { encoding: 'utf8', timeout: 300_000 });
  t.is(r.status, 0, r.stderr);
  const c = parseCryptenResult(r.stdout);
  t.deepEqual(c.shape, { hidden: HIDDEN, heads: 12, intermediate: FFN, batch: 1, seq: 8 });
  t.is(c.provider, 'TFP');
  // The output is LayerNormed (values of a few units); CrypTen's 16 fractional bits and its tanh, exp,
  // reciprocal and inv_sqrt approximations leave 6e-3 here (measured).
  t.true(c.refMaxAbs > 1, `the float64 output is ${c.refMaxAbs} at most: too small to test against`);
  t.true(c.maxAbsError < 0.03, `CrypTen's output is ${c.maxAbsError} off float64 (bound 0.03)`);
  // The weight openings plus what 8 tokens' activations open (1.21x the weights' alone when measured).
  t.true(c.bytes >= WEIGHT_OPENINGS && c.bytes < 1.3 * WEIGHT_OPENINGS, `CrypTen sent ${c.bytes} bytes; the weight openings alone are ${WEIGHT_OPENINGS}`);
  t.true(c.rounds >= 100 && c.rounds < 400, `CrypTen took ${c.rounds} rounds`);
});
