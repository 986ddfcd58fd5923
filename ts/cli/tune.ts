/**
 * `secp-tune tune`: load the data owner's files, sample the few-shot splits, tokenise them, build an evaluator
 * (plaintext now; the MPC one plugs in at `createEvaluator`) and run the tuning loop with progress, JSON events,
 * checkpoints and resume.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir, totalmem } from 'node:os';
import { SecpError } from '../../bindings/errors.js';
import { loadConfig, loadModel, type LoadedModel, type ModelConfig } from '../model/config.js';
import { readCheckpointFile } from '../tuning/checkpoint.js';
import { DATA_DEFAULTS, examplesHash, loadDataset, sampleFewShot, subsample, type Example } from '../tuning/data.js';
import type { Evaluator } from '../tuning/evaluator.js';
import { TUNE_DEFAULTS, projectionOf, tune, type SplitScore, type TuneOptions, type TuneResult } from '../tuning/loop.js';
import { PlainEvaluator, PLAIN_EVALUATOR_DEFAULTS, weightsHash } from '../tuning/plain-evaluator.js';
import { MpcEvaluator, type Job } from '../tuning/mpc-evaluator.js';
import { TLS_OPTIONS, joinOptions, loadDealerKey, readJob, startLocalProcesses } from './roles.js';
import { encodeExamples, placeholderIds, promptInitIds, resolveTask, TASKS, type EncodedBatch, type ResolvedTask } from '../tuning/task.js';
import { RFA_DEFAULTS, type RfaOptions } from '../model/plain.js';
import { scoreBatch } from '../tuning/losses.js';
import { UsageError, checkRequired, parseCommand, type CommandSpec, type OptValue, type Parsed } from './options.js';
import { Progress, type ProgressMode } from './progress.js';

const TASK_NAMES = Object.keys(TASKS);

export const TUNE_COMMAND: CommandSpec = {
  name: 'tune',
  summary:
    'Tune a soft prompt for a BERT-family model on your labelled examples with Black-Box Tuning (CMA-ES over a\n' +
    'random projection; forward passes only). Choose --plaintext (local float64 forward, NO privacy: for trying\n' +
    'settings) or --mpc (the forward under 2-party MPC).',
  usage: 'secp-tune tune (--plaintext | --mpc) --model DIR --train FILE [options]',
  options: [
    { name: 'plaintext', kind: 'flag', group: 'Mode', help: 'run the forward locally in float64; the data and model are NOT protected' },
    { name: 'mpc', kind: 'flag', group: 'Mode', help: 'run the forward under 2-party MPC (S0, S1, dealer and model owner in this process unless --processes or --job)' },
    { name: 'processes', kind: 'flag', group: 'Mode', help: 'mpc: start S0, S1, the dealer and the model owner as separate local processes over loopback TCP' },
    { name: 'job', kind: 'path', arg: 'FILE', group: 'Mode', help: 'mpc: join the sessions of this job file (roles started with `secp-tune serve/share-model --job FILE`)' },
    { name: 'dealer-key', kind: 'path', arg: 'FILE', default: '~/.secp-tune/dealer.key', group: 'Mode', help: "mpc without --job: the key of the dealer this command starts (created if missing). With the run's nonce (a hash of settings, data and weights) it fixes the run's randomness, so --resume ends bit for bit like an uninterrupted run" },
    ...TLS_OPTIONS.map((o) => ({ ...o, help: `mpc --job: ${o.help}` })),
    { name: 'timeout-sec', kind: 'int', min: 1, max: 7 * 24 * 3600, default: 3600, group: 'Mode', help: 'mpc: a party silent this long ends the session (a killed peer is detected at once; idle sessions wait between evaluations)' },

    { name: 'model', kind: 'path', arg: 'DIR', group: 'Model', required: true, help: 'HF model folder (config.json, model.safetensors, tokenizer)' },
    { name: 'kind', kind: 'enum', values: ['auto', 'mlm', 'pooled'], default: 'auto', group: 'Model', help: "how logits are read: MLM head at [MASK], or pooled embedding vs label texts; auto: 'mlm' if the model has an MLM head" },
    { name: 'attention', kind: 'enum', values: ['rfa', 'softmax'], default: PLAIN_EVALUATOR_DEFAULTS.attention, group: 'Model', help: 'attention: random features (what the MPC forward runs) or exact softmax' },
    { name: 'rfa-kernel', kind: 'enum', values: ['normalized', 'exp'], default: RFA_DEFAULTS.kernel, group: 'Model', help: "RFA kernel: 'normalized' (unit q, k, weights ∝ exp(tau·cos(q, k)), the paper's) or 'exp' (the model's own softmax kernel exp(q·k/√d) with per-key weights; needs many features, see docs/results.md)" },
    { name: 'rfa-features', kind: 'int', overMax: (v) => overMax('rfa-features', v), min: 1, max: 65536, default: RFA_DEFAULTS.features, group: 'Model', help: 'random features per head' },
    { name: 'rfa-seed', kind: 'int', min: 0, max: 2 ** 32 - 1, default: RFA_DEFAULTS.seed, group: 'Model', help: 'seed of the public random-feature matrices' },
    { name: 'rfa-tau', kind: 'number', min: 1e-6, default: RFA_DEFAULTS.tau, group: 'Model', help: 'RFA normalized-kernel temperature: weights ∝ exp(tau·cos(q, k)); above ~1 the normaliser nears zero with few features and MPC drifts from float64' },
    { name: 'logit-scale', kind: 'number', min: 1e-6, default: PLAIN_EVALUATOR_DEFAULTS.logitScale, group: 'Model', help: 'pooled kind: logits = scale × cosine similarity' },
    { name: 'threads', kind: 'int', min: 1, max: 256, defaultText: 'all CPUs', group: 'Model', help: 'plaintext: worker threads' },

    { name: 'task', kind: 'enum', values: TASK_NAMES, default: 'sst2', group: 'Task', help: 'template, verbalizer, metric and loss of a BBT task' },
    { name: 'template', kind: 'string', arg: 'TEXT', defaultText: "the task's", group: 'Task', help: 'template after the prompt, with {text} (, {text2}) and {mask} (mlm)' },
    { name: 'label-words', kind: 'list', arg: 'W1,W2,..', defaultText: "the task's", group: 'Task', help: 'verbalizer: one single-token word per label (mlm)' },
    { name: 'label-names', kind: 'list', arg: 'N1,N2,..', defaultText: "the task's", group: 'Task', help: 'class names, in label-index order; data labels may be indices or names' },
    { name: 'label-texts', kind: 'list', arg: 'T1,T2,..', defaultText: 'the label names', group: 'Task', help: 'pooled kind: a description per label, embedded by the model' },
    { name: 'loss', kind: 'enum', values: ['ce', 'hinge'], defaultText: "the task's", group: 'Task', help: 'fitness: cross-entropy or BBT hinge (margin 2)' },
    { name: 'metric', kind: 'enum', values: ['accuracy', 'f1'], defaultText: "the task's", group: 'Task', help: 'dev selection and test metric' },

    { name: 'train', kind: 'path', arg: 'FILE', group: 'Data', required: true, help: 'labelled examples (.csv with a header row, or .jsonl); train and dev are sampled from it' },
    { name: 'dev', kind: 'path', arg: 'FILE', defaultText: 'sampled from --train', group: 'Data', help: 'separate file to sample the dev split from' },
    { name: 'test', kind: 'path', arg: 'FILE', group: 'Data', help: 'test examples, scored once with the selected prompt' },
    { name: 'format', kind: 'enum', values: ['csv', 'jsonl'], defaultText: 'from the extension', group: 'Data', help: 'file format' },
    { name: 'text-column', kind: 'string', arg: 'NAME', default: DATA_DEFAULTS.textColumn, group: 'Data', help: 'CSV column / JSON key of the text' },
    { name: 'text-pair-column', kind: 'string', arg: 'NAME', group: 'Data', help: 'column / key of the second text (sentence-pair tasks)' },
    { name: 'label-column', kind: 'string', arg: 'NAME', default: DATA_DEFAULTS.labelColumn, group: 'Data', help: 'column / key of the label' },
    { name: 'max-file-mb', kind: 'number', min: 0.001, max: 65536, default: DATA_DEFAULTS.maxBytes / 1024 / 1024, group: 'Data', help: 'refuse data files larger than this (MiB)' },
    { name: 'shots', kind: 'int', overMax: (v) => overMax('shots', v), min: 1, max: 10000, default: 16, group: 'Data', help: 'training examples per class (BBT: 16)' },
    { name: 'dev-shots', kind: 'int', overMax: (v) => overMax('dev-shots', v), min: 0, max: 10000, defaultText: '--shots', group: 'Data', help: 'dev examples per class (0: no dev split)' },
    { name: 'test-plaintext', kind: 'flag', group: 'Data', help: 'score --test with the plaintext float64 forward after the tuning, untuned and tuned prompt (under --mpc: the tuning stays private, this last step reads the model weights in the clear)' },
    { name: 'test-limit', kind: 'int', min: 1, max: 1_000_000, defaultText: 'all', group: 'Data', help: 'score a seeded subsample of this many test examples' },

    { name: 'prompt-length', kind: 'int', overMax: (v) => overMax('prompt-length', v), min: 1, max: 512, default: 50, group: 'Prompt', help: 'prompt tokens P (BBT: 50)' },
    { name: 'prompt-init', kind: 'string', arg: 'TEXT', defaultText: 'placeholder tokens', group: 'Prompt', help: 'put the first P word pieces of TEXT in the prompt slots, so that the untuned prompt is real text (it must have at least P pieces)' },
    { name: 'prompt-mode', kind: 'enum', values: ['add', 'replace'], default: PLAIN_EVALUATOR_DEFAULTS.promptMode, group: 'Prompt', help: "'add': added to the embedding output (BBT); 'replace': replaces the slots' word embeddings" },
    { name: 'seq-len', kind: 'int', overMax: (v) => overMax('seq-len', v), min: 8, max: 4096, default: 64, group: 'Prompt', help: 'tokens per example, prompt included; longer texts are cut' },
    { name: 'dim', kind: 'int', overMax: (v) => overMax('dim', v), min: 1, max: 10000, default: TUNE_DEFAULTS.dim, group: 'Prompt', help: 'search dimension d (BBT: 500)' },
    { name: 'projection', kind: 'enum', values: ['uniform', 'normal'], default: TUNE_DEFAULTS.projection, group: 'Prompt', help: 'entries of A: U(±1/sqrt(d)) (BBT) or N(0, std²)' },
    { name: 'projection-std', kind: 'string', arg: 'X|embedding', defaultText: '1/d', group: 'Prompt', help: "normal projection std; 'embedding': BBTv2's alpha·std(emb)/(sqrt(d)·sigma0)" },
    { name: 'projection-alpha', kind: 'number', min: 1e-9, default: TUNE_DEFAULTS.projectionAlpha, group: 'Prompt', help: "alpha of --projection-std embedding" },

    { name: 'popsize', kind: 'int', overMax: (v) => overMax('popsize', v), min: 2, max: 10000, default: TUNE_DEFAULTS.popsize, group: 'CMA-ES', help: 'candidates per generation (one batched forward)' },
    { name: 'sigma0', kind: 'number', min: 1e-12, default: TUNE_DEFAULTS.sigma0, group: 'CMA-ES', help: 'initial step size' },
    { name: 'bound', kind: 'number', min: 0, default: TUNE_DEFAULTS.bound, group: 'CMA-ES', help: 'box bound on z (0: none)' },
    { name: 'budget', kind: 'int', min: 1, max: 1e9, default: TUNE_DEFAULTS.budget, group: 'CMA-ES', help: 'forward calls (candidates × training batch); BBT: 8000' },
    { name: 'max-generations', kind: 'int', min: 1, max: 1e7, defaultText: 'budget / popsize', group: 'CMA-ES', help: 'stop after this many generations' },
    { name: 'eval-every', kind: 'int', min: 1, max: 1e7, default: TUNE_DEFAULTS.evalEvery, group: 'CMA-ES', help: 'generations between dev evaluations' },
    { name: 'patience', kind: 'int', min: 0, max: 1e7, default: TUNE_DEFAULTS.patience, group: 'CMA-ES', help: 'stop after this many generations without dev improvement (0: never)' },
    { name: 'seed', kind: 'int', min: 0, max: 2 ** 32 - 1, default: TUNE_DEFAULTS.seed, group: 'CMA-ES', help: 'seeds the sampling of examples, the projection and CMA-ES' },

    { name: 'checkpoint', kind: 'path', arg: 'FILE', group: 'Run', help: 'write the run state here after every generation (atomically)' },
    { name: 'resume', kind: 'flag', group: 'Run', help: 'continue the run in --checkpoint (its settings are reused)' },
    { name: 'overwrite', kind: 'flag', group: 'Run', help: 'replace an existing --checkpoint or --out instead of refusing' },
    { name: 'out', kind: 'path', arg: 'FILE', group: 'Run', help: 'write the result (best z, scores, history, settings) as JSON (an existing file: refused without --overwrite)' },

    { name: 'json', kind: 'flag', group: 'Output', help: 'print every event as one JSON line on stdout' },
    { name: 'progress', kind: 'enum', values: ['auto', 'bar', 'lines', 'none'], default: 'auto', group: 'Output', help: 'progress on stderr: a bar on a terminal, lines otherwise' },
  ],
  notes: [
    'The few-shot splits are drawn per class with --seed: --shots for training and --dev-shots more for dev,\n' +
      'disjoint, from --train (or dev from --dev). One generation is one evaluator call for all candidates.',
    'Resume: `secp-tune tune --plaintext|--mpc [--processes] --checkpoint run.json --resume` continues a stopped,\n' +
      'failed or killed run with the settings saved in the checkpoint and ends with exactly the result of an\n' +
      "uninterrupted run. Under MPC that holds because the run's randomness is fixed by the dealer's key and the run's\n" +
      'nonce (a hash of settings, data and weights), and each forward re-keys on a hash of its prompts; with --job the\n' +
      "remote dealer needs `serve --key-file` for it. Ctrl-C stops after the current generation (the checkpoint stays\n" +
      'resumable); a second Ctrl-C quits at once.',
    'Exit codes: 0 done, 1 error, 2 usage error, 3 not available in this build, 130 stopped by Ctrl-C.',
  ],
};

/** Options that change only how the run is shown or how fast it goes; they may differ on resume. */
const PRESENTATION = new Set([
  'json', 'progress', 'threads', 'resume', 'overwrite', 'checkpoint', 'out', 'plaintext', 'mpc', 'processes', 'job', 'timeout-sec', 'dealer-key',
  ...TLS_OPTIONS.map((o) => o.name),
]);

