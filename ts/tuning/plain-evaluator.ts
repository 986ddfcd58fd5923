/**
 * The plaintext Evaluator: the float64 reference forward (PlainEncoder's steps, softmax or RFA attention) on
 * the data owner's machine. No privacy at all; it is the accuracy reference for the MPC evaluator and the
 * quick way to try settings. With `threads` > 1 the (candidate, example) pairs are split into contiguous
 * ranges over worker threads, each holding its own copy of the model; every pair's logits are computed by the
 * same code whatever the split, so results do not depend on the thread count.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { SecpError } from '../../bindings/errors.js';
import { loadModel, maxSequenceLength, EMBEDDINGS, type LoadedModel } from '../model/config.js';
import { PlainEncoder, labelLogits, meanPool, type RfaOptions } from '../model/plain.js';
import type { Evaluator, Split } from './evaluator.js';
import { labelWordIds, type EncodedBatch, type ResolvedTask } from './task.js';

export type PromptMode = 'replace' | 'add';

export interface PlainEvaluatorOptions {
  /** A model folder or a loaded model. */
  model: string | LoadedModel;
  /** The folder a loaded `model` came from: worker threads (threads > 1) load their own copies from it. */
  modelDir?: string;
  task: ResolvedTask;
  batches: { train: EncodedBatch; dev?: EncodedBatch; test?: EncodedBatch };
  /** Default 'rfa', the attention the MPC forward runs. */
  attention?: 'softmax' | 'rfa';
  rfa?: RfaOptions;
  /** How the prompt enters the embeddings (see ts/model/README.md). Default 'add' (BBT's code). */
  promptMode?: PromptMode;
  /** Pooled kind: logits = logitScale × cosine. Default 20. */
  logitScale?: number;
  /** Worker threads; default 1 (compute on the calling thread). */
  threads?: number;
}

export const PLAIN_EVALUATOR_DEFAULTS = { attention: 'rfa', promptMode: 'add', logitScale: 20, threads: 1 } as const;

/** What the logits are read from: the MLM head's label rows, or pooled cosine against label embeddings. */
export type HeadSpec =
  | { kind: 'mlm'; labelIds: number[] }
  | { kind: 'pooled'; labelEmbeddings: Float64Array; logitScale: number };

/** Checks that every split's batch fits the model and the task (same prompt slots as train, labels in range). */
export function validateBatches(model: LoadedModel, task: ResolvedTask, batches: { train: EncodedBatch; dev?: EncodedBatch; test?: EncodedBatch }): void {
  const { config } = model;
  const first = batches.train;
  for (const split of ['train', 'dev', 'test'] as const) {
    const b = batches[split];
    if (b === undefined) continue;
    if (b.promptLength !== first.promptLength || b.promptStart !== first.promptStart) {
      invalid(`batches.${split} has ${b.promptLength} prompt slots at ${b.promptStart}, train has ${first.promptLength} at ${first.promptStart}`);
    }
    if (b.seqLen > maxSequenceLength(config)) invalid(`batches.${split}: seqLen ${b.seqLen} exceeds the model's ${maxSequenceLength(config)}`);
    for (let i = 0; i < b.labels.length; i++) {
      if (b.labels[i]! < 0 || b.labels[i]! >= task.labels.length) invalid(`batches.${split}: label ${b.labels[i]} out of range`);
    }
    if (task.kind === 'mlm' && b.maskPos.some((p) => p < 0 || p >= b.seqLen)) invalid(`batches.${split}: missing [MASK] positions`);
  }
}

/**
 * The head both evaluators read logits from: the MLM head's label-word rows, or (pooled kind) the mean-pooled,
 * L2-normalised embeddings of the task's public label texts, computed here in the clear with `fwd` (under MPC
 * the model owner does this once: the label texts are public, the embeddings reveal two vectors of the model).
 */
