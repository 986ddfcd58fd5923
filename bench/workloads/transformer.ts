/**
 * The private transformer (ts/model/mpc.ts) as bench workloads, on seeded random weights of real model shapes
 * (writeTinyModel: the vocabulary is the tiny model's few hundred words, which only sizes the once-per-session
 * embedding; that is set-up here, not part of a forward). Every forward workload runs one MpcEncoder.forward with
 * all five roles: the model owner shares the weights and the data owner the batch in the untimed set-up (the
 * servers also fix the weights and embed the batch there); the timed part is the data owner's forward call,
 * from its command to the logits it receives.
 *
 *   bert-base.forward.{rfa,softmax}       BERT-base shape, batch 32, seq 128 with 50 prompt tokens, MLM head:
 *                                         1 of 12 layers run (also on the LAN); `.full` (--full) runs all 12
 *   roberta-large.forward.{rfa,softmax}   RoBERTa-large shape (24 layers, hidden 1024): 1 layer at batch 8,
 *                                         extrapolated to batch 32; `.b32` and `.full` (24 layers) with --full
 *   minilm.cmaes-generation.{rfa,softmax} one CMA-ES generation (popsize 20) of a MiniLM-shaped model on the
 *                                         demo's batch: ask, project, one forward of all 20 candidates, score,
 *                                         tell (the data owner's side of ts/tuning/loop.ts); 1 of 6 layers run,
 *                                         `.full` (--full) runs all 6
 *   bert.seq.{rfa,softmax}.n<N>           scaling: one BERT-base layer, batch 1, n = 32…512
 *   bert.batch.{rfa,softmax}.b<B>         scaling: one BERT-base layer, n = 128, batch 1…64 (the batch-32 point is
 *                                         bert-base.forward; 8, 16 and 64 only with --full)
 * A workload run with fewer layers than its model carries params.layers < params.modelLayers (or a smaller
 * batch: params.modelBatch); the report extrapolates it (S0's per-layer time, metrics.layerMs, and the meter's
 * per-layer bytes) and marks the result. Each has the same computation in plaintext (ts/model/plain.ts, one
 * thread) as its baseline, and its analytic traffic (bench/analytic.ts) for the report's comparison with the
 * meter.
 */
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_SETTINGS } from '../../ts/cli/roles.js';
import { loadModel, type Arch, type LoadedModel } from '../../ts/model/config.js';
import { DataOwner, ModelOwner, MpcEncoder, joinParty, type MpcExample, type MpcSpec } from '../../ts/model/mpc.js';
import { PlainEncoder, labelLogits, meanPool, type RfaOptions } from '../../ts/model/plain.js';
import { Rng } from '../../ts/model/random.js';
import { writeTinyModel } from '../../ts/model/tiny.js';
import { CMAES } from '../../ts/tuning/cmaes.js';
import { crossEntropy } from '../../ts/tuning/losses.js';
import { TUNE_DEFAULTS } from '../../ts/tuning/loop.js';
import { PLAIN_EVALUATOR_DEFAULTS } from '../../ts/tuning/plain-evaluator.js';
import { RandomProjection } from '../../ts/tuning/projection.js';
import { FRAC_BITS } from '../../ts/ring/tensor.js';
import { forwardTraffic } from '../analytic.js';
import type { SettingName } from '../netem.js';
import type { PartyContext, SeriesPoint, Workload } from './types.js';

export interface ModelShape {
  arch: Arch;
  hidden: number;
  heads: number;
  intermediate: number;
  /** Layers of the real model. */
  layers: number;
}

export const MODEL_SHAPES = {
  'bert-base': { arch: 'bert', hidden: 768, heads: 12, intermediate: 3072, layers: 12 },
  'roberta-large': { arch: 'roberta', hidden: 1024, heads: 16, intermediate: 4096, layers: 24 },
  minilm: { arch: 'bert', hidden: 384, heads: 12, intermediate: 1536, layers: 6 },
} as const satisfies Record<string, ModelShape>;

export type ShapeName = keyof typeof MODEL_SHAPES;