export type Values = Parsed['values'];

const str = (v: OptValue | undefined) => v as string | undefined;
const num = (v: OptValue | undefined) => v as number | undefined;
const list = (v: OptValue | undefined) => v as string[] | undefined;

/** With --resume, the checkpoint's saved arguments fill in every option the user did not give again. */
function mergeResumeArgs(parsed: Parsed, mode: 'plaintext' | 'mpc'): Values {
  const values = { ...parsed.values };
  const path = str(values['checkpoint']);
  if (!path) throw new UsageError('tune: --resume needs --checkpoint FILE');
  const cp = readCheckpointFile(path);
  const savedMode = (cp['metadata'] as Record<string, unknown> | undefined)?.['mode'];
  if ((savedMode === 'mpc' || savedMode === 'plaintext') && savedMode !== mode) {
    // The two forwards round differently: a run continues under the forward it started with.
    throw new UsageError(`tune: ${path} is a checkpoint of an --${savedMode} run; resume it with --${savedMode} (or start a new --${mode} run with another --checkpoint)`);
  }
  const saved = ((cp['metadata'] as Record<string, unknown> | undefined)?.['cli'] ?? null) as Record<string, OptValue> | null;
  if (saved === null) return values;
  for (const [k, v] of Object.entries(saved)) {
    if (PRESENTATION.has(k)) continue;
    if (parsed.given.has(k)) {
      if (JSON.stringify(values[k]) !== JSON.stringify(v)) {
        throw new UsageError(
          `tune: --${k} ${JSON.stringify(values[k])} differs from the checkpoint's ${JSON.stringify(v)}; ` +
            'a resumed run keeps its settings (omit the option, or start a new run)',
        );
      }
    } else {
      values[k] = v;
    }
  }
  return values;
}

