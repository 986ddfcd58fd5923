/**
 * The forward-only tuning loop (BBT, PAPER-NOTES §2; DESIGN.md §5): CMA-ES over z ∈ R^d, prompts p = A z (+ p0),
 * the loss computed by the data owner in the clear from the logits an Evaluator returns.
 *
 * Per generation: ask the whole population, project it, ONE evaluator call on the training batch for all
 * candidates, score, tell. Every `evalEvery` generations (and at the last one) ONE more call evaluates the
 * generation's best candidate and the distribution mean on the dev batch; the best dev score so far (the
 * task's metric, ties broken by the lower dev loss) selects the final prompt, which is evaluated on the test
 * batch at the end. Without a dev batch, the lowest training loss selects it.
 *
 * Budget: counted in forward calls as BBT counts API calls, one per candidate evaluated on the training batch
 * (BBT: 8000 = 400 generations × popsize 20); a generation that would exceed it is not started. Dev and test
 * evaluations are extra and reported as evaluator calls. Early stopping: `patience` generations without a dev
 * improvement (0 = off).
 *
 * Checkpoint and resume: after every generation the whole state (CMA-ES state with its RNG, counters, best so
 * far, history, every resolved hyper-parameter, the evaluator's description and hashes of the labels) is
 * written atomically. Every decision inside a generation is a function of that state, and stopping on request
 * happens only between generations, so a resumed run produces bit for bit the trajectory and result of an
 * uninterrupted one. Resuming against different settings or data is refused, naming the first difference.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { SecpError } from '../../bindings/errors.js';
import { CMAES, type CMAESState } from './cmaes.js';
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, firstDifference, readCheckpointFile, writeJsonAtomic } from './checkpoint.js';
import type { Evaluator, EvaluatorMeter, Split } from './evaluator.js';
import { HINGE_MARGIN, scoreBatch, type BatchScore, type LossKind } from './losses.js';
import { embeddingScaledStd, RandomProjection, type ProjectionKind } from './projection.js';
import type { Metric } from './task.js';

/** BBT's settings (PAPER-NOTES §2) and this loop's own defaults, in one place. */
export const TUNE_DEFAULTS = {
  seed: 0,
  dim: 500,
  projection: 'uniform' as ProjectionKind,
  projectionAlpha: 0.2,
  popsize: 20,
  sigma0: 0.5,
  bound: 5,
  budget: 8000,
  maxGenerations: Infinity,
  loss: 'ce' as LossKind,
  margin: HINGE_MARGIN,
  metric: 'accuracy' as Metric,
  /** Generations between dev evaluations (BBT: every 100 calls = 5 generations of 20). */
  evalEvery: 5,
  /** Generations without a dev improvement before stopping; 0 = off. */
  patience: 0,
  evalInitial: true,
} as const;

export interface TuneOptions {
  evaluator: Evaluator;
  /** Class index of every example of each split the evaluator holds, in the evaluator's order. */
  labels: { train: ArrayLike<number>; dev?: ArrayLike<number>; test?: ArrayLike<number> };
  /** Seeds CMA-ES and the projection. Default 0. */
  seed?: number;
  /** Search dimension d. Default 500. */
  dim?: number;
  /** Distribution of A's entries. Default 'uniform' (BBT). */
  projection?: ProjectionKind;
  /** Normal projection: a std, or 'embedding' for BBTv2's α·σ_emb/(√d·σ0) (needs evaluator.embeddingStd). */
  projectionStd?: number | 'embedding';
  /** α of the embedding-scaled std. Default 0.2 (BBTv2). */
  projectionAlpha?: number;
  /** Initial prompt p0 (promptLength × hidden), added to A z. Default none. */
  p0?: Float64Array;
  /** CMA-ES population size. Default 20. */
  popsize?: number;
  /** CMA-ES initial step size. Default 0.5. */
  sigma0?: number;
  /** Box bound |z_i| <= bound; 0 = unbounded. Default 5. */
  bound?: number;
  /** Forward calls (candidates × training batch). Default 8000. */
  budget?: number;
  /** Generations at most. Default Infinity. */
  maxGenerations?: number;
  /** Fitness. Default 'ce'. */
  loss?: LossKind;
  /** Hinge margin. Default 2. */
  margin?: number;
  /** Dev selection metric. Default 'accuracy'. */
  metric?: Metric;
  /** Generations between dev evaluations. Default 5. */
  evalEvery?: number;
  /** Generations without dev improvement before stopping; 0 = off. Default 0. */
  patience?: number;
  /** Evaluate z = x0 on dev before the first generation (the untuned prompt). Default true. */
  evalInitial?: boolean;
  /** Checkpoint file, rewritten atomically after every generation. */
  checkpoint?: string;
  /** Continue the run saved in `checkpoint`. */
  resume?: boolean;
  /** Replace an existing checkpoint file when not resuming. Default false (refuse). */
  overwrite?: boolean;
  /** Stops the run between generations (the checkpoint stays resumable). */
  signal?: AbortSignal;
  /** Hashes of the inputs (data files, samples) to record and compare on resume. */
  dataHashes?: Record<string, string>;
  /** Free-form JSON recorded in the checkpoint and not compared (e.g. the CLI's arguments). */
  metadata?: Record<string, unknown>;
}