export function resolveHead(model: LoadedModel, fwd: PlainEncoder, task: ResolvedTask, logitScale: number): HeadSpec {
  if (task.kind === 'mlm') {
    if (!model.hasMlmHead) {
      throw new SecpError('ERR_MISSING_TENSOR', 'the model has no MLM head (a BertModel checkpoint); use the pooled kind');
    }
    return { kind: 'mlm', labelIds: labelWordIds(model.tokenizer, task) };
  }
  const texts = task.labelTexts!;
  const H = model.config.hidden;
  const labelEmbeddings = new Float64Array(texts.length * H);
  texts.forEach((text, l) => {
    const enc = model.tokenizer.encode(text);
    const hidden = fwd.forward({ ids: enc.ids, typeIds: enc.typeIds, attentionMask: enc.attentionMask });
    labelEmbeddings.set(meanPool(hidden, H, enc.attentionMask, true), l * H);
  });
  return { kind: 'pooled', labelEmbeddings, logitScale };
}

/** Everything a worker needs besides the model itself (structured-clone safe). */
export interface WorkerSetup {
  modelDir: string;
  attention: 'softmax' | 'rfa';
  rfa: RfaOptions;
  promptMode: PromptMode;
  head: HeadSpec;
  batches: Partial<Record<Split, EncodedBatch>>;
}

function invalid(message: string): never {
  throw new SecpError('ERR_INVALID_ARGUMENT', message);
}

/**
 * Logits of pairs [from, to) of a C × B population: pair k is candidate ⌊k/B⌋ on example k mod B. Returns
 * (to - from) × numLabels values.
 */
export function evaluatePairs(
  fwd: PlainEncoder,
  head: HeadSpec,
  batch: EncodedBatch,
  prompts: readonly Float64Array[],
  promptMode: PromptMode,
  from: number,
  to: number,
): Float64Array {
  const { size: B, seqLen: n } = batch;
  const H = fwd.config.hidden;
  const L = head.kind === 'mlm' ? head.labelIds.length : head.labelEmbeddings.length / H;
  const out = new Float64Array((to - from) * L);
  for (let k = from; k < to; k++) {
    const c = Math.floor(k / B);
    const b = k % B;
    // Batches are right-padded: the forward runs on the real tokens only. Every unmasked row's output is the
    // same bits either way (rows are independent in linear/LayerNorm, masked keys add exactly 0 in attention).
    let len = n;
    while (len > 1 && batch.attentionMask[b * n + len - 1] === 0) len--;
    const row = (a: Int32Array | Uint8Array) => a.subarray(b * n, b * n + len);
    const mask = row(batch.attentionMask);
    const hidden = fwd.forward({
      ids: row(batch.ids),
      typeIds: row(batch.typeIds),
      attentionMask: mask,
      ...(batch.promptLength > 0
        ? { prompt: { start: batch.promptStart, embeddings: prompts[c]!, mode: promptMode } }
        : {}),
    });
    let logits: Float64Array;
    if (head.kind === 'mlm') {
      logits = fwd.mlmLogits(hidden, batch.maskPos[b]!, head.labelIds);
    } else {
      logits = labelLogits(meanPool(hidden, H, mask), head.labelEmbeddings, 'cosine');
      for (let l = 0; l < L; l++) logits[l]! *= head.logitScale;
    }
    out.set(logits, (k - from) * L);
  }
  return out;
}