/**
 * The nonce of an MPC run: a hash of everything that determines it (settings, data, weights). Two runs share a
 * nonce only when they compute the same thing, so a dealer key reused across runs never masks two different
 * values alike, and a run, killed or not, always draws the same randomness: `--resume` ends bit for bit like an
 * uninterrupted run.
 */
export function mpcRun(values: Values, prep: Prepared): MpcRun {
  const nonce = createHash('sha256')
    .update(JSON.stringify({ args: recordedArgs(values), data: prep.dataHashes, weights: weightsHash(prep.model) }))
    .digest();
  if (values['job'] !== undefined) return { nonce: new Uint8Array(nonce) };
  const keyFile = str(values['dealer-key'])!.replace(/^~(?=\/|$)/, homedir());
  return { nonce: new Uint8Array(nonce), keyFile, dealerKey: loadDealerKey(keyFile) };
}

/** The arguments recorded in the checkpoint (everything that determines the result). */
function recordedArgs(values: Values): Record<string, OptValue> {
  const out: Record<string, OptValue> = {};
  for (const [k, v] of Object.entries(values)) if (v !== undefined && !PRESENTATION.has(k)) out[k] = v;
  return out;
}

export interface Prepared {
  model: LoadedModel;
  task: ResolvedTask;
  batches: { train: EncodedBatch; dev?: EncodedBatch; test?: EncodedBatch };
  dataHashes: Record<string, string>;
  counts: { train: number; dev: number; test: number; truncated: number };
}