/** Options after validation, as recorded in checkpoints (JSON-safe: Infinity is null). */
export interface ResolvedTuneOptions {
  seed: number;
  dim: number;
  projection: ProjectionKind;
  projectionStd: number | null;
  popsize: number;
  sigma0: number;
  bound: number;
  budget: number;
  maxGenerations: number | null;
  loss: LossKind;
  margin: number;
  metric: Metric;
  evalEvery: number;
  patience: number;
  evalInitial: boolean;
}

export interface SplitScore extends BatchScore {
  /** Value of the selection metric (accuracy or F1). */
  metric: number;
}

export interface BestPrompt {
  z: Float64Array;
  /** Generation it was found in (0: the initial prompt). */
  generation: number;
  source: 'initial' | 'candidate' | 'mean';
  trainLoss: number | null;
  dev: SplitScore | null;
}

export interface HistoryEntry {
  generation: number;
  bestLoss: number;
  meanLoss: number;
  trainAccuracy: number;
  devMetric: number | null;
  sigma: number;
}

export interface StartEvent {
  type: 'start';
  resumed: boolean;
  /** Generations already done (resume). */
  generation: number;
  totalGenerations: number;
  options: ResolvedTuneOptions;
  /** Prompt dimension D = promptLength × hidden. */
  promptDim: number;
  /** Dev score of the initial prompt z = x0, when evaluated. */
  initial: SplitScore | null;
}

export interface GenerationEvent {
  type: 'generation';
  generation: number;
  totalGenerations: number;
  forwardCalls: number;
  budget: number;
  evaluatorCalls: number;
  /** Training losses of this generation's candidates. */
  loss: { best: number; mean: number; worst: number };
  /** Training accuracy (and F1 on binary tasks) of this generation's best candidate. */
  train: { accuracy: number; f1: number | null };
  sigma: number;
  /** Dev score, when evaluated this generation (the better of the best candidate and the mean). */
  dev: (SplitScore & { source: 'candidate' | 'mean' }) | null;
  /** The selected prompt so far (null until one has been scored on dev, or on train without a dev batch). */
  best: { generation: number; source: BestPrompt['source']; trainLoss: number | null; dev: SplitScore | null } | null;
  improved: boolean;
  /** Wall time of the whole run so far (all sessions), of this generation, and the estimate to the end. */
  elapsedMs: number;
  generationMs: number;
  etaMs: number | null;
  /** Cumulative traffic, when the evaluator meters it. */
  bytes?: number;
  rounds?: number;
}

export type StopReason = 'budget' | 'maxGenerations' | 'patience' | 'converged' | 'aborted';

export interface TuneResult {
  reason: StopReason;
  /** Detail of the stop (CMA-ES's termination criteria for 'converged'). */
  detail: string;
  /** False when stopped on request: the checkpoint can be resumed. */
  complete: boolean;
  generations: number;
  forwardCalls: number;
  evaluatorCalls: number;
  elapsedMs: number;
  best: BestPrompt | null;
  initial: SplitScore | null;
  test: SplitScore | null;
  history: HistoryEntry[];
  options: ResolvedTuneOptions;
  bytes?: number;
  rounds?: number;
}