function hashBatch(batch: EncodedBatch): string {
  const h = createHash('sha256');
  for (const a of [batch.ids, batch.typeIds, batch.attentionMask, batch.maskPos, batch.labels]) {
    h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  h.update(JSON.stringify([batch.size, batch.seqLen, batch.promptStart, batch.promptLength]));
  return h.digest('hex');
}

const hashes = new WeakMap<LoadedModel, string>();

/**
 * sha256 over every tensor (name, shape, float32 bytes), in name order. Computed once per loaded model (the run
 * nonce and the evaluator's description both need it; a loaded model's weights do not change).
 */
export function weightsHash(model: LoadedModel): string {
  const known = hashes.get(model);
  if (known !== undefined) return known;
  const h = createHash('sha256');
  for (const name of [...model.weights.keys()].sort()) {
    const t = model.weights.get(name)!;
    h.update(`${name}:${t.shape.join('x')}\n`);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  const digest = h.digest('hex');
  hashes.set(model, digest);
  return digest;
}

interface Pending {
  resolve: (v: Float64Array) => void;
  reject: (e: Error) => void;
}

class WorkerHandle {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | null = null;
  readonly ready: Promise<void>;

  constructor(private readonly worker: Worker) {
    this.ready = new Promise((resolve, reject) => {
      worker.once('message', (m: { ready?: true; fatal?: string; code?: string }) => {
        if (m.ready) resolve();
        else reject(new SecpError(m.code ?? 'ERR_WORKER', `plaintext worker failed to start: ${m.fatal}`));
        worker.on('message', (msg: { id: number; logits?: Float64Array; error?: string; code?: string }) => {
          const p = this.pending.get(msg.id);
          if (!p) return;
          this.pending.delete(msg.id);
          if (msg.logits) p.resolve(msg.logits);
          else p.reject(new SecpError(msg.code ?? 'ERR_WORKER', msg.error ?? 'worker error'));
        });
      });
      const fail = (err: Error) => {
        this.failure = err;
        reject(err);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      };
      worker.on('error', (err) => fail(new SecpError('ERR_WORKER', `plaintext worker crashed: ${err.message}`, { cause: err })));
      worker.on('exit', (code) => {
        if (code !== 0) fail(new SecpError('ERR_WORKER', `plaintext worker exited with code ${code}`));
      });
    });
  }

  run(split: Split, prompts: readonly Float64Array[], from: number, to: number): Promise<Float64Array> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, split, prompts, from, to });
    });
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

export class PlainEvaluator implements Evaluator {
  readonly promptLength: number;
  readonly hidden: number;
  readonly numLabels: number;
  readonly embeddingStd: number;
  private readonly fwd: PlainEncoder;
  private readonly head: HeadSpec;
  private readonly batches: Partial<Record<Split, EncodedBatch>>;
  private readonly promptMode: PromptMode;
  private readonly description: Record<string, unknown>;
  private workers: WorkerHandle[] = [];

  private constructor(
    model: LoadedModel,
    fwd: PlainEncoder,
    head: HeadSpec,
    batches: Partial<Record<Split, EncodedBatch>>,
    promptMode: PromptMode,
    description: Record<string, unknown>,
  ) {
    this.fwd = fwd;
    this.head = head;
    this.batches = batches;
    this.promptMode = promptMode;
    this.promptLength = batches.train!.promptLength;
    this.hidden = model.config.hidden;
    this.numLabels = head.kind === 'mlm' ? head.labelIds.length : head.labelEmbeddings.length / model.config.hidden;
    this.description = description;
    const emb = model.weights.get(`${EMBEDDINGS.word}.weight`)!.data;
    let mean = 0;
    for (let i = 0; i < emb.length; i++) mean += emb[i]!;
    mean /= emb.length;
    let v = 0;
    for (let i = 0; i < emb.length; i++) v += (emb[i]! - mean) ** 2;
    this.embeddingStd = Math.sqrt(v / emb.length);
  }

