/**
 * Attention fidelity on real data: untuned accuracy of every attention kernel on a labelled file, and its
 * agreement with the model's own softmax attention (argmax agreement, logit error), in plaintext float64.
 *
 *   npm run accuracy -- [--model DIR] [--kind pooled|mlm] [--data FILE] [--examples N] [--seq-len N]
 *                       [--prompt-length P] [--kernels LIST] [--threads T] [--seed S]
 *
 * Defaults: .cache/models/all-MiniLM-L6-v2, pooled head (cosine to the embedded label names), the Rotten
 * Tomatoes test split .cache/data/rotten_tomatoes/test.jsonl, 1000 examples (a seeded subsample), seq 32,
 * prompt length 4 (the untuned prompt: the placeholder slots with a zero prompt added, where tuning starts),
 * 2 worker threads. --kind mlm uses the task's template "<prompt> . <text> . It was [MASK] ." and the
 * verbalizer bad/great (needs a model with an MLM head, e.g. .cache/models/bert-base-uncased).
 *
 * --kernels is a comma list of softmax | normalized:D[:tau] | exp:D, e.g. "normalized:64:1,exp:256,exp:1024"
 * (softmax is always run: it is the reference). Every accuracy is printed beside the majority-class
 * baseline of the same examples. Logit errors are on the evaluator's logits (pooled: 20 × cosine).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModel } from '../ts/model/config.js';
import type { RfaOptions } from '../ts/model/plain.js';
import { loadDataset, subsample } from '../ts/tuning/data.js';
import { accuracy, predictions } from '../ts/tuning/losses.js';
import { PlainEvaluator } from '../ts/tuning/plain-evaluator.js';
import { encodeExamples, resolveTask } from '../ts/tuning/task.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: '.cache/models/all-MiniLM-L6-v2' },
    kind: { type: 'string', default: 'pooled' },
    data: { type: 'string', default: '.cache/data/rotten_tomatoes/test.jsonl' },
    examples: { type: 'string', default: '1000' },
    'seq-len': { type: 'string', default: '32' },
    'prompt-length': { type: 'string', default: '4' },
    kernels: { type: 'string', default: 'normalized:64:1,exp:256,exp:1024' },
    threads: { type: 'string', default: '2' },
    seed: { type: 'string', default: '0' },
  },
});

interface Kernel {
  name: string;
  attention: 'softmax' | 'rfa';
  rfa?: RfaOptions;
}

function parseKernel(s: string): Kernel {
  const [kind, d, tau] = s.split(':');
  if (kind === 'softmax') return { name: 'softmax', attention: 'softmax' };
  if ((kind === 'normalized' || kind === 'exp') && d !== undefined && Number.isSafeInteger(Number(d))) {
    const rfa: RfaOptions = { kernel: kind, features: Number(d), ...(tau !== undefined ? { tau: Number(tau) } : {}) };
    return { name: `rfa ${kind} D=${d}${tau !== undefined ? ` τ=${tau}` : ''}`, attention: 'rfa', rfa };
  }
  throw new Error(`--kernels: cannot read ${JSON.stringify(s)} (softmax | normalized:D[:tau] | exp:D)`);
}

for (const p of [args.model, args.data]) {
  if (!existsSync(p)) throw new Error(`${p} is missing: run scripts/fetch-assets.sh`);
}
const kind = args.kind === 'mlm' ? 'mlm' : 'pooled';
const task = resolveTask('sst2', { kind });
const model = loadModel(args.model);
const data = loadDataset(args.data, { labels: task.labels});
const examples = subsample(data.examples, Number(args.examples), Number(args.seed));
const batch = encodeExamples(model.tokenizer, task, examples, { seqLen: Number(args['seq-len']), promptLength: Number(args['prompt-length']) });
const N = batch.size;
const L = task.labels.length;
const counts = new Array<number>(L).fill(0);
for (const l of batch.labels) counts[l]!++;
const majority = Math.max(...counts) / N;
const prompt = new Float64Array(batch.promptLength * model.config.hidden);
const kernels = [parseKernel('softmax'), ...args.kernels.split(',').filter((s) => s !== 'softmax').map(parseKernel)];

console.log(
  `model ${args.model} (${kind}), ${N} examples of ${args.data} (seeded subsample, seed ${args.seed}; ${batch.truncated} cut to seq ${batch.seqLen}), ` +
    `prompt length ${batch.promptLength} (zero prompt), majority class ${(100 * majority).toFixed(1)}%`,
);
const rows: string[][] = [['attention', 'accuracy', 'majority', 'argmax agree', 'max|Δlogit|', 'mean|Δlogit|', 'seconds']];
let ref: Float64Array | undefined;
for (const k of kernels) {
  const t0 = performance.now();
  const ev = await PlainEvaluator.create({
    model,
    modelDir: resolve(args.model),
    task,
    batches: { train: batch },
    attention: k.attention,
    ...(k.rfa ? { rfa: k.rfa } : {}),
    threads: Number(args.threads),
  });
  const logits = await ev.evaluate([prompt], 'train');
  await ev.close();
  ref ??= logits;
  const pr = predictions(logits, L);
  const pref = predictions(ref, L);
  let agree = 0;
  for (let i = 0; i < N; i++) if (pr[i] === pref[i]) agree++;
  let max = 0;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const d = Math.abs(logits[i]! - ref[i]!);
    max = Math.max(max, d);
    sum += d;
  }
  const row = [
    k.name,
    `${(100 * accuracy(logits, batch.labels, L)).toFixed(1)}%`,
    `${(100 * majority).toFixed(1)}%`,
    `${((100 * agree) / N).toFixed(1)}%`,
    max.toExponential(2),
    (sum / logits.length).toExponential(2),
    ((performance.now() - t0) / 1000).toFixed(0),
  ];
  rows.push(row);
  console.log(row.join('  '));
}
const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
console.log(`\n${rows.map((r) => r.map((c, i) => c.padStart(w[i]!)).join('  ')).join('\n')}`);