/** Loads the model and data, samples and tokenises the splits. */
export function prepare(values: Values, log: (line: string) => void): Prepared {
  const modelDir = str(values['model'])!;
  if (!existsSync(modelDir)) throw new UsageError(`tune: --model ${modelDir} does not exist`);
  const model = loadModel(modelDir);
  const kindOpt = str(values['kind'])!;
  const kind = kindOpt === 'auto' ? (model.hasMlmHead ? 'mlm' : 'pooled') : (kindOpt as 'mlm' | 'pooled');
  if (kind === 'mlm' && !model.hasMlmHead) {
    throw new UsageError(`tune: --kind mlm needs a model with an MLM head; ${modelDir} has none (use --kind pooled)`);
  }
  if (kindOpt === 'auto') log(`model ${modelDir}: ${model.hasMlmHead ? 'MLM head found, using --kind mlm' : 'no MLM head, using --kind pooled'}`);
  const task = resolveTask(str(values['task'])!, {
    kind,
    ...(values['template'] !== undefined ? { template: str(values['template'])! } : {}),
    ...(values['label-words'] !== undefined ? { words: list(values['label-words'])! } : {}),
    ...(values['label-names'] !== undefined ? { labels: list(values['label-names'])! } : {}),
    ...(values['label-texts'] !== undefined ? { labelTexts: list(values['label-texts'])! } : {}),
    ...(values['loss'] !== undefined ? { loss: str(values['loss']) as 'ce' | 'hinge' } : {}),
    ...(values['metric'] !== undefined ? { metric: str(values['metric']) as 'accuracy' | 'f1' } : {}),
  });
  if (task.pair && values['text-pair-column'] === undefined) {
    throw new UsageError(`tune: task ${task.name} has sentence pairs; name the second text with --text-pair-column`);
  }
  const loadOpts = {
    labels: task.labels,
    ...(task.words ? { labelAliases: task.words.map((w) => [w]) } : {}),
    ...(values['format'] !== undefined ? { format: str(values['format']) as 'csv' | 'jsonl' } : {}),
    textColumn: str(values['text-column'])!,
    labelColumn: str(values['label-column'])!,
    ...(values['text-pair-column'] !== undefined ? { textPairColumn: str(values['text-pair-column'])! } : {}),
    maxBytes: Math.floor(num(values['max-file-mb'])! * 1024 * 1024),
  };
  const seed = num(values['seed'])!;
  const shots = num(values['shots'])!;
  const devShots = num(values['dev-shots']) ?? shots;
  const trainSet = loadDataset(str(values['train'])!, loadOpts);
  const dataHashes: Record<string, string> = { trainFile: trainSet.sha256 };
  let train: Example[];
  let dev: Example[];
  const common = { numLabels: task.labels.length, seed, labelNames: task.labels };
  if (values['dev'] !== undefined) {
    train = sampleFewShot(trainSet.examples, { ...common, shots, devShots: 0, source: trainSet.path }).train;
    const devSet = loadDataset(str(values['dev'])!, loadOpts);
    dataHashes['devFile'] = devSet.sha256;
    dev = devShots > 0 ? sampleFewShot(devSet.examples, { ...common, shots: devShots, devShots: 0, source: devSet.path }).train : [];
  } else {
    ({ train, dev } = sampleFewShot(trainSet.examples, { ...common, shots, devShots, source: trainSet.path }));
  }
  let test: Example[] = [];
  if (values['test'] !== undefined) {
    const testSet = loadDataset(str(values['test'])!, loadOpts);
    dataHashes['testFile'] = testSet.sha256;
    const limit = num(values['test-limit']);
    test = limit === undefined ? testSet.examples : subsample(testSet.examples, limit, seed);
  }
  dataHashes['train'] = examplesHash(train);
  dataHashes['dev'] = examplesHash(dev);
  dataHashes['test'] = examplesHash(test);
  const P = num(values['prompt-length'])!;
  const init = str(values['prompt-init']);
  const slots = init !== undefined ? promptInitIds(model.tokenizer, init, P) : placeholderIds(model.tokenizer, model.config.vocabSize, P);
  const enc = { seqLen: num(values['seq-len'])!, promptLength: P, placeholderIds: slots };
  const batches: Prepared['batches'] = { train: encodeExamples(model.tokenizer, task, train, enc) };
  if (dev.length > 0) batches.dev = encodeExamples(model.tokenizer, task, dev, enc);
  if (test.length > 0) batches.test = encodeExamples(model.tokenizer, task, test, enc);
  const truncated = batches.train.truncated + (batches.dev?.truncated ?? 0) + (batches.test?.truncated ?? 0);
  return {
    model,
    task,
    batches,
    dataHashes,
    counts: { train: train.length, dev: dev.length, test: test.length, truncated },
  };
}