  /** Validates options, loads the model (and starts the workers), embeds the pooled label texts. */
  static async create(options: PlainEvaluatorOptions): Promise<PlainEvaluator> {
    const { task, batches } = options;
    const attention = options.attention ?? PLAIN_EVALUATOR_DEFAULTS.attention;
    if (attention !== 'softmax' && attention !== 'rfa') invalid(`attention must be 'softmax' or 'rfa', got ${JSON.stringify(attention)}`);
    const promptMode = options.promptMode ?? PLAIN_EVALUATOR_DEFAULTS.promptMode;
    if (promptMode !== 'replace' && promptMode !== 'add') {
      invalid(`promptMode must be 'replace' or 'add', got ${JSON.stringify(promptMode)}`);
    }
    const logitScale = options.logitScale ?? PLAIN_EVALUATOR_DEFAULTS.logitScale;
    if (!(logitScale > 0 && Number.isFinite(logitScale))) invalid(`logitScale must be a positive number, got ${logitScale}`);
    const threads = options.threads ?? PLAIN_EVALUATOR_DEFAULTS.threads;
    if (!Number.isSafeInteger(threads) || threads < 1 || threads > 256) invalid(`threads must be an integer in 1..256, got ${threads}`);
    const modelDir = typeof options.model === 'string' ? options.model : options.modelDir;
    if (threads > 1 && modelDir === undefined) invalid('threads > 1 needs the model folder (model as a path, or modelDir)');
    if (batches?.train === undefined) invalid('batches.train is required');
    const model = typeof options.model === 'string' ? loadModel(options.model) : options.model;
    const { config } = model;

    validateBatches(model, task, batches);

    const rfa: RfaOptions = attention === 'rfa' ? { ...options.rfa } : {};
    const fwd = new PlainEncoder(model, { attention, rfa });
    const head = resolveHead(model, fwd, task, logitScale);
    const resolvedRfa =
      fwd.rfa === undefined
        ? null
        : {
            kernel: fwd.rfa.kernel,
            features: fwd.rfa.features,
            seed: String(fwd.rfa.seed),
            tau: fwd.rfa.tau,
            epsNorm: fwd.rfa.epsNorm,
            epsDen: fwd.rfa.epsDen,
          };
    const description = {
      evaluator: 'plaintext',
      model: { config, weightsSha256: weightsHash(model) },
      task: { kind: task.kind, labels: task.labels, words: task.words, labelTexts: task.labelTexts },
      attention,
      rfa: resolvedRfa,
      promptMode,
      ...(task.kind === 'pooled' ? { logitScale } : {}),
      batches: Object.fromEntries(
        (['train', 'dev', 'test'] as const).filter((s) => batches[s]).map((s) => [s, hashBatch(batches[s]!)]),
      ),
    };
    const ev = new PlainEvaluator(model, fwd, head, { ...batches }, promptMode, description);
    if (threads > 1) {
      const setup: WorkerSetup = {
        modelDir: modelDir!,
        attention,
        rfa,
        promptMode,
        head,
        batches: { ...batches },
      };
      const url = new URL('./plain-worker.js', import.meta.url);
      ev.workers = Array.from({ length: threads }, () => new WorkerHandle(new Worker(url, { workerData: setup })));
      try {
        await Promise.all(ev.workers.map((w) => w.ready));
      } catch (err) {
        await ev.close();
        throw err;
      }
    }
    return ev;
  }

  batchSize(split: Split): number {
    return this.batches[split]?.size ?? 0;
  }

  describe(): Record<string, unknown> {
    return this.description;
  }

  async evaluate(prompts: readonly Float64Array[], split: Split): Promise<Float64Array> {
    const batch = this.batches[split];
    if (batch === undefined) invalid(`this evaluator has no ${split} split`);
    const D = this.promptLength * this.hidden;
    if (!Array.isArray(prompts) || prompts.length < 1) invalid('evaluate: prompts must be a non-empty array');
    prompts.forEach((p, c) => {
      if (!(p instanceof Float64Array) || p.length !== D) {
        throw new SecpError('ERR_SHAPE_MISMATCH', `prompt ${c} must be a Float64Array of ${this.promptLength}×${this.hidden} = ${D} values`);
      }
    });
    const total = prompts.length * batch.size;
    if (this.workers.length === 0) {
      return evaluatePairs(this.fwd, this.head, batch, prompts, this.promptMode, 0, total);
    }
    const T = this.workers.length;
    const parts = await Promise.all(
      this.workers.map((w, t) => w.run(split, prompts, Math.floor((total * t) / T), Math.floor((total * (t + 1)) / T))),
    );
    const out = new Float64Array(total * this.numLabels);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  async close(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    await Promise.all(ws.map((w) => w.terminate()));
  }
}