/** One forward (or CMA-ES generation) to measure: every shape parameter is public. */
export interface ForwardCase {
  shape: ShapeName;
  attention: 'rfa' | 'softmax';
  /** Layers measured (the model is built with this many). */
  layers: number;
  batch: number;
  seq: number;
  prompt: number;
  /** Prompts per forward (C). */
  candidates: number;
  head: 'mlm' | 'pooled';
  /** RFA's random features per head (default RFA_DEFAULTS.features). */
  features?: number;
}

/** Positions every bench model has (the longest sequence of the scaling curve), so one model serves every length. */
const MAX_POSITIONS = 512;

/**
 * Where run-all keeps the models it generates during one invocation (an environment variable, so that worker
 * threads and child processes see it): every party of every run loads the model instead of generating it again.
 */
export const MODEL_CACHE_ENV = 'SECP_BENCH_MODELS';

/** The seeded model of a shape with `layers` layers (generated once per invocation when run-all set a cache). */
export function benchModel(shape: ShapeName, layers: number): LoadedModel {
  const s = MODEL_SHAPES[shape];
  const write = (dir: string) => writeTinyModel(dir, { arch: s.arch, seed: 1, layers, hidden: s.hidden, heads: s.heads, intermediate: s.intermediate, maxPositions: MAX_POSITIONS });
  const cache = process.env[MODEL_CACHE_ENV];
  if (cache !== undefined) {
    const dir = join(cache, `${shape}-${layers}`);
    if (!existsSync(dir)) {
      // Written aside and renamed into place, so a party never reads a half-written model; a racing writer's
      // rename fails harmlessly (the same bytes are already there).
      const tmp = mkdtempSync(join(cache, 'tmp-'));
      write(tmp);
      try {
        renameSync(tmp, dir);
      } catch {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
    return loadModel(dir);
  }
  const dir = mkdtempSync(join(tmpdir(), 'secp-bench-model-'));
  try {
    write(dir);
    return loadModel(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A padded batch of seeded tokens: lengths between seq/2 and seq, [MASK] before the final [SEP]. */
export function benchBatch(model: LoadedModel, examples: number, seq: number): MpcExample[] {
  const { config, tokenizer: tok } = model;
  return Array.from({ length: examples }, (_, b) => {
    const len = seq - Math.floor((b * seq) / (2 * examples));
    const ids = Array.from({ length: seq }, (_, i) => (i < len ? 5 + ((b * 7919 + i * 104729) % (config.vocabSize - 5)) : tok.padId));
    ids[0] = tok.clsId;
    ids[len - 1] = tok.sepId;
    ids[len - 2] = tok.maskId;
    return { ids, attentionMask: ids.map((_, i) => (i < len ? 1 : 0)), maskPos: len - 2 };
  });
}

/** C seeded prompts of P rows × hidden. */
export function benchPrompts(candidates: number, prompt: number, hidden: number): Float64Array[] {
  const rng = new Rng(2, 0x42);
  return Array.from({ length: candidates }, () => {
    const p = new Float64Array(prompt * hidden);
    rng.fillNormal(p, 0.5);
    return p;
  });
}

const LABEL_WORDS = ['great', 'terrible'];

function rfaOptions(c: ForwardCase): RfaOptions {
  return c.features === undefined ? {} : { features: c.features };
}

/** The public spec of a case. */
export function specOf(c: ForwardCase, model: LoadedModel): MpcSpec {
  return {
    config: model.config,
    attention: c.attention,
    rfa: rfaOptions(c),
    head: c.head === 'mlm' ? { kind: 'mlm', labelIds: LABEL_WORDS.map((w) => model.tokenizer.labelWordId(w)) } : { kind: 'pooled', labels: LABEL_WORDS.length, metric: 'cosine' },
    batch: { examples: c.batch, length: c.seq, promptLength: c.prompt },
  };
}

/** The pooled head's label embeddings [L, H] (public here: the model owner would embed the label texts). */
function labelEmbeddings(hidden: number): Float64Array {
  const e = new Float64Array(LABEL_WORDS.length * hidden);
  new Rng(3, 0x4c).fillNormal(e);
  return e;
}

/**
 * The plaintext forward of the same case (ts/model/plain.ts PlainEncoder: float32 weights, float64
 * activations, one thread): logits [C·B, L], candidate-major, as the MPC forward returns them.
 */
function plainForward(c: ForwardCase, model: LoadedModel): (prompts: readonly Float64Array[]) => Float64Array {
  const fwd = new PlainEncoder(model, { attention: c.attention, rfa: rfaOptions(c) });
  const examples = benchBatch(model, c.batch, c.seq);
  const H = model.config.hidden;
  const L = LABEL_WORDS.length;
  const labelIds = LABEL_WORDS.map((w) => model.tokenizer.labelWordId(w));
  const labels = labelEmbeddings(H);
  return (prompts) => {
    const out = new Float64Array(prompts.length * c.batch * L);
    prompts.forEach((p, k) => {
      examples.forEach((ex, b) => {
        const hidden = fwd.forward({ ids: ex.ids, attentionMask: ex.attentionMask, prompt: { start: 1, embeddings: p, mode: 'add' } });
        const logits = c.head === 'mlm' ? fwd.mlmLogits(hidden, ex.maskPos!, labelIds) : labelLogits(meanPool(hidden, H, ex.attentionMask!), labels, 'cosine');
        out.set(logits, (k * c.batch + b) * L);
      });
    });
    return out;
  };
}

/**
 * The data owner's side of one CMA-ES generation (ts/tuning/loop.ts): `ask` draws the population and projects it
 * to prompts, `tell` scores the logits of all candidates (cross-entropy) and updates the distribution.
 */
function cmaesGeneration(c: ForwardCase, hidden: number): { ask(): Float64Array[]; tell(logits: Float64Array): void } {
  const es = new CMAES({ x0: new Float64Array(DEMO_SETTINGS.dim), sigma0: TUNE_DEFAULTS.sigma0, seed: 0, popsize: c.candidates });
  const projection = new RandomProjection({ d: DEMO_SETTINGS.dim, D: c.prompt * hidden, kind: TUNE_DEFAULTS.projection, seed: 0 });
  const labels = Int32Array.from({ length: c.batch }, (_, b) => b % LABEL_WORDS.length);
  const L = LABEL_WORDS.length;
  const scale = c.head === 'pooled' ? PLAIN_EVALUATOR_DEFAULTS.logitScale : 1;
  let zs: Float64Array[] = [];
  return {
    ask: () => projection.project((zs = es.ask())),
    tell: (logits) => {
      const losses = zs.map((_, k) => crossEntropy(logits.subarray(k * c.batch * L, (k + 1) * c.batch * L).map((v) => v * scale), labels, L));
      es.tell(zs, losses);
    },
  };
}

interface ForwardState {
  /** S0, S1 and the dealer. */
  enc?: MpcEncoder;
  /** S0: when each phase of the forward began (performance.now()). */
  phases?: Map<string, number>;
  /** The data owner: the timed step. */
  step?: () => Promise<void>;
}

export interface TransformerWorkloadOptions {
  id: string;
  title: string;
  c: ForwardCase;
  /** One CMA-ES generation around the forward instead of a bare forward. */
  cmaes?: boolean;
  heavy?: boolean;
  /** Network settings to run under besides none; the report estimates the others (default: none of them). */
  settings?: readonly SettingName[];
  series?: SeriesPoint;
  /** Layers the report extrapolates to (default: the model's; a scaling point stays one layer). */
  modelLayers?: number;
  /** Batch the report extrapolates to (default: the batch run). */
  modelBatch?: number;
}

/**
 * Peak memory of a run with every party in this process, estimated from a measured one (BERT-base, batch 32 ×
 * seq 128: 10.8 GB): it grows with the tokens of a forward times the FFN width (the GELU's comparisons).
 */
function memoryBytes(c: ForwardCase): number {
  return 1e9 + c.candidates * c.batch * c.seq * MODEL_SHAPES[c.shape].intermediate * 800;
}

export function transformerWorkload(o: TransformerWorkloadOptions): Workload<ForwardState> {
  const { c } = o;
  const shape = MODEL_SHAPES[c.shape];
  return {
    id: o.id,
    group: 'transformer',
    title: o.title,
    heavy: o.heavy ?? false,
    // S0, S1 and the dealer join in the set-up, as runServer does (the dealer reads the data owner's run nonce first).
    mpc: false,
    roles: ['s0', 's1', 'dealer', 'data', 'model'],
    settings: o.settings ?? [],
    params: {
      model: c.shape,
      attention: c.attention,
      layers: c.layers,
      modelLayers: o.modelLayers ?? shape.layers,
      modelBatch: o.modelBatch ?? c.batch,
      batch: c.batch,
      seq: c.seq,
      prompt: c.prompt,
      candidates: c.candidates,
      head: c.head,
      ...(c.attention === 'rfa' ? { features: c.features ?? 64 } : {}),
    },
    ...(o.series ? { series: o.series } : {}),
    memoryBytes: memoryBytes(c),
    async setup(ctx: PartyContext) {
      const model = benchModel(c.shape, c.layers);
      const spec = specOf(c, model);
      if (ctx.role === 'model') {
        new ModelOwner(ctx.link, ctx.ring, spec).shareWeights(model.weights);
        return {};
      }
      if (ctx.role === 'data') {
        const data = new DataOwner(ctx.link, ctx.ring, spec);
        data.shareBatch(benchBatch(model, c.batch, c.seq), c.head === 'pooled' ? labelEmbeddings(shape.hidden) : undefined);
        const forward = async (prompts: Float64Array[]) => {
          const perCandidate = await data.forward(prompts);
          const all = new Float64Array(perCandidate.reduce((n, x) => n + x.length, 0));
          perCandidate.forEach((x, k) => all.set(x, k * x.length));
          return all;
        };
        if (o.cmaes) {
          const gen = cmaesGeneration(c, shape.hidden);
          return { step: async () => gen.tell(await forward(gen.ask())) };
        }
        const prompts = benchPrompts(c.candidates, c.prompt, shape.hidden);
        return { step: async () => void (await forward(prompts)) };
      }
      const phases = new Map<string, number>();
      const onPhase = ctx.role === 's0' ? (name: string) => void phases.set(name, performance.now()) : undefined;
      const party = await joinParty(ctx.role as 's0' | 's1' | 'dealer', ctx.link, ctx.ring);
      const enc = await MpcEncoder.setup(party, spec, onPhase ? { onPhase } : {});
      await enc.serveOne(); // the batch: one-hot embedding and its LayerNorm
      return { enc, phases };
    },
    async run(_ctx, s) {
      if (s.step) await s.step();
      else if (s.enc) await s.enc.serveOne();
    },
    async check(ctx, s) {
      if (ctx.role !== 's0') return undefined;
      // S0's mean time per layer, and of the attention in it (after the QKV product, before the output projection).
      const at = (name: string) => s.phases!.get(name)!;
      let layer = 0;
      let attention = 0;
      for (let l = 0; l < c.layers; l++) {
        layer += at(l + 1 < c.layers ? `layer ${l + 1}` : 'head') - at(`layer ${l}`);
        attention += at(`layer ${l} output`) - at(`layer ${l} attention`);
      }
      return { layerMs: layer / c.layers, attentionMs: attention / c.layers };
    },
    plain: () => {
      const model = benchModel(c.shape, c.layers);
      const forward = plainForward(c, model);
      if (o.cmaes) {
        const gen = cmaesGeneration(c, shape.hidden);
        return { run: () => gen.tell(forward(gen.ask())) };
      }
      const prompts = benchPrompts(c.candidates, c.prompt, shape.hidden);
      return { run: () => void forward(prompts) };
    },
    analytic: () => forwardTraffic(specOf(c, benchModel(c.shape, c.layers)), c.candidates, FRAC_BITS),
  };
}

const ATTENTIONS = ['rfa', 'softmax'] as const;
/** The scaling curves: sequence lengths at batch 1, batches at seq 128 (32 is the BERT-base forward itself). */
const SEQ_LENGTHS = [32, 64, 128, 256, 512] as const;
const BATCHES = [1, 2, 4, 8, 16, 64] as const;
/** Batches of the scaling curve from which a run is heavy (a few minutes per batch of 32 and variant). */
const HEAVY_BATCH = 8;

export function transformerWorkloads(): Workload[] {
  const list: Workload<ForwardState>[] = [];
  for (const a of ATTENTIONS) {
    const bert = (layers: number): ForwardCase => ({ shape: 'bert-base', attention: a, layers, batch: 32, seq: 128, prompt: 50, candidates: 1, head: 'mlm' });
    const roberta = (layers: number, batch: number): ForwardCase => ({ ...bert(layers), shape: 'roberta-large', batch });
    const minilm = (layers: number): ForwardCase => ({
      shape: 'minilm',
      attention: a,
      layers,
      // The demo's training batch: `shots` examples of each of sst2's 2 classes.
      batch: DEMO_SETTINGS.shots * 2,
      seq: DEMO_SETTINGS.seqLen,
      prompt: DEMO_SETTINGS.promptLength,
      candidates: TUNE_DEFAULTS.popsize,
      head: 'pooled',
      features: DEMO_SETTINGS.rfaFeatures,
    });
    const generation = `CMA-ES generation (${a}), MiniLM shape, popsize ${TUNE_DEFAULTS.popsize} × the demo's batch`;
    list.push(
      transformerWorkload({
        id: `bert-base.forward.${a}`,
        title: `BERT-base forward (${a}), batch 32 × seq 128, 1 of 12 layers`,
        c: bert(1),
        settings: ['lan'],
        series: { name: 'bert-batch', variant: a, x: 32, xLabel: 'batch (seq 128)' },
      }),
      transformerWorkload({ id: `bert-base.forward.${a}.full`, title: `BERT-base forward (${a}), batch 32 × seq 128, 12 layers`, c: bert(12), settings: ['lan'], heavy: true }),
      // RoBERTa-large at batch 32 takes about twice BERT-base's time: the default run measures batch 8.
      transformerWorkload({ id: `roberta-large.forward.${a}`, title: `RoBERTa-large forward (${a}), batch 8 × seq 128, 1 of 24 layers`, c: roberta(1, 8), modelBatch: 32 }),
      transformerWorkload({ id: `roberta-large.forward.${a}.b32`, title: `RoBERTa-large forward (${a}), batch 32 × seq 128, 1 of 24 layers`, c: roberta(1, 32), heavy: true }),
      transformerWorkload({ id: `roberta-large.forward.${a}.full`, title: `RoBERTa-large forward (${a}), batch 32 × seq 128, 24 layers`, c: roberta(24, 32), heavy: true }),
      transformerWorkload({ id: `minilm.cmaes-generation.${a}`, title: `${generation}, 1 of 6 layers`, c: minilm(1), cmaes: true }),
      transformerWorkload({ id: `minilm.cmaes-generation.${a}.full`, title: `${generation}, 6 layers`, c: minilm(6), cmaes: true, heavy: true }),
    );
    for (const n of SEQ_LENGTHS) {
      list.push(transformerWorkload({
        id: `bert.seq.${a}.n${n}`,
        title: `BERT-base layer (${a}), batch 1 × seq ${n}`,
        c: { ...bert(1), batch: 1, seq: n, prompt: Math.min(50, n / 2) },
        modelLayers: 1,
        series: { name: 'bert-seq', variant: a, x: n, xLabel: 'sequence length (batch 1)' },
      }));
    }
    for (const b of BATCHES) {
      list.push(transformerWorkload({
        id: `bert.batch.${a}.b${b}`,
        title: `BERT-base layer (${a}), batch ${b} × seq 128`,
        c: { ...bert(1), batch: b },
        modelLayers: 1,
        heavy: b >= HEAVY_BATCH,
        series: { name: 'bert-batch', variant: a, x: b, xLabel: 'batch (seq 128)' },
      }));
    }
  }
  return list as Workload[];
}