/** MPC runs: the run's nonce (mpcRun) and the key of the dealer this command starts (in-process or --processes). */
export interface MpcRun {
  nonce: Uint8Array;
  /** The dealer key's file (a --processes dealer reads it) and the key (an in-process dealer uses it). */
  keyFile?: string;
  dealerKey?: Uint8Array;
}

/** The RFA options of these arguments. */
function rfaOf(values: Values): RfaOptions {
  return {
    kernel: str(values['rfa-kernel']) as 'normalized' | 'exp',
    features: num(values['rfa-features'])!,
    seed: num(values['rfa-seed'])!,
    ...(values['rfa-tau'] !== undefined ? { tau: num(values['rfa-tau'])! } : {}),
  };
}

/** The hook where the forward is chosen: the plaintext float64 forward, or the 2-party MPC forward. */
export async function createEvaluator(
  mode: 'plaintext' | 'mpc',
  values: Values,
  prep: Prepared,
  log: (line: string) => void = () => undefined,
  run: MpcRun = { nonce: new Uint8Array(randomBytes(32)) },
): Promise<Evaluator> {
  const attention = str(values['attention']) as 'rfa' | 'softmax';
  const rfa = rfaOf(values);
  const logitScale = num(values['logit-scale'])!;
  if (mode === 'mpc') {
    if (str(values['prompt-mode']) !== 'add') throw new UsageError("tune --mpc adds the prompt to the embedding output: use --prompt-mode add");
    let job: Job | undefined;
    let join;
    const jobFile = str(values['job']);
    if (jobFile !== undefined) {
      job = readJob(jobFile);
      join = joinOptions(job, jobFile, 'data', values, log);
    } else if (values['processes'] === true) {
      job = await startLocalProcesses(
        prep,
        { attention, rfa, logitScale, timeoutSec: num(values['timeout-sec'])!, modelDir: str(values['model'])!, ...(run.keyFile ? { keyFile: run.keyFile } : {}) },
        log,
      );
    }
    return MpcEvaluator.create({
      model: prep.model, task: prep.task, batches: prep.batches, attention, rfa, logitScale, nonce: run.nonce,
      ...(job ? { job, join: join ?? { log } } : run.dealerKey ? { dealerKey: run.dealerKey } : {}),
    });
  }
  return PlainEvaluator.create({
    model: prep.model,
    modelDir: str(values['model'])!,
    task: prep.task,
    batches: prep.batches,
    attention,
    rfa,
    promptMode: str(values['prompt-mode']) as 'add' | 'replace',
    logitScale,
    threads: num(values['threads']) ?? Math.max(1, availableParallelism()),
  });
}

const GiB = 2 ** 30;

/** BERT-base's shape: what an out-of-range size is costed with (before any model is read). */
const BERT_BASE: ModelConfig = {
  arch: 'bert', vocabSize: 30522, hidden: 768, layers: 12, heads: 12, intermediate: 3072, maxPositions: 512,
  typeVocabSize: 2, layerNormEps: 1e-12, padTokenId: 0, hiddenAct: 'gelu',
}; // prettier-ignore