export interface DoneEvent {
  type: 'done';
  result: TuneResult;
}

export type TuneEvent = StartEvent | GenerationEvent | DoneEvent;

const OPTION_KEYS = new Set([
  'evaluator', 'labels', 'seed', 'dim', 'projection', 'projectionStd', 'projectionAlpha', 'p0', 'popsize', 'sigma0',
  'bound', 'budget', 'maxGenerations', 'loss', 'margin', 'metric', 'evalEvery', 'patience', 'evalInitial',
  'checkpoint', 'resume', 'overwrite', 'signal', 'dataHashes', 'metadata',
]); // prettier-ignore

function invalid(message: string): never {
  throw new SecpError('ERR_INVALID_ARGUMENT', message);
}

function intOption(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
    invalid(`${name} must be an integer ${range}, got ${String(v)}`);
  }
  return v;
}

function positive(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) invalid(`${name} must be a finite number > 0, got ${String(v)}`);
  return v;
}

function oneOf<T extends string>(name: string, v: unknown, values: readonly T[]): T {
  if (!values.includes(v as T)) invalid(`${name} must be one of ${values.map((x) => `'${x}'`).join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** Validates every option once; messages name the option and the accepted range. */
export function resolveTuneOptions(options: TuneOptions): ResolvedTuneOptions {
  if (options === null || typeof options !== 'object') invalid('tune options must be an object');
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) invalid(`unknown tune option '${key}'; accepted: ${[...OPTION_KEYS].join(', ')}`);
  }
  const d = TUNE_DEFAULTS;
  const ev = options.evaluator;
  if (ev === null || typeof ev !== 'object' || typeof ev.evaluate !== 'function' || typeof ev.batchSize !== 'function') {
    invalid('evaluator must implement the Evaluator interface (evaluate, batchSize, promptLength, hidden, numLabels)');
  }
  intOption('evaluator.promptLength', ev.promptLength, 1);
  intOption('evaluator.hidden', ev.hidden, 1);
  intOption('evaluator.numLabels', ev.numLabels, 2);
  const seed = intOption('seed', options.seed ?? d.seed, 0);
  const dim = intOption('dim', options.dim ?? d.dim, 1, 100_000);
  const projection = oneOf('projection', options.projection ?? d.projection, ['uniform', 'normal'] as const);
  const popsize = intOption('popsize', options.popsize ?? d.popsize, 2, 100_000);
  const sigma0 = positive('sigma0', options.sigma0 ?? d.sigma0);
  let projectionStd: number | null = null;
  if (options.projectionStd !== undefined) {
    if (projection !== 'normal') invalid("projectionStd applies to projection 'normal' only");
    if (options.projectionStd === 'embedding') {
      const std = ev.embeddingStd;
      if (std === undefined) invalid("projectionStd 'embedding' needs an evaluator that reports embeddingStd");
      projectionStd = embeddingScaledStd(std, dim, sigma0, positive('projectionAlpha', options.projectionAlpha ?? d.projectionAlpha));
    } else {
      projectionStd = positive('projectionStd', options.projectionStd);
    }
  } else if (options.projectionAlpha !== undefined) {
    invalid("projectionAlpha applies to projectionStd 'embedding' only");
  }
  const bound = options.bound ?? d.bound;
  if (typeof bound !== 'number' || !Number.isFinite(bound) || bound < 0) invalid(`bound must be a finite number >= 0 (0 = unbounded), got ${String(bound)}`);
  const budget = intOption('budget', options.budget ?? d.budget, popsize);
  const maxGen = options.maxGenerations ?? d.maxGenerations;
  const maxGenerations = maxGen === Infinity ? null : intOption('maxGenerations', maxGen, 1);
  const loss = oneOf('loss', options.loss ?? d.loss, ['ce', 'hinge'] as const);
  const margin = positive('margin', options.margin ?? d.margin);
  const metric = oneOf('metric', options.metric ?? d.metric, ['accuracy', 'f1'] as const);
  if (metric === 'f1' && ev.numLabels !== 2) invalid(`metric 'f1' needs a binary task; the evaluator has ${ev.numLabels} labels`);
  const evalEvery = intOption('evalEvery', options.evalEvery ?? d.evalEvery, 1);
  const patience = intOption('patience', options.patience ?? d.patience, 0);
  const evalInitial = options.evalInitial ?? d.evalInitial;
  if (typeof evalInitial !== 'boolean') invalid('evalInitial must be a boolean');
  if (options.resume && !options.checkpoint) invalid('resume needs checkpoint (the file to continue)');
  if (options.checkpoint !== undefined && (typeof options.checkpoint !== 'string' || options.checkpoint === '')) {
    invalid('checkpoint must be a non-empty file path');
  }
  const labels = options.labels;
  if (labels === null || typeof labels !== 'object' || labels.train === undefined) invalid('labels.train is required');
  for (const split of ['train', 'dev', 'test'] as const) {
    const l = labels[split];
    const size = ev.batchSize(split);
    if (l === undefined) {
      if (split === 'train') invalid('labels.train is required');
      continue;
    }
    if (l.length !== size) invalid(`labels.${split} has ${l.length} labels but the evaluator's ${split} batch has ${size} examples`);
    for (let i = 0; i < l.length; i++) {
      if (!Number.isSafeInteger(l[i]) || l[i]! < 0 || l[i]! >= ev.numLabels) {
        invalid(`labels.${split}[${i}] = ${l[i]} is outside 0..${ev.numLabels - 1}`);
      }
    }
  }
  if (labels.train.length < 1) invalid('labels.train must not be empty');
  const D = ev.promptLength * ev.hidden;
  if (options.p0 !== undefined && (!(options.p0 instanceof Float64Array) || options.p0.length !== D)) {
    invalid(`p0 must be a Float64Array of promptLength × hidden = ${D} values`);
  }
  return {
    seed, dim, projection, projectionStd, popsize, sigma0, bound, budget, maxGenerations, loss, margin, metric,
    evalEvery, patience, evalInitial,
  }; // prettier-ignore
}

