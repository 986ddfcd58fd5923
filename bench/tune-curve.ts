/**
 * Calls to accuracy, in plaintext float64 on real data: one CMA-ES tuning run (ts/tuning/loop.ts) on few-shot
 * splits of the Rotten Tomatoes training file, dev accuracy against forward calls, and the accuracy of the
 * untuned and the tuned prompt on a held-out test subsample (never the dev set), each beside the majority-class
 * baseline of the same examples.
 *
 *   npm run tune-curve -- --name NAME [--model DIR] [--kind pooled|mlm] [--attention softmax|rfa] [--rfa-features D]
 *     [--shots N] [--dev-shots N] [--test N] [--seq-len N] [--prompt-length P] [--init TEXT]
 *     [--dim d] [--popsize N] [--budget CALLS] [--sigma0 S] [--projection uniform|normal]
 *     [--projection-std X|embedding] [--eval-every G] [--patience G] [--seed S] [--threads T] [--mpc]
 *
 * --mpc tunes with the private forward (ts/tuning/mpc-evaluator.ts, all roles in this process) on the train and
 * dev splits; the untuned and tuned prompts' test scores still come from the plaintext forward (the data owner
 * scoring its selected prompt in the clear, as `tune --test-plaintext` does).
 * The test subsample is seeded by 0 whatever --seed is (the same 1,000 examples as `npm run accuracy`), the
 * few-shot splits by --seed. --init TEXT puts the word pieces of TEXT in the prompt slots (promptInitIds).
 * Writes bench/results/tuning/NAME.json (settings, the curve, test scores, wall times).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModel } from '../ts/model/config.js';
import { loadDataset, sampleFewShot, subsample } from '../ts/tuning/data.js';
import { projectionOf, runTune, type TuneOptions } from '../ts/tuning/loop.js';
import { accuracy } from '../ts/tuning/losses.js';
import { MpcEvaluator } from '../ts/tuning/mpc-evaluator.js';
import { PlainEvaluator } from '../ts/tuning/plain-evaluator.js';
import { encodeExamples, promptInitIds, resolveTask } from '../ts/tuning/task.js';

const { values: a } = parseArgs({
  options: {
    name: { type: 'string' },
    model: { type: 'string', default: '.cache/models/all-MiniLM-L6-v2' },
    kind: { type: 'string', default: 'pooled' },
    attention: { type: 'string', default: 'softmax' },
    'rfa-features': { type: 'string', default: '64' },
    data: { type: 'string', default: '.cache/data/rotten_tomatoes' },
    shots: { type: 'string', default: '16' },
    'dev-shots': { type: 'string', default: '50' },
    test: { type: 'string', default: '1000' },
    'seq-len': { type: 'string', default: '32' },
    'prompt-length': { type: 'string', default: '4' },
    init: { type: 'string' },
    dim: { type: 'string', default: '500' },
    popsize: { type: 'string', default: '20' },
    budget: { type: 'string', default: '400' },
    sigma0: { type: 'string', default: '0.5' },
    projection: { type: 'string', default: 'uniform' },
    'projection-std': { type: 'string' },
    'eval-every': { type: 'string', default: '5' },
    patience: { type: 'string', default: '0' },
    seed: { type: 'string', default: '0' },
    threads: { type: 'string', default: '2' },
    mpc: { type: 'boolean', default: false },
  },
});
if (a.name === undefined) throw new Error('--name is required (the result file name)');
const t0 = performance.now();
const kind = a.kind === 'mlm' ? 'mlm' : 'pooled';
const task = resolveTask('sst2', { kind });
const model = loadModel(a.model!);
const trainSet = loadDataset(`${a.data}/train.jsonl`, { labels: task.labels });
const testSet = loadDataset(`${a.data}/test.jsonl`, { labels: task.labels });
const seed = Number(a.seed);
const { train, dev } = sampleFewShot(trainSet.examples, { shots: Number(a.shots), devShots: Number(a['dev-shots']), numLabels: 2, seed });
const test = subsample(testSet.examples, Number(a.test), 0);
const P = Number(a['prompt-length']);
const enc = {
  seqLen: Number(a['seq-len']),
  promptLength: P,
  ...(a.init !== undefined ? { placeholderIds: promptInitIds(model.tokenizer, a.init, P) } : {}),
};
const batches = {
  train: encodeExamples(model.tokenizer, task, train, enc),
  dev: encodeExamples(model.tokenizer, task, dev, enc),
  test: encodeExamples(model.tokenizer, task, test, enc),
};
const majorityOf = (labels: Int32Array) => {
  const pos = labels.reduce((s, l) => s + l, 0);
  return Math.max(pos, labels.length - pos) / labels.length;
};
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const attention = a.attention === 'rfa' ? 'rfa' : 'softmax';
const ev = await PlainEvaluator.create({
  model,
  modelDir: resolve(a.model!),
  task,
  batches,
  attention,
  ...(attention === 'rfa' ? { rfa: { features: Number(a['rfa-features']) } } : {}),
  threads: Number(a.threads),
});
const settings = {
  model: a.model, kind, attention, ...(attention === 'rfa' ? { rfaFeatures: Number(a['rfa-features']) } : {}),
  shots: Number(a.shots), devShots: Number(a['dev-shots']), test: test.length, seqLen: enc.seqLen, promptLength: P,
  init: a.init ?? null, dim: Number(a.dim), popsize: Number(a.popsize), budget: Number(a.budget), sigma0: Number(a.sigma0),
  projection: a.projection, projectionStd: a['projection-std'] ?? null, evalEvery: Number(a['eval-every']),
  patience: Number(a.patience), seed, mpc: a.mpc === true,
}; // prettier-ignore
console.log(`settings ${JSON.stringify(settings)}`);
console.log(
  `train ${batches.train.size}, dev ${batches.dev.size} (majority ${pct(majorityOf(batches.dev.labels))}), ` +
    `test ${batches.test.size} (majority ${pct(majorityOf(batches.test.labels))}, ${batches.test.truncated} cut to seq ${enc.seqLen})`,
);

const tTest0 = performance.now();
const zero = new Float64Array(P * model.config.hidden);
const untunedTest = accuracy(await ev.evaluate([zero], 'test'), batches.test.labels, 2);
const testSeconds = (performance.now() - tTest0) / 1000;
console.log(`untuned prompt: test ${pct(untunedTest)} (majority ${pct(majorityOf(batches.test.labels))}), ${testSeconds.toFixed(0)} s for the test pass`);

const curve: { calls: number; dev: number }[] = [];
const tTune0 = performance.now();
const tuneEv = a.mpc
  ? await MpcEvaluator.create({ model, task, batches: { train: batches.train, dev: batches.dev }, attention, ...(attention === 'rfa' ? { rfa: { features: Number(a['rfa-features']) } } : {}) })
  : ev;
const opts: TuneOptions = {
  evaluator: tuneEv,
  // No test labels: the loop never sees the test split; it is scored below with the selected z.
  labels: { train: batches.train.labels, dev: batches.dev.labels },
  seed,
  dim: settings.dim,
  popsize: settings.popsize,
  budget: settings.budget,
  sigma0: settings.sigma0,
  projection: settings.projection === 'normal' ? 'normal' : 'uniform',
  ...(settings.projectionStd !== null ? { projectionStd: settings.projectionStd === 'embedding' ? 'embedding' : Number(settings.projectionStd) } : {}),
  evalEvery: settings.evalEvery,
  patience: settings.patience,
};
const result = await runTune(opts, (e) => {
  if (e.type === 'start' && e.initial) {
    curve.push({ calls: 0, dev: e.initial.accuracy });
    console.log(`untuned prompt: dev ${pct(e.initial.accuracy)}`);
  }
  if (e.type === 'generation') {
    if (e.dev) curve.push({ calls: e.forwardCalls, dev: e.dev.accuracy });
    if (e.dev || e.generation % 5 === 0) {
      console.log(
        `gen ${e.generation} calls ${e.forwardCalls}: train loss ${e.loss.best.toFixed(4)} acc ${pct(e.train.accuracy)}` +
          (e.dev ? `, dev ${pct(e.dev.accuracy)} (${e.dev.source})` : '') + `, best dev ${e.best?.dev ? pct(e.best.dev.accuracy) : '-'}, ${(e.elapsedMs / 1000).toFixed(0)} s`,
      );
    }
  }
});
const tuneSeconds = (performance.now() - tTune0) / 1000;
// The private sessions are done: close them before the plaintext test pass (an idle session times out after 60 s).
if (tuneEv !== ev) await tuneEv.close();
const best = result.best!;
const projection = projectionOf(result.options, P * model.config.hidden);
const tunedLogits = await ev.evaluate(projection.project([best.z]), 'test');
const tunedTest = accuracy(tunedLogits, batches.test.labels, 2);
await ev.close();
console.log(
  `tuned (${result.reason}: ${result.detail}; best from generation ${best.generation}, ${best.source}, dev ${best.dev ? pct(best.dev.accuracy) : '-'}): ` +
    `test ${pct(untunedTest)} -> ${pct(tunedTest)} (majority ${pct(majorityOf(batches.test.labels))}); ` +
    `${result.forwardCalls} calls, tuning ${tuneSeconds.toFixed(0)} s, total ${((performance.now() - t0) / 1000).toFixed(0)} s`,
);
mkdirSync('bench/results/tuning', { recursive: true });
const out = `bench/results/tuning/${a.name}.json`;
writeFileSync(out, `${JSON.stringify({
  name: a.name, settings, command: process.argv.slice(2).join(' '),
  train: batches.train.size, dev: batches.dev.size, testN: batches.test.size, testMajority: majorityOf(batches.test.labels),
  devMajority: majorityOf(batches.dev.labels), untunedTest, tunedTest, calls: result.forwardCalls, reason: result.reason,
  best: { generation: best.generation, source: best.source, dev: best.dev?.accuracy ?? null }, initialDev: result.initial?.accuracy ?? null,
  curve, tuneSeconds, testSeconds, totalSeconds: (performance.now() - t0) / 1000, finishedAt: new Date().toISOString(),
}, null, 1)}\n`); // prettier-ignore
console.log(`wrote ${out}`);