/** The range error's tail for a size above its bound: the memory it would need, other sizes at their defaults. */
function overMax(name: string, v: number): string {
  const values: Values = Object.fromEntries(TUNE_COMMAND.options.map((o) => [o.name, o.default]));
  values[name] = v;
  if (name === 'dev-shots') values['shots'] = v;
  const parts = estimateMemory(values, 'mpc', BERT_BASE, 2);
  const all = Object.entries(parts).sort((a, b) => b[1] - a[1]);
  const [what, bytes] = all.find(([k]) => k.includes(`--${name === 'dev-shots' ? 'shots' : name} `)) ?? all[0]!;
  return ` (with the other sizes at their defaults, a BERT-base run would need about ${(bytes / GiB).toPrecision(3)} GiB for the ${what})`;
}

/**
 * Peak bytes of an MPC forward with every party in one process, per token and FFN unit: measured on BERT-base at
 * 32 × 128 tokens (10.8 GB; bench/workloads/transformer.ts `memoryBytes`), dominated by the GELU's comparisons.
 */
const MPC_BYTES_PER_TOKEN_FFN = 800;

/**
 * The memory a run of these sizes needs, roughly, by part (bytes): CMA-ES keeps C and its eigenvectors B (d×d
 * each, plus a d×d work matrix) and a population of popsize×d; the projection is d×(P·hidden); one generation's
 * forward runs every candidate × training example at once: under MPC as measured (MPC_BYTES_PER_TOKEN_FFN; with
 * --job the other parties are elsewhere and this process holds about a quarter), in plaintext per worker thread.
 */
export function estimateMemory(values: Values, mode: 'plaintext' | 'mpc', cfg: ModelConfig, numLabels: number): Record<string, number> {
  const d = num(values['dim'])!;
  const pop = num(values['popsize'])!;
  const P = num(values['prompt-length'])!;
  const L = num(values['seq-len'])!;
  const shots = num(values['shots'])!;
  const examples = shots * numLabels;
  const features = str(values['attention']) === 'rfa' ? num(values['rfa-features'])! * cfg.heads : L * cfg.heads;
  const widest = Math.max(cfg.intermediate, features);
  const parts: Record<string, number> = {
    [`CMA-ES state (--dim ${d}, --popsize ${pop})`]: 8 * (3 * d * d + 4 * pop * d),
    [`projection (--dim ${d} × --prompt-length ${P} × hidden ${cfg.hidden})`]: 8 * d * P * cfg.hidden,
  };
  const rows = pop * examples * L;
  if (mode === 'mpc') {
    const here = values['job'] !== undefined ? 0.25 : 1;
    parts[`MPC forward (--popsize ${pop} × ${examples} examples (--shots ${shots} × ${numLabels} labels) × --seq-len ${L})`] = here * (2 ** 30 + rows * widest * MPC_BYTES_PER_TOKEN_FFN);
  } else {
    const threads = num(values['threads']) ?? availableParallelism();
    parts[`plaintext forward (${threads} threads × --seq-len ${L})`] = 8 * threads * L * (widest + 6 * cfg.hidden + L * cfg.heads) + 8 * pop * examples * numLabels;
  }
  return parts;
}

/** Refuses, before any work, a run whose sizes need more memory than the machine has; names the parts. */
function checkMemory(values: Values, mode: 'plaintext' | 'mpc', cfg: ModelConfig, numLabels: number): void {
  const parts = estimateMemory(values, mode, cfg, numLabels);
  const total = Object.values(parts).reduce((a, b) => a + b, 0);
  const limit = 0.8 * totalmem();
  if (total <= limit) return;
  const sizes = ['dim', 'popsize', 'shots', 'seq-len', 'prompt-length'].map((n) => {
    const o = TUNE_COMMAND.options.find((x) => x.name === n)!;
    return `--${n} ${o.min}..${o.max}`;
  });
  throw new UsageError(
    `tune: these sizes need about ${(total / GiB).toFixed(1)} GiB, more than the ${(limit / GiB).toFixed(1)} GiB this machine can give (80% of ` +
      `${(totalmem() / GiB).toFixed(1)} GiB): ${Object.entries(parts).map(([k, v]) => `${k} ${(v / GiB).toFixed(2)} GiB`).join('; ')}. ` +
      `Lower the largest (ranges: ${sizes.join(', ')})`,
  );
}

function projectionStd(v: string | undefined): number | 'embedding' | undefined {
  if (v === undefined) return undefined;
  if (v === 'embedding') return 'embedding';
  const x = Number(v);
  if (!(x > 0 && Number.isFinite(x))) throw new UsageError(`tune: --projection-std must be a positive number or 'embedding', got ${JSON.stringify(v)}`);
  return x;
}

function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v instanceof Float64Array || v instanceof Int32Array ? Array.from(v) : v));
}

/**
 * The loop's options for a run of these tune arguments (everything but the abort signal): used by the tune
 * command and by the tuning node's sessions.
 */