function hashNumbers(values: ArrayLike<number>): string {
  return createHash('sha256').update(JSON.stringify(Array.from(values))).digest('hex');
}

/** What a checkpoint must match to be resumed: settings, evaluator and data. JSON-normalised. */
function fingerprintOf(options: TuneOptions, resolved: ResolvedTuneOptions): Record<string, unknown> {
  const labels: Record<string, string> = {};
  for (const split of ['train', 'dev', 'test'] as const) {
    const l = options.labels[split];
    if (l !== undefined) labels[split] = hashNumbers(l);
  }
  const ev = options.evaluator;
  return JSON.parse(
    JSON.stringify({
      options: resolved,
      evaluator: {
        promptLength: ev.promptLength,
        hidden: ev.hidden,
        numLabels: ev.numLabels,
        batches: { train: ev.batchSize('train'), dev: ev.batchSize('dev'), test: ev.batchSize('test') },
        description: ev.describe?.() ?? null,
      },
      data: { labels, p0: options.p0 ? hashNumbers(options.p0) : null, ...(options.dataHashes ?? {}) },
    }),
  ) as Record<string, unknown>;
}

/** Everything that changes during a run (besides CMA-ES), as stored in checkpoints. */
interface Progress {
  generation: number;
  forwardCalls: number;
  evaluatorCalls: number;
  elapsedMs: number;
  meter: EvaluatorMeter | null;
  initial: SplitScore | null;
  best: (Omit<BestPrompt, 'z'> & { z: number[] }) | null;
  history: HistoryEntry[];
  /** Set once a deterministic stop condition held after the last generation: only the test evaluation is left. */
  stop: { reason: Exclude<StopReason, 'aborted'>; detail: string } | null;
}

interface Checkpoint {
  format: typeof CHECKPOINT_FORMAT;
  version: typeof CHECKPOINT_VERSION;
  status: 'running' | 'finished';
  savedAt: string;
  fingerprint: Record<string, unknown>;
  metadata: Record<string, unknown>;
  cmaes: CMAESState;
  progress: Progress;
  result: (Omit<TuneResult, 'best'> & { best: Progress['best'] }) | null;
}

