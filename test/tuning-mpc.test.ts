/**
 * The MPC evaluator against the plaintext one on a tiny seeded model: same prompts, same batches, logits
 * within the MPC error; and the whole tuning loop run both ways with the same seed.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../ts/model/config.js';
import { writeTinyModel } from '../ts/model/tiny.js';
import { loadDataset, sampleFewShot } from '../ts/tuning/data.js';
import { MpcEvaluator } from '../ts/tuning/mpc-evaluator.js';
import { runTune } from '../ts/tuning/loop.js';
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
    // The MPC GELU is a piecewise polynomial (≤ 3e-3 from erf-GELU) and fixed point adds ulps per step.
    t.true(maxErr < 0.05, `max |logit error| ${maxErr}`);
    t.true(agree >= 0.9 * (got.length / 2), `argmax agreement ${agree}/${got.length / 2}`);
    const m = mpc.meter();
    t.true(m.bytes > 0 && m.rounds > 0);
  } finally {
    await plain.close();
    await mpc.close();
  }
});

test('the same seed tunes the same way in plaintext and under MPC: losses track, same prompt, same accuracy', async (t) => {
  writeTinyModel(join(root, 'bert-loop'), { arch: 'bert', seed: 5, layers: 1, hidden: 16, heads: 2 });
  const model = loadModel(join(root, 'bert-loop'));
  const task = resolveTask('sst2');
  const ds = loadDataset(join(process.cwd(), 'test', 'fixtures', 'sentiment.jsonl'), { labels: task.labels });
  const split = sampleFewShot(ds.examples, { shots: 4, devShots: 4, numLabels: 2, seed: 1 });
  const enc = (xs: typeof split.train) => encodeExamples(model.tokenizer, task, xs, { seqLen: 20, promptLength: 2 });
  const batches = { train: enc(split.train), dev: enc(split.dev) };
  const rfa = { features: 16 };
  const run = async (evaluator: PlainEvaluator | MpcEvaluator) => {
    try {
      return await runTune({
        evaluator,
        labels: { train: batches.train.labels, dev: batches.dev.labels },
        dim: 6, popsize: 4, sigma0: 3, budget: 4 * 6, evalEvery: 2, seed: 7,
      });
    } finally {
      await evaluator.close();
    }
  };
  const plain = await run(await PlainEvaluator.create({ model, task, batches, attention: 'rfa', rfa }));
  // CMA-ES ranks candidates by loss, so two candidates whose plaintext losses differ by less than the MPC
  // error (~1e-3 here) may swap, and from there the paths differ. sigma0 = 3 spreads the candidates (smallest
  // gap between two losses of a generation, plaintext: 1.4e-3, against 1.8e-4 at sigma0 = 1, where a random
  // session swapped a pair about one run in three). The session is pinned as the CLI pins it (a run nonce and
  // a dealer key), so the run is reproducible: a failure here is a change in the MPC numbers, not bad luck.
  const pinned = { nonce: new Uint8Array(32).fill(7), dealerKey: new Uint8Array(32).fill(9) };
  const mpc = await run(await MpcEvaluator.create({ model, task, batches, attention: 'rfa', rfa, ...pinned }));
  t.is(mpc.history.length, plain.history.length);
  for (const [i, h] of mpc.history.entries()) {
    const p = plain.history[i]!;
    // Per-generation mean cross-entropy: the MPC logits are within ~1e-2 of float64 (test above), so the
    // losses agree to a few 1e-3; the ranking of candidates, hence CMA-ES's path, is then the same.
    t.true(Math.abs(h.meanLoss - p.meanLoss) < 0.01, `generation ${h.generation}: mean loss MPC ${h.meanLoss} vs plaintext ${p.meanLoss}`);
    t.true(Math.abs(h.bestLoss - p.bestLoss) < 0.01, `generation ${h.generation}: best loss MPC ${h.bestLoss} vs plaintext ${p.bestLoss}`);
    t.is(h.sigma, p.sigma, `generation ${h.generation}: step size`);
  }
  t.deepEqual(mpc.best?.z, plain.best?.z);
  t.is(mpc.best?.dev?.metric, plain.best?.dev?.metric);
});