export function tuneOptionsOf(values: Values, prep: Prepared, evaluator: Evaluator, mode: 'plaintext' | 'mpc'): TuneOptions {
  const projStd = projectionStd(str(values['projection-std']));
  const checkpoint = str(values['checkpoint']);
  const maxGen = num(values['max-generations']);
  return {
    evaluator,
    labels: {
      train: prep.batches.train.labels,
      ...(prep.batches.dev ? { dev: prep.batches.dev.labels } : {}),
      ...(prep.batches.test ? { test: prep.batches.test.labels } : {}),
    },
    seed: num(values['seed'])!,
    dim: num(values['dim'])!,
    projection: str(values['projection']) as 'uniform' | 'normal',
    ...(projStd !== undefined ? { projectionStd: projStd } : {}),
    ...(projStd === 'embedding' ? { projectionAlpha: num(values['projection-alpha'])! } : {}),
    popsize: num(values['popsize'])!,
    sigma0: num(values['sigma0'])!,
    bound: num(values['bound'])!,
    budget: num(values['budget'])!,
    ...(maxGen !== undefined ? { maxGenerations: maxGen } : {}),
    loss: prep.task.loss,
    metric: prep.task.metric,
    evalEvery: num(values['eval-every'])!,
    patience: num(values['patience'])!,
    ...(checkpoint !== undefined ? { checkpoint } : {}),
    resume: values['resume'] === true,
    overwrite: values['overwrite'] === true,
    dataHashes: prep.dataHashes,
    metadata: { cli: recordedArgs(values), tool: 'secp-tune', mode },
  };
}

/** What `--out` writes: the result with the task, the example counts, the data hashes and the arguments. */
export function resultRecord(result: TuneResult, values: Values, prep: Prepared, evaluator: Evaluator, testPlaintext?: PlaintextTest): string {
  return `${toJson({ result, task: prep.task, counts: prep.counts, data: prep.dataHashes, evaluator: evaluator.describe?.() ?? null, args: recordedArgs(values), ...(testPlaintext ? { testPlaintext } : {}) })}\n`;
}

/** --test-plaintext: the untuned (z = 0) and the selected prompt scored on the test batch in float64. */
export interface PlaintextTest {
  examples: number;
  majority: number;
  untuned: SplitScore;
  tuned: SplitScore;
}

async function scoreTestPlaintext(values: Values, prep: Prepared, test: EncodedBatch, result: TuneResult): Promise<PlaintextTest> {
  const o = result.options;
  const L = prep.task.labels.length;
  const D = test.promptLength * prep.model.config.hidden;
  const prompts = projectionOf(o, D).project([new Float64Array(o.dim), result.best!.z]);
  const ev = await PlainEvaluator.create({
    model: prep.model,
    modelDir: str(values['model'])!,
    task: prep.task,
    batches: { train: test, test },
    attention: str(values['attention']) as 'rfa' | 'softmax',
    rfa: rfaOf(values),
    promptMode: str(values['prompt-mode']) as 'add' | 'replace',
    logitScale: num(values['logit-scale'])!,
    threads: num(values['threads']) ?? Math.max(1, availableParallelism()),
  });
  try {
    const logits = await ev.evaluate(prompts, 'test');
    const B = test.size;
    const score = (c: number) => {
      const s = scoreBatch(logits.subarray(c * B * L, (c + 1) * B * L), test.labels, L, o.loss, o.margin);
      return { ...s, metric: o.metric === 'f1' ? (s.f1 ?? 0) : s.accuracy };
    };
    const counts = new Array<number>(L).fill(0);
    for (const l of test.labels) counts[l]!++;
    return { examples: B, majority: Math.max(...counts) / B, untuned: score(0), tuned: score(1) };
  } finally {
    await ev.close();
  }
}

/**
 * `resumeCommand`: how the caller continues this run (the demo has its own); by default the tune command line
 * with --checkpoint and --resume.
 */
