import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecpError } from '../bindings/errors.js';
import { loadModel, type LoadedModel } from '../ts/model/config.js';
import { writeTinyModel } from '../ts/model/tiny.js';
import { loadDataset, sampleFewShot } from '../ts/tuning/data.js';
import type { Evaluator, Split } from '../ts/tuning/evaluator.js';
import { startTuning } from '../ts/tuning/job.js';
import { runTune, tune, type TuneEvent, type TuneOptions, type TuneResult } from '../ts/tuning/loop.js';
import { PlainEvaluator } from '../ts/tuning/plain-evaluator.js';
import { encodeExamples, resolveTask } from '../ts/tuning/task.js';

const root = mkdtempSync(join(tmpdir(), 'secp-loop-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));
let fileNo = 0;
const tmpFile = (name: string) => join(root, `${fileNo++}-${name}`);

/**
 * A fast stand-in model: example b has a fixed feature vector x_b (length D); logits are [-s, s] with
 * s = tanh(p·x_b) + bias_b, so some prompts classify the batch well and the loss surface is smooth.
 * It records every call and meters made-up traffic.
 */
class FakeEvaluator implements Evaluator {
  readonly promptLength = 2;
  readonly hidden = 3;
  readonly numLabels = 2;
  readonly calls: { split: Split; candidates: number }[] = [];
  private bytes = 0;
  constructor(private readonly sizes: Record<Split, number>) {}
  batchSize(split: Split) {
    return this.sizes[split];
  }
  label(split: Split, b: number) {
    return (b + (split === 'dev' ? 1 : 0)) % 2;
  }
  async evaluate(prompts: readonly Float64Array[], split: Split) {
    this.calls.push({ split, candidates: prompts.length });
    this.bytes += 1000 * prompts.length;
    const B = this.sizes[split];
    const out = new Float64Array(prompts.length * B * 2);
    prompts.forEach((p, c) => {
      for (let b = 0; b < B; b++) {
        let s = 0;
        for (let i = 0; i < p.length; i++) s += p[i]! * Math.sin(1 + b * 13 + i * 5 + (split === 'train' ? 0 : 100)) * (this.label(split, b) ? 1 : -1);
        const v = Math.tanh(3 * s) + 0.3 * Math.cos(b);
        out[(c * B + b) * 2] = -v;
        out[(c * B + b) * 2 + 1] = v;
      }
    });
    return out;
  }
  meter() {
    return { bytes: this.bytes, rounds: this.calls.length * 7 };
  }
  describe() {
    return { evaluator: 'fake', sizes: this.sizes };
  }
}

function fakeOptions(extra: Partial<TuneOptions> = {}): TuneOptions & { evaluator: FakeEvaluator } {
  const sizes = { train: 8, dev: 6, test: 10 };
  const ev = new FakeEvaluator(sizes);
  const labels = (split: Split) => Array.from({ length: sizes[split] }, (_, b) => ev.label(split, b));
  return {
    evaluator: ev,
    labels: { train: labels('train'), dev: labels('dev'), test: labels('test') },
    dim: 5,
    popsize: 6,
    budget: 60,
    evalEvery: 3,
    seed: 4,
    ...extra,
  } as TuneOptions & { evaluator: FakeEvaluator };
}

async function collect(options: TuneOptions): Promise<TuneEvent[]> {
  const events: TuneEvent[] = [];
  for await (const e of tune(options)) events.push(e);
  return events;
}

const sameBits = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  a.length === b.length && Array.from(a).every((v, i) => Object.is(v, b[i]));

test('one evaluator call per generation for all candidates; dev every evalEvery and at the end; test once', async (t) => {
  const o = fakeOptions();
  const events = await collect(o);
  const gens = events.filter((e) => e.type === 'generation');
  t.is(gens.length, 10); // budget 60 / popsize 6
  const calls = o.evaluator.calls;
  t.deepEqual(calls[0], { split: 'dev', candidates: 1 }); // the initial prompt z = 0
  t.deepEqual(
    calls.filter((c) => c.split === 'train'),
    new Array(10).fill({ split: 'train', candidates: 6 }),
  );
  // Dev at generations 3, 6, 9 and the last (10), each for [best candidate, mean].
  t.deepEqual(
    gens.filter((e) => e.type === 'generation' && e.dev !== null).map((e) => (e as { generation: number }).generation),
    [3, 6, 9, 10],
  );
  t.is(calls.filter((c) => c.split === 'dev').length, 5);
  t.true(calls.filter((c) => c.split === 'dev').slice(1).every((c) => c.candidates === 2));
  t.deepEqual(calls.at(-1), { split: 'test', candidates: 1 });
  const done = events.at(-1)!;
  t.is(done.type, 'done');
  const r = (done as { result: TuneResult }).result;
  t.is(r.reason, 'budget');
  t.true(r.complete);
  t.is(r.generations, 10);
  t.is(r.forwardCalls, 60);
  t.is(r.evaluatorCalls, calls.length);
  t.is(r.history.length, 10);
  t.not(r.test, null);
  t.is(r.bytes, o.evaluator.meter().bytes);
  t.is(r.rounds, o.evaluator.meter().rounds);
  const g1 = gens[0]!;
  if (g1.type === 'generation') {
    t.is(g1.forwardCalls, 6);
    t.is(g1.totalGenerations, 10);
    t.true(g1.bytes! > 0);
    t.true(g1.loss.best <= g1.loss.mean && g1.loss.mean <= g1.loss.worst);
  }
  // The best prompt is the best dev score seen, and the test score is for that prompt.
  const devScores = gens.flatMap((e) => (e.type === 'generation' && e.dev ? [e.dev.metric] : []));
  t.is(r.best!.dev!.metric, Math.max(r.initial!.metric, ...devScores));
  const start = events[0]!;
  t.is(start.type, 'start');
});

test('the fake problem is learnable: the loss goes down', async (t) => {
  const r = await runTune(fakeOptions({ budget: 300 }));
  t.true(r.history.at(-1)!.bestLoss < r.history[0]!.meanLoss * 0.8, JSON.stringify(r.history.map((h) => h.bestLoss)));
});

test('stop reasons: maxGenerations, patience, converged-free budget; no dev split selects by train loss', async (t) => {
  t.is((await runTune(fakeOptions({ maxGenerations: 2 }))).reason, 'maxGenerations');
  const p = await runTune(fakeOptions({ budget: 6000, patience: 6, evalEvery: 1 }));
  t.is(p.reason, 'patience');
  t.is(p.generations - p.best!.generation, 6);
  const o = fakeOptions({ maxGenerations: 4, evalInitial: false });
  delete (o.labels as { dev?: unknown }).dev;
  const r = await runTune(o);
  t.true(o.evaluator.calls.every((c) => c.split !== 'dev'));
  t.is(r.best!.source, 'candidate');
  t.is(r.best!.trainLoss, Math.min(...r.history.map((h) => h.bestLoss)));
  t.is(r.best!.dev, null);
});

test('options are validated once, naming the option and its range', async (t) => {
  const msg = async (extra: Record<string, unknown>) =>
    (await t.throwsAsync(runTune(fakeOptions(extra as Partial<TuneOptions>)), { instanceOf: SecpError }))?.message;
  t.is(await msg({ popsize: 1 }), 'popsize must be an integer in 2..100000, got 1');
  t.is(await msg({ budget: 5 }), 'budget must be an integer >= 6, got 5');
  t.is(await msg({ sigma0: -1 }), 'sigma0 must be a finite number > 0, got -1');
  t.is(await msg({ loss: 'mse' }), `loss must be one of 'ce', 'hinge', got "mse"`);
  t.is(await msg({ bound: -1 }), 'bound must be a finite number >= 0 (0 = unbounded), got -1');
  t.is(await msg({ projectionStd: 0.1 }), "projectionStd applies to projection 'normal' only");
  t.is(await msg({ projection: 'normal', projectionStd: 'embedding' }), "projectionStd 'embedding' needs an evaluator that reports embeddingStd");
  t.is(await msg({ metric: 'f1', evaluator: Object.assign(new FakeEvaluator({ train: 8, dev: 6, test: 10 }), { numLabels: 3 }) }), "metric 'f1' needs a binary task; the evaluator has 3 labels");
  t.is(await msg({ labels: { train: [0, 1] } }), "labels.train has 2 labels but the evaluator's train batch has 8 examples");
  t.is(await msg({ resume: true }), 'resume needs checkpoint (the file to continue)');
  t.regex((await msg({ popSize: 3 }))!, /^unknown tune option 'popSize'; accepted: evaluator, labels, seed/);
});

/** Runs to the end, or breaks after `stopAfter` generation events. */
async function runFor(options: TuneOptions, stopAfter = Infinity): Promise<TuneResult | null> {
  let gens = 0;
  for await (const e of tune(options)) {
    if (e.type === 'done') return e.result;
    if (e.type === 'generation' && ++gens >= stopAfter) return null;
  }
  return null;
}

function assertSameRun(t: import('ava').ExecutionContext, a: TuneResult, b: TuneResult) {
  t.true(sameBits(a.best!.z, b.best!.z), 'best z bit for bit');
  t.deepEqual(
    a.history.map((h) => [h.bestLoss, h.meanLoss, h.trainAccuracy, h.devMetric, h.sigma]),
    b.history.map((h) => [h.bestLoss, h.meanLoss, h.trainAccuracy, h.devMetric, h.sigma]),
  );
  t.true(a.history.every((h, i) => Object.is(h.bestLoss, b.history[i]!.bestLoss) && Object.is(h.sigma, b.history[i]!.sigma)));
  t.deepEqual(a.test, b.test);
  t.deepEqual(a.best!.dev, b.best!.dev);
  t.is(a.best!.generation, b.best!.generation);
  t.is(a.forwardCalls, b.forwardCalls);
  t.is(a.evaluatorCalls, b.evaluatorCalls);
  t.is(a.reason, b.reason);
}

test('checkpoint + resume (fake evaluator): stop after k generations, resume, same final z and losses bit for bit', async (t) => {
  const full = await runFor({ ...fakeOptions(), checkpoint: tmpFile('full.json') });
  for (const k of [1, 3, 9]) {
    const cp = tmpFile(`part-${k}.json`);
    t.is(await runFor({ ...fakeOptions(), checkpoint: cp }, k), null);
    const saved = JSON.parse(readFileSync(cp, 'utf8'));
    t.is(saved.status, 'running');
    t.is(saved.progress.generation, k);
    const resumed = await runFor({ ...fakeOptions(), checkpoint: cp, resume: true });
    assertSameRun(t, resumed!, full!);
    t.is(JSON.parse(readFileSync(cp, 'utf8')).status, 'finished');
    // Resuming a finished run returns its result without evaluating anything.
    const o = fakeOptions();
    const again = await runFor({ ...o, checkpoint: cp, resume: true });
    t.is(o.evaluator.calls.length, 0);
    assertSameRun(t, again!, full!);
  }
});

test('an abort signal stops between generations and the run resumes to the same result', async (t) => {
  const full = await runTune(fakeOptions());
  const cp = tmpFile('abort.json');
  const ac = new AbortController();
  const partial = await runTune({ ...fakeOptions(), checkpoint: cp, signal: ac.signal }, (e) => {
    if (e.type === 'generation' && e.generation === 4) ac.abort();
  });
  t.is(partial.reason, 'aborted');
  t.false(partial.complete);
  t.is(partial.generations, 4);
  t.is(partial.test, null);
  assertSameRun(t, (await runTune({ ...fakeOptions(), checkpoint: cp, resume: true }))!, full);
});

test('resume refuses different settings or data, naming the first difference; a new run refuses to overwrite', async (t) => {
  const cp = tmpFile('mismatch.json');
  await runFor({ ...fakeOptions(), checkpoint: cp }, 2);
  const e1 = await t.throwsAsync(runTune({ ...fakeOptions({ popsize: 8 }), checkpoint: cp, resume: true }), { instanceOf: SecpError });
  t.is(e1?.code, 'ERR_RESUME_MISMATCH');
  t.is(
    e1?.message,
    `cannot resume ${cp}: this run differs from the checkpoint at options.popsize: 6 vs 8 (checkpoint vs now); ` +
      'resume with the same settings, model and data, or start a new run',
  );
  const o = fakeOptions();
  (o.labels.train as number[])[0] = 1 - (o.labels.train as number[])[0]!;
  t.regex((await t.throwsAsync(runTune({ ...o, checkpoint: cp, resume: true })))!.message, /at data\.labels\.train: /);
  const e2 = await t.throwsAsync(runTune({ ...fakeOptions(), checkpoint: cp }), { instanceOf: SecpError });
  t.is(e2?.message, `checkpoint ${cp} already exists; resume it, choose another file, or allow overwrite`);
  t.is((await runTune({ ...fakeOptions({ maxGenerations: 1 }), checkpoint: cp, overwrite: true })).generations, 1);
  const missing = tmpFile('none.json');
  t.is((await t.throwsAsync(runTune({ ...fakeOptions(), checkpoint: missing, resume: true })))?.message, `no checkpoint at ${missing} to resume; start a new run without resume`);
  writeFileSync(missing, '{"format":"other"}');
  t.regex((await t.throwsAsync(runTune({ ...fakeOptions(), checkpoint: missing, resume: true })))!.message, /is not a secp-tuning run checkpoint/);
  t.false(existsSync(`${cp}.tmp-${process.pid}`));
});

// --- the real plaintext forward on a tiny model ---

let tinyModel: LoadedModel | undefined;
function tinySetup() {
  if (!tinyModel) {
    writeTinyModel(join(root, 'tiny'), { arch: 'bert', seed: 5, layers: 2, hidden: 32, heads: 4 });
    tinyModel = loadModel(join(root, 'tiny'));
  }
  const model = tinyModel;
  const task = resolveTask('sst2');
  const ds = loadDataset(join(process.cwd(), 'test', 'fixtures', 'sentiment.csv'), { labels: task.labels });
  const { train, dev } = sampleFewShot(ds.examples, { shots: 8, devShots: 4, numLabels: 2, seed: 1 });
  const enc = { seqLen: 24, promptLength: 4 };
  const batches = {
    train: encodeExamples(model.tokenizer, task, train, enc),
    dev: encodeExamples(model.tokenizer, task, dev, enc),
  };
  return { model, task, batches };
}

async function tinyOptions(extra: Partial<TuneOptions> = {}): Promise<TuneOptions> {
  const { model, task, batches } = tinySetup();
  const evaluator = await PlainEvaluator.create({ model, task, batches, attention: 'rfa', rfa: { features: 16 } });
  return {
    evaluator,
    labels: { train: batches.train.labels, dev: batches.dev.labels },
    dim: 16,
    popsize: 8,
    sigma0: 1,
    budget: 8 * 12,
    evalEvery: 4,
    seed: 3,
    ...extra,
  };
}

test('CMA-ES over a tiny plaintext model reduces the training loss', async (t) => {
  const r = await runTune(await tinyOptions());
  const first = r.history[0]!;
  const bestLate = Math.min(...r.history.slice(-4).map((h) => h.bestLoss));
  t.true(bestLate < first.meanLoss, `first mean ${first.meanLoss}, late best ${bestLate}`);
  t.true(bestLate < first.bestLoss, `first best ${first.bestLoss}, late best ${bestLate}`);
  t.is(r.forwardCalls, 96);
});

test('checkpoint + resume on the tiny plaintext model: same final z and losses bit for bit', async (t) => {
  const full = await runFor({ ...(await tinyOptions()), checkpoint: tmpFile('tiny-full.json') });
  const cp = tmpFile('tiny-part.json');
  t.is(await runFor({ ...(await tinyOptions()), checkpoint: cp }, 5), null);
  const resumed = await runFor({ ...(await tinyOptions()), checkpoint: cp, resume: true });
  assertSameRun(t, resumed!, full!);
  // A different attention is a different evaluator: refused.
  const { model, task, batches } = tinySetup();
  const softmax = await PlainEvaluator.create({ model, task, batches, attention: 'softmax' });
  const e = await t.throwsAsync(runTune({ ...(await tinyOptions()), evaluator: softmax, checkpoint: cp, resume: true }));
  t.regex(e!.message, /at evaluator\.description\.attention: "rfa" vs "softmax"/);
});

test('TuningJob: emits start, every generation and done, and resolves the same result as runTune', async (t) => {
  const expected = await runTune(fakeOptions());
  const job = startTuning(fakeOptions());
  const seen: string[] = [];
  job.on('start', (e) => seen.push(`start ${e.generation}`));
  job.on('generation', (e) => seen.push(`generation ${e.generation}`));
  job.on('done', (e) => seen.push(`done ${e.result.reason}`));
  const result = await job.result;
  t.deepEqual(seen, ['start 0', ...Array.from({ length: 10 }, (_, i) => `generation ${i + 1}`), 'done budget']);
  assertSameRun(t, result, expected);
  t.is(job.last?.generation, 10);
});

test('TuningJob: cancel() stops between generations with a resumable checkpoint; the caller\'s signal aborts too', async (t) => {
  const cp = tmpFile('job-cancel.json');
  const job = startTuning(fakeOptions({ checkpoint: cp }));
  job.on('generation', (e) => {
    if (e.generation === 3) job.cancel();
  });
  const stopped = await job.result;
  t.is(stopped.reason, 'aborted');
  t.false(stopped.complete);
  t.is(stopped.generations, 3);
  const resumed = await startTuning(fakeOptions({ checkpoint: cp, resume: true })).result;
  assertSameRun(t, resumed, await runTune(fakeOptions()));
  const outer = new AbortController();
  outer.abort();
  t.is((await startTuning(fakeOptions({ signal: outer.signal })).result).generations, 0);
});

test('TuningJob: a failing run rejects result and emits error', async (t) => {
  const job = startTuning(fakeOptions({ popsize: 1 }));
  const errors: unknown[] = [];
  job.on('error', (e) => errors.push(e));
  const err = await t.throwsAsync(job.result);
  t.regex(err!.message, /popsize must be an integer in 2\.\.100000/);
  t.is(errors[0], err);
});