function splitScore(s: BatchScore, metric: Metric): SplitScore {
  return { ...s, metric: metric === 'f1' ? (s.f1 ?? 0) : s.accuracy };
}

/** Better dev score: higher metric, then lower loss. */
function betterDev(a: SplitScore, b: SplitScore | null): boolean {
  if (b === null) return true;
  return a.metric > b.metric || (a.metric === b.metric && a.loss < b.loss);
}

function toBest(b: Progress['best']): BestPrompt | null {
  return b === null ? null : { ...b, z: Float64Array.from(b.z) };
}

/** The run's projection z → p (D = promptLength × hidden): what turns a result's best z into its prompt. */
export function projectionOf(o: ResolvedTuneOptions, D: number): RandomProjection {
  return new RandomProjection({ d: o.dim, D, kind: o.projection, seed: o.seed, ...(o.projectionStd !== null ? { std: o.projectionStd } : {}) });
}

/** Async iterator over the run's events: 'start', one 'generation' per CMA-ES generation, then 'done'. */
export async function* tune(options: TuneOptions): AsyncGenerator<TuneEvent, TuneResult, undefined> {
  const o = resolveTuneOptions(options);
  const ev = options.evaluator;
  const L = ev.numLabels;
  const D = ev.promptLength * ev.hidden;
  const fingerprint = fingerprintOf(options, o);
  const metadata = options.metadata ?? {};
  const hasDev = options.labels.dev !== undefined && options.labels.dev.length > 0;
  const hasTest = options.labels.test !== undefined && options.labels.test.length > 0;
  const labelsOf = (split: Split) => Int32Array.from(options.labels[split]!);
  const trainLabels = labelsOf('train');
  const devLabels = hasDev ? labelsOf('dev') : null;
  const totalGenerations = Math.min(o.maxGenerations ?? Infinity, Math.floor(o.budget / o.popsize));
  const projection = projectionOf(o, D);
  const p0 = options.p0;
  const project = (zs: readonly ArrayLike<number>[]) => projection.project(zs, p0);

  let es: CMAES;
  let progress: Progress;
  let finished: Checkpoint['result'] = null;
  const resumed = options.resume === true;
  if (resumed) {
    const path = options.checkpoint!;
    const cp = readCheckpointFile(path) as unknown as Checkpoint;
    const diff = firstDifference(cp.fingerprint, fingerprint);
    if (diff !== null) {
      throw new SecpError(
        'ERR_RESUME_MISMATCH',
        `cannot resume ${path}: this run differs from the checkpoint at ${diff} (checkpoint vs now); ` +
          'resume with the same settings, model and data, or start a new run',
      );
    }
    es = CMAES.fromState(cp.cmaes);
    progress = cp.progress;
    finished = cp.status === 'finished' ? cp.result : null;
  } else {
    if (options.checkpoint !== undefined && existsSync(options.checkpoint) && options.overwrite !== true) {
      throw new SecpError(
        'ERR_CHECKPOINT',
        `checkpoint ${options.checkpoint} already exists; resume it, choose another file, or allow overwrite`,
      );
    }
    es = new CMAES({
      x0: new Float64Array(o.dim),
      sigma0: o.sigma0,
      seed: o.seed,
      popsize: o.popsize,
      ...(o.bound > 0 ? { bounds: [-o.bound, o.bound] as const } : {}),
      maxFevals: o.budget,
    });
    progress = {
      generation: 0,
      forwardCalls: 0,
      evaluatorCalls: 0,
      elapsedMs: 0,
      meter: null,
      initial: null,
      best: null,
      history: [],
      stop: null,
    };
  }

  const meterBase = progress.meter ?? { bytes: 0, rounds: 0 };
  const meterNow = (): EvaluatorMeter | null => {
    const m = ev.meter?.();
    return m ? { bytes: meterBase.bytes + m.bytes, rounds: meterBase.rounds + m.rounds } : progress.meter;
  };
  const elapsedBase = progress.elapsedMs;
  const sessionStart = performance.now();
  const elapsed = () => elapsedBase + (performance.now() - sessionStart);

  const save = (status: Checkpoint['status'], result: Checkpoint['result']) => {
    if (options.checkpoint === undefined) return;
    const cp: Checkpoint = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      status,
      savedAt: new Date().toISOString(),
      fingerprint,
      metadata,
      cmaes: es.state(),
      progress,
      result,
    };
    writeJsonAtomic(options.checkpoint, cp);
  };

  const evaluate = async (prompts: Float64Array[], split: Split): Promise<Float64Array> => {
    const logits = await ev.evaluate(prompts, split);
    progress.evaluatorCalls++;
    const want = prompts.length * ev.batchSize(split) * L;
    if (!(logits instanceof Float64Array) || logits.length !== want) {
      throw new SecpError('ERR_SHAPE_MISMATCH', `evaluator returned ${logits?.length} logits for ${split}, expected ${want}`);
    }
    return logits;
  };
  const slice = (logits: Float64Array, c: number, B: number) => logits.subarray(c * B * L, (c + 1) * B * L);

  const makeResult = (reason: StopReason, detail: string, test: SplitScore | null): TuneResult => {
    const m = meterNow();
    return {
      reason,
      detail,
      complete: reason !== 'aborted',
      generations: progress.generation,
      forwardCalls: progress.forwardCalls,
      evaluatorCalls: progress.evaluatorCalls,
      elapsedMs: elapsed(),
      best: toBest(progress.best),
      initial: progress.initial,
      test,
      history: progress.history,
      options: o,
      ...(m ? { bytes: m.bytes, rounds: m.rounds } : {}),
    };
  };

  if (finished !== null) {
    const result: TuneResult = { ...finished, best: toBest(finished.best) };
    yield { type: 'start', resumed, generation: progress.generation, totalGenerations, options: o, promptDim: D, initial: progress.initial };
    yield { type: 'done', result };
    return result;
  }

  if (!resumed && o.evalInitial && hasDev) {
    const x0 = new Float64Array(o.dim);
    const dev = splitScore(scoreBatch(await evaluate(project([x0]), 'dev'), devLabels!, L, o.loss, o.margin), o.metric);
    progress.initial = dev;
    progress.best = { z: Array.from(x0), generation: 0, source: 'initial', trainLoss: null, dev };
  }
  if (!resumed) save('running', null);
  yield { type: 'start', resumed, generation: progress.generation, totalGenerations, options: o, promptDim: D, initial: progress.initial };

  let sessionGenerations = 0;
  let sessionGenerationMs = 0;
  while (progress.stop === null) {
    if (options.signal?.aborted) {
      const result = makeResult('aborted', 'stopped on request between generations', null);
      yield { type: 'done', result };
      return result;
    }
    const t0 = performance.now();
    const xs = es.ask();
    const C = xs.length;
    const B = trainLabels.length;
    const logits = await evaluate(project(xs), 'train');
    const scores = xs.map((_, c) => scoreBatch(slice(logits, c, B), trainLabels, L, o.loss, o.margin));
    const fitness = scores.map((s) => s.loss);
    fitness.forEach((f, c) => {
      if (!Number.isFinite(f)) {
        throw new SecpError('ERR_NON_FINITE', `candidate ${c} of generation ${progress.generation + 1} has loss ${f}; the logits are not finite`);
      }
    });
    es.tell(xs, fitness);
    progress.generation++;
    progress.forwardCalls += C;
    const g = progress.generation;
    let k = 0;
    for (let c = 1; c < C; c++) if (fitness[c]! < fitness[k]!) k = c;
    const mean = fitness.reduce((a, b) => a + b, 0) / C;

    // Deterministic stop conditions, known before this generation's dev evaluation.
    let stop: Progress['stop'] = null;
    const esStop = es.stop();
    if (progress.forwardCalls + es.popsize > o.budget) stop = { reason: 'budget', detail: `${progress.forwardCalls} of ${o.budget} forward calls used` };
    else if (o.maxGenerations !== null && g >= o.maxGenerations) stop = { reason: 'maxGenerations', detail: `${g} generations` };
    else if (esStop.length > 0) stop = { reason: 'converged', detail: `CMA-ES: ${esStop.join(', ')}` };

    let dev: GenerationEvent['dev'] = null;
    let improved = false;
    if (hasDev && (g % o.evalEvery === 0 || stop !== null)) {
      const zs = [xs[k]!, es.mean];
      const devLogits = await evaluate(project(zs), 'dev');
      const Bd = devLabels!.length;
      const cand = splitScore(scoreBatch(slice(devLogits, 0, Bd), devLabels!, L, o.loss, o.margin), o.metric);
      const mn = splitScore(scoreBatch(slice(devLogits, 1, Bd), devLabels!, L, o.loss, o.margin), o.metric);
      const useMean = betterDev(mn, cand);
      dev = { ...(useMean ? mn : cand), source: useMean ? 'mean' : 'candidate' };
      if (betterDev(dev, progress.best?.dev ?? null)) {
        improved = true;
        progress.best = {
          z: Array.from(zs[useMean ? 1 : 0]!),
          generation: g,
          source: dev.source,
          trainLoss: useMean ? null : fitness[k]!,
          dev: { ...(useMean ? mn : cand) },
        };
      }
    } else if (!hasDev && (progress.best === null || fitness[k]! < progress.best.trainLoss!)) {
      improved = true;
      progress.best = { z: Array.from(xs[k]!), generation: g, source: 'candidate', trainLoss: fitness[k]!, dev: null };
    }
    if (stop === null && hasDev && o.patience > 0 && g - (progress.best?.generation ?? 0) >= o.patience) {
      stop = { reason: 'patience', detail: `no dev improvement for ${g - (progress.best?.generation ?? 0)} generations` };
    }
    progress.stop = stop;
    progress.history.push({
      generation: g,
      bestLoss: fitness[k]!,
      meanLoss: mean,
      trainAccuracy: scores[k]!.accuracy,
      devMetric: dev?.metric ?? null,
      sigma: es.sigma,
    });
    const m = meterNow();
    progress.meter = m;
    progress.elapsedMs = elapsed();
    save('running', null);

    const generationMs = performance.now() - t0;
    sessionGenerations++;
    sessionGenerationMs += generationMs;
    const remaining = Number.isFinite(totalGenerations) ? totalGenerations - g : null;
    const best = progress.best;
    yield {
      type: 'generation',
      generation: g,
      totalGenerations,
      forwardCalls: progress.forwardCalls,
      budget: o.budget,
      evaluatorCalls: progress.evaluatorCalls,
      loss: { best: fitness[k]!, mean, worst: Math.max(...fitness) },
      train: { accuracy: scores[k]!.accuracy, f1: scores[k]!.f1 },
      sigma: es.sigma,
      dev,
      best: best && { generation: best.generation, source: best.source, trainLoss: best.trainLoss, dev: best.dev },
      improved,
      elapsedMs: progress.elapsedMs,
      generationMs,
      etaMs: stop !== null ? 0 : remaining === null ? null : (sessionGenerationMs / sessionGenerations) * remaining,
      ...(m ? { bytes: m.bytes, rounds: m.rounds } : {}),
    };
  }

  let test: SplitScore | null = null;
  if (hasTest && progress.best !== null) {
    const logits = await evaluate(project([progress.best.z]), 'test');
    test = splitScore(scoreBatch(logits, labelsOf('test'), L, o.loss, o.margin), o.metric);
  }
  const result = makeResult(progress.stop.reason, progress.stop.detail, test);
  progress.meter = meterNow();
  progress.elapsedMs = result.elapsedMs;
  save('finished', { ...result, best: progress.best });
  yield { type: 'done', result };
  return result;
}

/** Runs `tune` to the end and returns its result (for callers that do not want the events). */
export async function runTune(options: TuneOptions, onEvent?: (e: TuneEvent) => void): Promise<TuneResult> {
  for await (const e of tune(options)) {
    onEvent?.(e);
    if (e.type === 'done') return e.result;
  }
  throw new SecpError('ERR_INTERNAL', 'tune ended without a result');
}