export async function runTuneCommand(argv: readonly string[], signal: AbortSignal, resumeCommand?: string): Promise<number> {
  const parsed = parseCommand(TUNE_COMMAND, argv, { deferRequired: true });
  if (parsed.help) return -1;
  const plaintext = parsed.values['plaintext'] === true;
  const mpc = parsed.values['mpc'] === true;
  if (plaintext === mpc) {
    throw new UsageError(
      plaintext
        ? 'tune: choose one of --plaintext and --mpc, not both'
        : 'tune: choose --plaintext (local float64 forward, no privacy) or --mpc (2-party MPC forward)',
    );
  }
  if (parsed.values['resume'] === true && parsed.values['overwrite'] === true) {
    throw new UsageError('tune: --resume and --overwrite exclude each other');
  }
  const mode = mpc ? 'mpc' : 'plaintext';
  const values = parsed.values['resume'] === true ? mergeResumeArgs(parsed, mode) : parsed.values;
  checkRequired(TUNE_COMMAND, values);
  const projStd = projectionStd(str(values['projection-std']));
  if (projStd !== undefined && values['projection'] !== 'normal') throw new UsageError('tune: --projection-std needs --projection normal');
  const json = values['json'] === true;
  const progress = new Progress(str(values['progress']) as ProgressMode, process.stderr);
  const checkpoint = str(values['checkpoint']);
  if (checkpoint !== undefined && parsed.values['resume'] !== true && existsSync(checkpoint) && values['overwrite'] !== true) {
    throw new UsageError(`tune: checkpoint ${checkpoint} already exists; add --resume to continue it or --overwrite to start over`);
  }
  const out = str(values['out']);
  if (out !== undefined && existsSync(out) && values['overwrite'] !== true) {
    throw new UsageError(
      parsed.values['resume'] === true
        ? `tune: --out ${out} already exists; choose another --out or move the file (--overwrite does not go with --resume)`
        : `tune: --out ${out} already exists; add --overwrite to replace it or choose another --out`,
    );
  }
  const modelDir = str(values['model'])!;
  if (existsSync(modelDir)) {
    const numLabels = list(values['label-names'])?.length ?? TASKS[str(values['task'])!]?.labels.length ?? 2;
    checkMemory(values, mode, loadConfig(modelDir), numLabels);
  }
  const prep = prepare(values, (l) => progress.log(l));
  progress.log(
    `task ${prep.task.name} (${prep.task.kind}), labels ${prep.task.labels.join('/')}, ` +
      `${prep.counts.train} train / ${prep.counts.dev} dev / ${prep.counts.test} test examples` +
      (prep.counts.truncated > 0 ? ` (${prep.counts.truncated} cut to --seq-len ${num(values['seq-len'])})` : ''),
  );
  if (mode === 'plaintext') progress.log('plaintext mode: the forward runs locally in float64; nothing is private');
  // --test-plaintext: the test batch stays out of the tuning's evaluator and is scored in plaintext at the end.
  const plainTest = values['test-plaintext'] === true ? prep.batches.test : undefined;
  if (plainTest !== undefined) delete prep.batches.test;
  const run = mode === 'mpc' ? mpcRun(values, prep) : undefined;
  const evaluator = await createEvaluator(mode, values, prep, (l) => progress.log(l), run);
  const metricName = prep.task.metric === 'f1' ? 'f1' : 'acc';
  progress.metric = metricName;
  const transport = values['processes'] === true ? ' --processes' : str(values['job']) !== undefined ? ` --job ${str(values['job'])}` : '';
  const resumeHint = checkpoint === undefined
    ? ' (no --checkpoint: cannot resume)'
    : `; continue with: ${resumeCommand ?? `secp-tune tune --${mode}${transport} --checkpoint ${checkpoint} --resume`}`;
  let result: TuneResult | undefined;
  let generation = 0;
  try {
    const events = tune({ ...tuneOptionsOf(values, prep, evaluator, mode), signal });
    for await (const e of events) {
      if (json) process.stdout.write(`${toJson(e)}\n`);
      if (e.type === 'start') {
        generation = e.generation;
        progress.start(e);
      } else if (e.type === 'generation') {
        generation = e.generation;
        progress.generation(e);
      } else {
        progress.done(e.result);
        result = e.result;
      }
    }
  } catch (err) {
    // The checkpoint holds every finished generation: say how to go on once the cause is fixed.
    // A checkpoint this run cannot continue: repeating the same command would fail the same way.
    const resumable = !(err instanceof SecpError && err.code === 'ERR_RESUME_MISMATCH');
    if (resumable && (generation > 0 || parsed.values['resume'] === true)) progress.log(`the run failed after generation ${generation}${resumeHint}`);
    throw err;
  } finally {
    await evaluator.close?.();
  }
  if (result === undefined) throw new SecpError('ERR_INTERNAL', 'the run ended without a result');
  const pct = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${(100 * x).toFixed(2)}%`);
  if (!result.complete) {
    progress.log(`stopped after generation ${result.generations}${resumeHint}`);
  } else {
    const b = result.best;
    progress.log(
      `done (${result.reason}: ${result.detail}) after ${result.generations} generations, ${result.forwardCalls} forward calls, ` +
        `${(result.elapsedMs / 1000).toFixed(1)}s`,
    );
    if (result.initial) progress.log(`  initial prompt: dev ${metricName} ${pct(result.initial.metric)}`);
    if (b) {
      progress.log(
        `  best prompt: generation ${b.generation} (${b.source})` +
          (b.dev ? `, dev ${metricName} ${pct(b.dev.metric)}` : '') +
          (b.trainLoss !== null ? `, train loss ${b.trainLoss.toFixed(4)}` : ''),
      );
    }
    if (result.test) progress.log(`  test ${metricName} ${pct(result.test.metric)} on ${prep.counts.test} examples`);
  }
  let testPlaintext: PlaintextTest | undefined;
  if (plainTest !== undefined && result.complete && result.best !== null) {
    testPlaintext = await scoreTestPlaintext(values, prep, plainTest, result);
    const t = testPlaintext;
    progress.log(
      `  test ${metricName} ${pct(t.untuned.metric)} (untuned) -> ${pct(t.tuned.metric)} (tuned) on ${t.examples} examples, ` +
        `majority class ${pct(t.majority)}: scored with the plaintext float64 forward after the ${mode === 'mpc' ? 'private ' : ''}tuning` +
        (mode === 'mpc' ? ' (this step reads the model weights in the clear; the tuning itself ran under MPC)' : ''),
    );
  }
  if (out !== undefined) {
    writeFileSync(out, resultRecord(result, values, prep, evaluator, testPlaintext));
  }
  return result.complete ? 0 : 130;
}
