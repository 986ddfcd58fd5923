import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecpError } from '../bindings/errors.js';
import { loadModel, type LoadedModel } from '../ts/model/config.js';
import { PlainEncoder, labelLogits, meanPool } from '../ts/model/plain.js';
import { writeTinyModel } from '../ts/model/tiny.js';
import { loadDataset, sampleFewShot } from '../ts/tuning/data.js';
import { PlainEvaluator } from '../ts/tuning/plain-evaluator.js';
import { linear } from '../ts/model/plain.js';
import { encodeExamples, labelWordIds, resolveTask, type ResolvedTask } from '../ts/tuning/task.js';
import { naiveLinear } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'secp-plain-eval-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));
const dirs = new Map<string, string>();
function tinyDir(arch: 'bert' | 'roberta', mlmHead = true): string {
  const key = `${arch}-${mlmHead}`;
  if (!dirs.has(key)) {
    writeTinyModel(join(root, key), { arch, seed: 11, mlmHead, layers: 2, hidden: 32, heads: 4 });
    dirs.set(key, join(root, key));
  }
  return dirs.get(key)!;
}

const sameBits = (a: Float64Array, b: Float64Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

function batches(model: LoadedModel, task: ResolvedTask, P = 3, seqLen = 24) {
  const ds = loadDataset(join(process.cwd(), 'test', 'fixtures', 'sentiment.jsonl'), { labels: task.labels });
  const { train, dev } = sampleFewShot(ds.examples, { shots: 3, devShots: 2, numLabels: 2, seed: 0 });
  const enc = { seqLen, promptLength: P };
  return { train: encodeExamples(model.tokenizer, task, train, enc), dev: encodeExamples(model.tokenizer, task, dev, enc) };
}

const prompts = (count: number, D: number, scale = 0.5) =>
  Array.from({ length: count }, (_, c) => Float64Array.from({ length: D }, (_, i) => scale * Math.sin(1 + c * 7 + i)));


test('plain.ts linear (blocked) is bit-identical to the naive loop for every row/column remainder', (t) => {
  for (const [rows, inDim, outDim] of [[1, 3, 1], [4, 8, 2], [7, 5, 3], [9, 16, 5], [12, 32, 64]] as const) {
    const x = Float64Array.from({ length: rows * inDim }, (_, i) => Math.sin(i * 1.3) * 3);
    const w = Float32Array.from({ length: outDim * inDim }, (_, i) => Math.cos(i * 0.7));
    const b = Float32Array.from({ length: outDim }, (_, i) => i / 7);
    t.true(sameBits(linear(x, rows, inDim, w, b), naiveLinear(x, rows, inDim, w, b)), `${rows}x${inDim}x${outDim}`);
  }
});

test('PlainEvaluator (mlm): C × B × labels logits equal to PlainEncoder + mlmLogits', async (t) => {
  const model = loadModel(tinyDir('bert'));
  const task = resolveTask('sst2');
  const bs = batches(model, task);
  const ev = await PlainEvaluator.create({ model, task, batches: bs, attention: 'rfa', rfa: { features: 16 }, promptMode: 'add' });
  t.is(ev.promptLength, 3);
  t.is(ev.hidden, 32);
  t.is(ev.numLabels, 2);
  t.is(ev.batchSize('train'), 6);
  t.is(ev.batchSize('dev'), 4);
  t.is(ev.batchSize('test'), 0);
  t.true(ev.embeddingStd > 0);
  const ps = prompts(3, 3 * 32);
  const logits = await ev.evaluate(ps, 'dev');
  t.is(logits.length, 3 * 4 * 2);
  const ref = new PlainEncoder(model, { attention: 'rfa', rfa: { features: 16 } });
  const ids = labelWordIds(model.tokenizer, task);
  const n = bs.dev.seqLen;
  for (let c = 0; c < 3; c++) {
    for (let b = 0; b < 4; b++) {
      const h = ref.forward({
        ids: bs.dev.ids.subarray(b * n, (b + 1) * n),
        typeIds: bs.dev.typeIds.subarray(b * n, (b + 1) * n),
        attentionMask: bs.dev.attentionMask.subarray(b * n, (b + 1) * n),
        prompt: { start: 1, embeddings: ps[c]!, mode: 'add' },
      });
      const want = ref.mlmLogits(h, bs.dev.maskPos[b]!, ids);
      t.true(sameBits(logits.subarray((c * 4 + b) * 2, (c * 4 + b + 1) * 2), want), `c${c} b${b}`);
    }
  }
  const d = ev.describe();
  t.is(d['evaluator'], 'plaintext');
  t.is(d['attention'], 'rfa');
  t.regex((d['model'] as { weightsSha256: string }).weightsSha256, /^[0-9a-f]{64}$/);
  await ev.close();
});

test('PlainEvaluator (pooled, no MLM head): logits = scale × cosine with the embedded label texts', async (t) => {
  const model = loadModel(tinyDir('bert', false));
  t.false(model.hasMlmHead);
  const task = resolveTask('sst2', { kind: 'pooled', labelTexts: ['bad movie', 'great movie'] });
  const bs = batches(model, task);
  const ev = await PlainEvaluator.create({ model, task, batches: bs, attention: 'softmax', logitScale: 10, promptMode: 'replace' });
  const ps = prompts(2, 3 * 32);
  const logits = await ev.evaluate(ps, 'train');
  const ref = new PlainEncoder(model);
  const H = 32;
  const labelEmb = new Float64Array(2 * H);
  ['bad movie', 'great movie'].forEach((text, l) => {
    const e = model.tokenizer.encode(text);
    labelEmb.set(meanPool(ref.forward(e), H, e.attentionMask, true), l * H);
  });
  const n = bs.train.seqLen;
  for (let c = 0; c < 2; c++) {
    for (let b = 0; b < 6; b++) {
      const mask = bs.train.attentionMask.subarray(b * n, (b + 1) * n);
      const h = ref.forward({
        ids: bs.train.ids.subarray(b * n, (b + 1) * n),
        typeIds: bs.train.typeIds.subarray(b * n, (b + 1) * n),
        attentionMask: mask,
        prompt: { start: 1, embeddings: ps[c]!, mode: 'replace' },
      });
      const want = labelLogits(meanPool(h, H, mask), labelEmb, 'cosine').map((v) => v * 10);
      t.true(sameBits(logits.subarray((c * 6 + b) * 2, (c * 6 + b + 1) * 2), want));
    }
  }
  await t.throwsAsync(
    PlainEvaluator.create({ model, task: resolveTask('sst2'), batches: batches(model, resolveTask('sst2')) }),
    { instanceOf: SecpError, message: 'the model has no MLM head (a BertModel checkpoint); use the pooled kind' },
  );
});

test('worker threads give the same logits bit for bit', async (t) => {
  const dir = tinyDir('roberta');
  const model = loadModel(dir);
  const task = resolveTask('sst2');
  const bs = batches(model, task);
  const one = await PlainEvaluator.create({ model: dir, task, batches: bs, threads: 1 });
  const three = await PlainEvaluator.create({ model, modelDir: dir, task, batches: bs, threads: 3 });
  try {
    const ps = prompts(5, 3 * 32);
    t.true(sameBits(await three.evaluate(ps, 'train'), await one.evaluate(ps, 'train')));
    t.true(sameBits(await three.evaluate(ps.slice(0, 1), 'dev'), await one.evaluate(ps.slice(0, 1), 'dev')));
    t.deepEqual(three.describe(), one.describe());
  } finally {
    await one.close();
    await three.close();
  }
});

test('PlainEvaluator validates its options and inputs', async (t) => {
  const model = loadModel(tinyDir('bert'));
  const task = resolveTask('sst2');
  const bs = batches(model, task);
  await t.throwsAsync(PlainEvaluator.create({ model, task, batches: bs, attention: 'linear' as 'rfa' }), {
    message: `attention must be 'softmax' or 'rfa', got "linear"`,
  });
  await t.throwsAsync(PlainEvaluator.create({ model, task, batches: bs, threads: 2 }), {
    message: 'threads > 1 needs the model folder (model as a path, or modelDir)',
  });
  await t.throwsAsync(PlainEvaluator.create({ model, task, batches: { train: bs.train, dev: batches(model, task, 4).dev } }), {
    message: 'batches.dev has 4 prompt slots at 1, train has 3 at 1',
  });
  const ev = await PlainEvaluator.create({ model, task, batches: bs });
  await t.throwsAsync(ev.evaluate([new Float64Array(5)], 'train'), {
    instanceOf: SecpError,
    message: 'prompt 0 must be a Float64Array of 3×32 = 96 values',
  });
  await t.throwsAsync(ev.evaluate(prompts(1, 96), 'test'), { message: 'this evaluator has no test split' });
});
