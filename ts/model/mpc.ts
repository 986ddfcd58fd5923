/**
 * The private transformer: the MPC forward of the graph PlainEncoder computes (ts/model/plain.ts), op for op,
 * for the roles of DESIGN §1. S0, S1 and the dealer run MpcEncoder (SPMD: the dealer follows with shapes only);
 * the model owner shares its weights once (ModelOwner); the data owner shares its batch once and its prompts
 * every call, and alone receives the logits (DataOwner). Every shape (config, batch size, sequence length,
 * prompt length, number of candidates, label ids) is public; every value is secret.
 *
 * Session set-up (once):
 *   - M shares each weight in f-bit fixed point; the servers open W - B once per weight (fixed-weight mask
 *     reuse, DESIGN §3). Matrices go in as [in, out] (Wq|Wk|Wv concatenated: Q, K, V are one product),
 *     LayerNorm gammas as row weights, biases and betas stay plain shares added with addRow.
 *   - The word, position and token-type tables are stacked into one [V + P_max + T_types, H] weight.
 * Batch (once per session, cached as shares):
 *   - D shares, per token, one row holding three integer 1s (word id, position id, type id) in that stacked
 *     index space: the embedding sum is ONE fixed-weight product onehot [T × V'] · table [V' × H], exact (integer
 *     times fixed point, no truncation), 1 round. Neither the ids nor the lengths nor the padding are revealed
 *     (RoBERTa's position ids depend on the padding: they are inside the one-hot too). This is the dominant
 *     session cost: D sends T·V' words to each server, each server opens T·V' words and computes
 *     2·T·V'·H multiply-adds, the dealer T·V'·H and sends T·H words (T = B·n, V' ≈ vocabulary size). For
 *     bert-base (V' = 31 036) and B·n = 2048: 0.5 GB from D to each server, 0.5 GB each way between the
 *     servers, and 2.4·10^11 multiply-adds over the three parties (≈ 35 s of native kernels on 2 cores), once.
 *     The product runs in row chunks (MPC_DEFAULTS.embedChunkWords) so no message exceeds the frame limit.
 *   - Then the embedding LayerNorm. D also shares the padding mask (integer 0/1 per token) and, for the MLM
 *     head, a one-hot of the [MASK] position per sequence (integer); for the pooled head, the pooling weights
 *     mask_t / count (f bits: D knows its own lengths, so no private reciprocal is needed) and the label
 *     embeddings ([H, L], unit rows for 'cosine'), which become a fixed weight.
 * Forward (every call; C candidates × B examples = S sequences in one pass, rounds independent of C and B):
 *   - D shares the C prompts [C·P, H]; they are added to the cached embedding output at the prompt slots
 *     (BBT's 'add' mode, after the embedding LayerNorm, as BBT's modeling_roberta does).
 *   - Per layer: QKV product + truncation + bias; attention (ts/model/mpc-attention.ts: 'rfa' or 'softmax')
 *     returning the context (softmax: 2f bits, truncated once after the output projection); residual; LayerNorm;
 *     FFN with the piecewise GELU (geluApprox in float64: a cosine series on [−4, 4] in v2, a polynomial in v1;
 *     its comparisons are exact for |x| < 2^15 − 5, as LayerNorm already needs |x − mean| < 2^15); residual;
 *     LayerNorm.
 *   - MLM head: the [MASK] row of each sequence by a secret one-hot product (matmulManyRaw, one round for all),
 *     dense → GELU → LayerNorm → the label-word rows of the decoder + their biases (M shares only those; the
 *     label ids are public). Logits are revealed with 2f fractional bits (no final truncation round).
 *   - Pooled head: masked mean by the pooling weights (one secret product per sequence, one round), then
 *     'dot' (mean · labels, 2f bits) or 'cosine' ((mean · unit labels) · rsqrt(|mean|²), 3f bits).
 *   - The logits are revealed to D only.
 *   - S1 paces the dealer (one empty message per half layer): the dealer only sends, and would otherwise run
 *     a whole forward ahead and queue all of its messages. It may run `dealerAhead` half layers ahead (a bounded
 *     queue: default 2, one layer), so that its work overlaps the servers' instead of alternating with it.
 * Error: ≈ 1e-3 per layer on unit-scale activations at f = 16 (dominated by LayerNorm's rsqrt and GELU's
 * fixed-point polynomial); test/model-mpc.test.ts checks ≤ 1e-2 on the logits of a 2-layer model.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { SecpError } from '../../bindings/errors.js';
import { fixWeight, matmulFixedRaw, matmulManyRaw, mulRaw, squareRaw, type FixedWeight } from '../mpc/beaver.js';
import { InputParty, input, reveal } from '../mpc/io.js';
import { broadcastCols, gelu, layerNorm, layerNormTop, rsqrt, type LayerNormWeights } from '../mpc/nonlinear.js';
import { Party, type ProtocolVersion, type Role } from '../mpc/party.js';
import { Shared, add, addRow, cat, mulInt } from '../mpc/shared.js';
import { truncate } from '../mpc/truncation.js';
import { createLocalNetwork } from '../net/local.js';
import type { Link, LinkOptions, PartyId } from '../net/types.js';
import type { Ring } from '../ring/tensor.js';
import { EMBEDDINGS, MLM_HEAD, encoderShapes, layerNames, maxSequenceLength, mlmHeadShapes, type ModelConfig, type Weights } from './config.js';
import { rfaAttention, softmaxAttention, type Range, type RfaSettings } from './mpc-attention.js';
import { positionIds, resolveRfa, type Floats, type RfaOptions } from './plain.js';

export type { Range } from './mpc-attention.js';

/** MLM head restricted to the verbalizer's label words (public ids). */
export interface MlmHeadSpec {
  kind: 'mlm';
  labelIds: readonly number[];
}

/** Mean-pooled embedding against L label embeddings that the data owner shares with its batch. */
export interface PooledHeadSpec {
  kind: 'pooled';
  labels: number;
  /** 'cosine' (as sentence-transformers compare embeddings) or 'dot'; plain.ts's labelLogits. */
  metric: 'cosine' | 'dot';
}

export interface MpcBatchShape {
  /** Examples B per batch. */
  examples: number;
  /** Tokens n per example (padded). */
  length: number;
  /** Prompt rows P added per example. */
  promptLength: number;
  /** First prompt slot (default 1: right after [CLS]/<s>, as BBT). */
  promptStart?: number;
}

export interface MpcRanges {
  /** Variance + eps of every LayerNorm input (rsqrt). */
  layerNorm: Range;
  /** |q|² + epsNorm per head (RFA's rsqrt). */
  qkNorm: Range;
  /** |mean|² of the pooled embedding (cosine head). */
  poolNorm: Range;
}

/** What every party agrees on before a session: all of it is public. */
export interface MpcSpec {
  config: ModelConfig;
  /** Default 'rfa'. */
  attention?: 'rfa' | 'softmax';
  /** RFA settings, resolved exactly as PlainEncoder does (same features). */
  rfa?: RfaOptions;
  head: MlmHeadSpec | PooledHeadSpec;
  batch: MpcBatchShape;
  ranges?: Partial<MpcRanges>;
  /**
   * Protocol versions (ts/mpc/party.ts ProtocolVersion): 'v2' (default) or 'v1', the protocols of commit
   * bc2c1c5, for side-by-side benches. Every party reads it from the same spec.
   */
  protocols?: ProtocolVersion;
}

/** Defaults of the MPC forward's tunables, in one place. */
export const MPC_DEFAULTS = {
  attention: 'rfa',
  promptStart: 1,
  ranges: {
    // Measured on bert-base-uncased and all-MiniLM-L6-v2: LayerNorm input variances 2^-5.4..2^10.3 with
    // softmax, up to 2^13.8 with RFA (clamped normalisers give attention outputs num/epsDen ~ 10^3), per-head
    // |q|², |k|² 2^0.9..2^8.3. Each octave costs one comparison per row (LayerNorm) or per (token, head); the
    // LayerNorm's squares need |x - mean| < 2^(31-f) anyway (2^15 at f = 16).
    layerNorm: { lo: -12, hi: 24 },
    // |q|² below 2^-6 is out of range (q̂ gets the wrong length): it only happens for q ≈ 0.
    qkNorm: { lo: -6, hi: 14 },
    poolNorm: { lo: -10, hi: 16 },
  },
  /** Softmax baseline: the bias that removes a padded key (e^-4096 = 0). */
  softmaxMaskBias: 4096,
  /** The one-hot embedding product runs in row chunks of at most this many words per operand. */
  embedChunkWords: 1 << 25,
  /** Most candidates per forward. */
  maxCandidates: 1 << 16,
  /** Pacing stretches the dealer may run ahead of the servers (MpcEncoderOptions.dealerAhead). */
  dealerAhead: 2,
} as const;

/** Commands from the data owner to the servers and the dealer (public metadata). */
const CMD = { end: 0n, batch: 1n, forward: 2n } as const;

function invalid(message: string): never {
  throw new SecpError('ERR_INVALID_ARGUMENT', message);
}

function shape(message: string): never {
  throw new SecpError('ERR_SHAPE_MISMATCH', message);
}

function positiveInt(name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) invalid(`${name} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

function checkRange(name: string, r: Range, f: number, top = 62 - 2 * f): Range {
  if (!Number.isInteger(r?.lo) || !Number.isInteger(r?.hi) || r.lo >= r.hi || r.lo < -f || r.hi > top) {
    invalid(`ranges.${name} must be integers -${f} <= lo < hi <= ${top}, got [${r?.lo}, ${r?.hi})`);
  }
  return { lo: r.lo, hi: r.hi };
}

/** A spec with defaults applied and everything checked; every role resolves it the same way. */
export interface ResolvedSpec {
  config: ModelConfig;
  attention: 'rfa' | 'softmax';
  rfa: ReturnType<typeof resolveRfa> | undefined;
  head: MlmHeadSpec | PooledHeadSpec;
  /** B, n, P, prompt start. */
  examples: number;
  length: number;
  promptLength: number;
  promptStart: number;
  ranges: MpcRanges;
  protocols: ProtocolVersion;
  /** Head width. */
  dh: number;
  /** Rows of the stacked embedding table (word, position, type). */
  tableRows: number;
  /** Logits per sequence. */
  labels: number;
}

export function resolveSpec(spec: MpcSpec, fracBits: number): ResolvedSpec {
  if (spec === null || typeof spec !== 'object') invalid('spec must be an object');
  const { config } = spec;
  const attention = spec.attention ?? MPC_DEFAULTS.attention;
  if (attention !== 'rfa' && attention !== 'softmax') invalid(`attention must be 'rfa' or 'softmax', got ${JSON.stringify(attention)}`);
  const b = spec.batch ?? invalid('spec.batch is required');
  const examples = positiveInt('batch.examples', b.examples);
  const length = positiveInt('batch.length', b.length);
  const promptLength = positiveInt('batch.promptLength', b.promptLength, 0);
  const promptStart = positiveInt('batch.promptStart', b.promptStart ?? MPC_DEFAULTS.promptStart, 0);
  const maxLen = maxSequenceLength(config);
  if (length > maxLen) shape(`batch.length ${length} exceeds the model's ${maxLen} positions`);
  if (promptStart + promptLength > length) shape(`prompt slots [${promptStart}, ${promptStart + promptLength}) do not fit in ${length} tokens`);
  const head = spec.head;
  let labels: number;
  if (head?.kind === 'mlm') {
    if (!Array.isArray(head.labelIds) || head.labelIds.length === 0) invalid('head.labelIds must be a non-empty array');
    for (const id of head.labelIds) {
      if (!Number.isSafeInteger(id) || id < 0 || id >= config.vocabSize) invalid(`label id ${id} is out of range 0..${config.vocabSize - 1}`);
    }
    labels = head.labelIds.length;
  } else if (head?.kind === 'pooled') {
    labels = positiveInt('head.labels', head.labels);
    if (head.metric !== 'cosine' && head.metric !== 'dot') invalid(`head.metric must be 'cosine' or 'dot', got ${JSON.stringify(head.metric)}`);
  } else {
    invalid(`head.kind must be 'mlm' or 'pooled', got ${JSON.stringify((head as { kind?: unknown })?.kind)}`);
  }
  const d = MPC_DEFAULTS.ranges;
  const r = spec.ranges ?? {};
  const protocols = spec.protocols ?? 'v2';
  if (protocols !== 'v1' && protocols !== 'v2') invalid(`protocols must be 'v1' or 'v2', got ${JSON.stringify(protocols)}`);
  // v2's LayerNorm sums squares with 2f bits: its variance range tops out at 2^lnTop (20 for BERT-base at f = 16).
  const lnTop = layerNormTop(fracBits, config.hidden);
  const rfa = attention === 'rfa' ? resolveRfa(config, spec.rfa) : undefined;
  if (rfa !== undefined && rfa.features * rfa.epsDen < 2 ** -fracBits) {
    invalid(`rfa.features × rfa.epsDen = ${rfa.features * rfa.epsDen} is below 2^-${fracBits}: the normaliser clamp would be 0 in fixed point`);
  }
  return {
    config,
    attention,
    rfa,
    head,
    examples,
    length,
    promptLength,
    promptStart,
    ranges: {
      layerNorm: checkRange('layerNorm', r.layerNorm ?? (protocols === 'v1' ? d.layerNorm : { lo: d.layerNorm.lo, hi: Math.min(d.layerNorm.hi, lnTop) }), fracBits,
        protocols === 'v1' ? undefined : lnTop),
      qkNorm: checkRange('qkNorm', r.qkNorm ?? d.qkNorm, fracBits),
      poolNorm: checkRange('poolNorm', r.poolNorm ?? d.poolNorm, fracBits),
    },
    protocols,
    dh: config.hidden / config.heads,
    tableRows: config.vocabSize + config.maxPositions + config.typeVocabSize,
    labels,
  };
}

/**
 * RFA's normaliser clamp: den is clamped below at floor = D·epsDen, and den < floor·2^octaves since
 * den ≤ D·n (|φ(q)·φ(k)| ≤ D), so the reciprocal compares against `octaves` thresholds.
 */
export function rfaDenominator(s: ResolvedSpec): { floor: number; octaves: number } {
  const r = s.rfa!;
  const floor = r.features * r.epsDen;
  return { floor, octaves: Math.max(1, Math.ceil(Math.log2((r.features * s.length) / floor)) + 1) };
}

/** Fractional bits of the revealed logits: 2f (MLM, pooled dot) or 3f (pooled cosine). */
function logitBits(s: ResolvedSpec, f: number): number {
  return s.head.kind === 'pooled' && s.head.metric === 'cosine' ? 3 * f : 2 * f;
}

// ---------------------------------------------------------------------------------------------------------
// Weights: one plan, read by the model owner (values) and the servers (shapes).

type WeightKind = 'matrix' | 'row' | 'vector';

interface WeightEntry {
  name: string;
  kind: WeightKind;
  /** [in, out] for matrices, [n] otherwise. */
  shape: number[];
  /** The checkpoint tensors it is built from. */
  sources: string[];
  build: (w: (name: string) => Float32Array) => Float64Array;
}

/** torch's [out, in] as [in, out], optionally scaled. */
function transposed(t: Float32Array, out: number, inp: number, scale = 1): Float64Array {
  const r = new Float64Array(out * inp);
  for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) r[i * out + o] = t[o * inp + i]! * scale;
  return r;
}

function weightPlan(s: ResolvedSpec): WeightEntry[] {
  const { config } = s;
  const { hidden: H, intermediate: I } = config;
  // Softmax: 1/√dh folded into Wq and bq (exact in float64, before encoding). RFA 'normalized' normalises q and
  // k anyway; RFA 'exp' takes q' = q·dh^(-1/4) and k' = k·dh^(-1/4) (q'·k' = q·k/√dh).
  const expKernel = s.rfa?.kernel === 'exp';
  const qScale = s.attention === 'softmax' ? 1 / Math.sqrt(s.dh) : expKernel ? s.dh ** -0.25 : 1;
  const kScale = expKernel ? s.dh ** -0.25 : 1;
  const vec = (name: string, n: number, src: string): WeightEntry => ({ name, kind: 'vector', shape: [n], sources: [src], build: (w) => Float64Array.from(w(src)) });
  const row = (name: string, src: string): WeightEntry => ({ name, kind: 'row', shape: [H], sources: [src], build: (w) => Float64Array.from(w(src)) });
  const mat = (name: string, out: number, inp: number, src: string): WeightEntry => ({
    name,
    kind: 'matrix',
    shape: [inp, out],
    sources: [src],
    build: (w) => transposed(w(src), out, inp),
  });
  const emb = [EMBEDDINGS.word, EMBEDDINGS.position, EMBEDDINGS.tokenType].map((e) => `${e}.weight`);
  const plan: WeightEntry[] = [
    {
      name: 'emb.table',
      kind: 'matrix',
      shape: [s.tableRows, H],
      sources: emb,
      build: (w) => {
        const t = new Float64Array(s.tableRows * H);
        let off = 0;
        for (const name of emb) {
          t.set(w(name), off);
          off += w(name).length;
        }
        return t;
      },
    },
    row('emb.ln.g', `${EMBEDDINGS.norm}.weight`),
    vec('emb.ln.b', H, `${EMBEDDINGS.norm}.bias`),
  ];
  for (let l = 0; l < config.layers; l++) {
    const n = layerNames(l);
    plan.push(
      {
        name: `l${l}.qkv.w`,
        kind: 'matrix',
        shape: [H, 3 * H],
        sources: [n.query, n.key, n.value].map((m) => `${m}.weight`),
        build: (w) => {
          const parts = [transposed(w(`${n.query}.weight`), H, H, qScale), transposed(w(`${n.key}.weight`), H, H, kScale), transposed(w(`${n.value}.weight`), H, H)];
          const r = new Float64Array(H * 3 * H);
          for (let i = 0; i < H; i++) parts.forEach((m, j) => r.set(m.subarray(i * H, (i + 1) * H), i * 3 * H + j * H));
          return r;
        },
      },
      {
        name: `l${l}.qkv.b`,
        kind: 'vector',
        shape: [3 * H],
        sources: [n.query, n.key, n.value].map((m) => `${m}.bias`),
        build: (w) => {
          const r = new Float64Array(3 * H);
          r.set(w(`${n.query}.bias`).map((v) => v * qScale));
          r.set(w(`${n.key}.bias`).map((v) => v * kScale), H);
          r.set(w(`${n.value}.bias`), 2 * H);
          return r;
        },
      },
      mat(`l${l}.o.w`, H, H, `${n.attnOut}.weight`),
      vec(`l${l}.o.b`, H, `${n.attnOut}.bias`),
      row(`l${l}.ln1.g`, `${n.attnNorm}.weight`),
      vec(`l${l}.ln1.b`, H, `${n.attnNorm}.bias`),
      mat(`l${l}.ffn1.w`, I, H, `${n.ffnIn}.weight`),
      vec(`l${l}.ffn1.b`, I, `${n.ffnIn}.bias`),
      mat(`l${l}.ffn2.w`, H, I, `${n.ffnOut}.weight`),
      vec(`l${l}.ffn2.b`, H, `${n.ffnOut}.bias`),
      row(`l${l}.ln2.g`, `${n.ffnNorm}.weight`),
      vec(`l${l}.ln2.b`, H, `${n.ffnNorm}.bias`),
    );
  }
  if (s.head.kind === 'mlm') {
    const m = MLM_HEAD[config.arch];
    const ids = s.head.labelIds;
    const L = ids.length;
    plan.push(
      mat('head.dense.w', H, H, `${m.dense}.weight`),
      vec('head.dense.b', H, `${m.dense}.bias`),
      row('head.ln.g', `${m.norm}.weight`),
      vec('head.ln.b', H, `${m.norm}.bias`),
      {
        name: 'head.dec.w',
        kind: 'matrix',
        shape: [H, L],
        sources: [`${m.decoder}.weight`],
        build: (w) => {
          const dec = w(`${m.decoder}.weight`);
          const r = new Float64Array(H * L);
          ids.forEach((id, j) => {
            for (let i = 0; i < H; i++) r[i * L + j] = dec[id * H + i]!;
          });
          return r;
        },
      },
      { name: 'head.dec.b', kind: 'vector', shape: [L], sources: [m.bias], build: (w) => Float64Array.from(ids, (id) => w(m.bias)[id]!) },
    );
  }
  return plan;
}

/** The model owner M: shares its weights into S0 and S1 once per session. */
export class ModelOwner {
  private readonly spec: ResolvedSpec;
  private readonly input: InputParty;

  /** `insecureKey` fixes the share masks: reproducible tests only. */
  constructor(readonly link: Link, readonly ring: Ring, spec: MpcSpec, opts: { insecureKey?: Uint8Array } = {}) {
    if (link.self !== 'model') invalid(`the model owner's link belongs to ${link.self}`);
    this.spec = resolveSpec(spec, ring.fracBits);
    this.input = new InputParty(link, ring.backend, opts.insecureKey);
  }

  /**
   * Shares every weight of the plan. All tensors are looked up and size-checked first, so nothing is sent
   * for an incomplete model.
   */
  shareWeights(weights: Weights): void {
    const { config } = this.spec;
    const plan = weightPlan(this.spec);
    const expected = new Map([...encoderShapes(config), ...mlmHeadShapes(config), [`${MLM_HEAD[config.arch].decoder}.weight`, [config.vocabSize, config.hidden]]]);
    for (const name of plan.flatMap((e) => e.sources)) {
      const t = weights.get(name);
      if (t === undefined) throw new SecpError('ERR_MISSING_TENSOR', `model has no tensor "${name}" (an MLM head needs a *ForMaskedLM checkpoint)`);
      const want = expected.get(name)!;
      if (t.data.length !== want.reduce((a, b) => a * b, 1)) shape(`tensor "${name}" has ${t.data.length} values, the config implies [${want.join(', ')}]`);
    }
    const get = (name: string): Float32Array => weights.get(name)!.data;
    for (const e of plan) this.input.share(`w.${e.name}`, this.ring.backend.encode(e.build(get), this.ring.fracBits));
  }
}

// ---------------------------------------------------------------------------------------------------------
// The data owner.

/** One example of the data owner's batch (already tokenised, padded to batch.length, prompt slots in place). */
export interface MpcExample {
  ids: ArrayLike<number>;
  /** Default all 0. */
  typeIds?: ArrayLike<number>;
  /** 1 for real tokens, 0 for padding; default all 1. */
  attentionMask?: ArrayLike<number>;
  /** The [MASK] position (MLM head). */
  maskPos?: number;
}

/** The data owner D: shares its batch once and prompts per call; the only party that sees logits. */
export class DataOwner {
  readonly spec: ResolvedSpec;
  private readonly input: InputParty;
  private batchShared = false;
  private busy = false;
  private closed = false;

  /**
   * `insecureKey` fixes the share masks: reproducible tests only. `nonce` (32 bytes, public; default random)
   * names the run for the dealer: a dealer with a persistent key (runServer's dealerKey) derives the session's
   * randomness from it, so a resumed run passes its first run's nonce again.
   */
  constructor(readonly link: Link, readonly ring: Ring, spec: MpcSpec, opts: { insecureKey?: Uint8Array; nonce?: Uint8Array } = {}) {
    if (link.self !== 'data') invalid(`the data owner's link belongs to ${link.self}`);
    if (opts.nonce !== undefined && opts.nonce.byteLength !== 32) invalid(`the run nonce must have 32 bytes, got ${opts.nonce.byteLength}`);
    this.spec = resolveSpec(spec, ring.fracBits);
    this.input = new InputParty(link, ring.backend, opts.insecureKey);
    link.send('dealer', 'setup.nonce', opts.nonce ?? new Uint8Array(randomBytes(32)));
  }

  private command(code: bigint, arg = 0n): void {
    const body = new Uint8Array(BigUint64Array.of(code, arg).buffer);
    for (const to of ['s0', 's1', 'dealer'] as const) this.link.send(to, 'cmd', body);
  }

  /**
   * Validates and shares the batch (once per session): the stacked one-hot rows, the padding mask, and the
   * head's inputs (mask-position one-hots, or pooling weights and `labelEmbeddings` [L × H] row-major).
   */
  shareBatch(examples: readonly MpcExample[], labelEmbeddings?: Floats): void {
    const s = this.spec;
    const { config } = s;
    const { examples: B, length: n } = s;
    const H = config.hidden;
    if (this.closed) throw new SecpError('ERR_INVALID_STATE', 'the session is closed');
    if (this.batchShared) throw new SecpError('ERR_INVALID_STATE', 'the batch is shared once per session');
    if (!Array.isArray(examples) || examples.length !== B) shape(`the batch has ${examples?.length} examples, the spec says ${B}`);
    const masks: number[][] = [];
    const onehotCols: number[][] = [];
    examples.forEach((ex, b) => {
      if (ex.ids?.length !== n) shape(`example ${b} has ${ex.ids?.length} ids, the spec says ${n}`);
      const types = ex.typeIds ?? new Array<number>(n).fill(0);
      const mask = ex.attentionMask ?? new Array<number>(n).fill(1);
      if (types.length !== n) shape(`example ${b}: typeIds has ${types.length} entries for ${n} ids`);
      if (mask.length !== n) shape(`example ${b}: attentionMask has ${mask.length} entries for ${n} ids`);
      const m: number[] = [];
      for (let t = 0; t < n; t++) {
        const id = ex.ids[t]!;
        if (!Number.isSafeInteger(id) || id < 0 || id >= config.vocabSize) invalid(`example ${b}: token id ${id} at ${t} is out of range`);
        if (!Number.isSafeInteger(types[t]) || types[t]! < 0 || types[t]! >= config.typeVocabSize) invalid(`example ${b}: type id ${types[t]} at ${t} is out of range`);
        if (mask[t] !== 0 && mask[t] !== 1) invalid(`example ${b}: attentionMask[${t}] must be 0 or 1`);
        m.push(mask[t]!);
      }
      if (!m.includes(1)) invalid(`example ${b}: every token is masked`);
      const pos = positionIds(config, ex.ids);
      onehotCols.push(Array.from({ length: n }, (_, t) => t).flatMap((t) => [ex.ids[t]!, config.vocabSize + pos[t]!, config.vocabSize + config.maxPositions + types[t]!]));
      masks.push(m);
      if (s.head.kind === 'mlm') {
        const mp = ex.maskPos;
        if (!Number.isSafeInteger(mp) || mp! < 0 || mp! >= n) invalid(`example ${b}: maskPos ${mp} is outside 0..${n - 1}`);
      }
    });
    let labelsT: Float64Array | undefined;
    if (s.head.kind === 'pooled') {
      const L = s.labels;
      if (labelEmbeddings === undefined || labelEmbeddings.length !== L * H) {
        shape(`the pooled head needs ${L} × ${H} label embeddings, got ${labelEmbeddings?.length ?? 'none'}`);
      }
      labelsT = new Float64Array(H * L);
      for (let l = 0; l < L; l++) {
        const rowv = labelEmbeddings.subarray(l * H, (l + 1) * H);
        let norm = 1;
        if (s.head.metric === 'cosine') {
          norm = 0;
          for (const v of rowv) norm += v * v;
          norm = Math.sqrt(norm);
          if (!(norm > 0)) invalid(`label embedding ${l} is zero`);
        }
        for (let i = 0; i < H; i++) labelsT[i * L + l] = rowv[i]! / norm;
      }
    } else if (labelEmbeddings !== undefined) {
      invalid('label embeddings belong to the pooled head');
    }

    const be = this.ring.backend;
    const f = this.ring.fracBits;
    this.command(CMD.batch);
    for (const [r0, r1] of embedChunks(s)) {
      const chunk = new BigUint64Array((r1 - r0) * s.tableRows);
      for (let r = r0; r < r1; r++) {
        const c = onehotCols[Math.floor(r / n)]!;
        const t = r % n;
        for (let k = 0; k < 3; k++) chunk[(r - r0) * s.tableRows + c[3 * t + k]!] = 1n;
      }
      this.input.share('batch.onehot', chunk);
    }
    this.input.share('batch.mask', BigUint64Array.from(masks.flat(), (v) => BigInt(v)));
    if (s.head.kind === 'mlm') {
      const sel = new BigUint64Array(B * n);
      examples.forEach((ex, b) => {
        sel[b * n + ex.maskPos!] = 1n;
      });
      this.input.share('batch.select', sel);
    } else {
      const w = new Float64Array(B * n);
      masks.forEach((m, b) => {
        const count = m.reduce((a, v) => a + v, 0);
        m.forEach((v, t) => {
          w[b * n + t] = v / count;
        });
      });
      this.input.share('batch.select', be.encode(w, f));
      this.input.share('batch.labels', be.encode(labelsT!, f));
    }
    this.batchShared = true;
  }

  /**
   * One batched forward of C candidate prompts (each P × H, row-major) over the whole batch. Returns, per
   * candidate, the B × L logits row-major.
   */
  async forward(prompts: readonly Floats[]): Promise<Float64Array[]> {
    const s = this.spec;
    const H = s.config.hidden;
    if (this.closed) throw new SecpError('ERR_INVALID_STATE', 'the session is closed');
    if (!this.batchShared) throw new SecpError('ERR_INVALID_STATE', 'shareBatch must come before forward');
    if (this.busy) throw new SecpError('ERR_INVALID_STATE', 'one forward at a time');
    if (!Array.isArray(prompts) || prompts.length < 1 || prompts.length > MPC_DEFAULTS.maxCandidates) {
      shape(`forward needs 1..${MPC_DEFAULTS.maxCandidates} prompts, got ${Array.isArray(prompts) ? prompts.length : typeof prompts}`);
    }
    const C = prompts.length;
    const width = s.promptLength * H;
    const all = new Float64Array(C * width);
    prompts.forEach((pr, c) => {
      if (!(pr instanceof Float64Array || pr instanceof Float32Array)) invalid(`prompt ${c} must be a Float64Array or Float32Array`);
      if (pr.length !== width) shape(`prompt ${c} has ${pr.length} values, expected ${s.promptLength} × ${H} = ${width}`);
      for (let i = 0; i < width; i++) if (!Number.isFinite(pr[i]!)) invalid(`prompt ${c} has a non-finite value at ${i}`);
      all.set(pr, c * width);
    });
    this.busy = true;
    try {
      const encoded = this.ring.backend.encode(all, this.ring.fracBits);
      this.command(CMD.forward, BigInt(C));
      // The forward's label: a hash of its inputs (the batch is fixed per session), see MpcEncoder.forward.
      const label = new Uint8Array(createHash('sha256').update(new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength)).digest());
      for (const to of ['s0', 's1', 'dealer'] as const) this.link.send(to, 'forward.label', label);
      this.input.share('prompt', encoded);
      const L = s.labels;
      const raw = await this.input.receive('logits', C * s.examples * L);
      const logits = this.ring.backend.decode(raw, logitBits(s, this.ring.fracBits));
      return Array.from({ length: C }, (_, c) => logits.slice(c * s.examples * L, (c + 1) * s.examples * L));
    } finally {
      this.busy = false;
    }
  }

  /** Ends the session for the servers and the dealer. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.command(CMD.end);
  }
}

/** Row ranges of the one-hot embedding product, so that no operand exceeds MPC_DEFAULTS.embedChunkWords. */
function embedChunks(s: ResolvedSpec): [number, number][] {
  const T = s.examples * s.length;
  const rows = Math.max(1, Math.floor(MPC_DEFAULTS.embedChunkWords / s.tableRows));
  const out: [number, number][] = [];
  for (let r = 0; r < T; r += rows) out.push([r, Math.min(T, r + rows)]);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// S0, S1 and the dealer.

interface LayerWeights {
  qkv: FixedWeight;
  qkvB: Shared;
  o: FixedWeight;
  oB: Shared;
  ln1: LayerNormWeights;
  ffn1: FixedWeight;
  ffn1B: Shared;
  ffn2: FixedWeight;
  ffn2B: Shared;
  ln2: LayerNormWeights;
}

interface BatchShares {
  /** Embedding output [B·n, H]. */
  x0: Shared;
  /** Integer 0/1 per token [B·n]. */
  mask: Shared;
  /** [B, n]: the [MASK] one-hot (integer) or the pooling weights (f bits). */
  select: Shared;
  /** Pooled head: [H, L]. */
  labels?: FixedWeight;
}

export interface MpcEncoderOptions {
  /**
   * Called by every role at each phase ('embed', 'forward', 'layer 0', 'layer 0 attention', 'layer 0 output',
   * 'layer 1', …, 'head', 'done'): timing hooks for benches.
   */
  onPhase?: (phase: string, role: Role) => void;
  /**
   * Dealer: how many pacing stretches (QKV + attention, or the FFN) it may run ahead of S1, an integer ≥ 1
   * (default MPC_DEFAULTS.dealerAhead; 1 is lock step). Each stretch ahead keeps that stretch's dealer messages
   * queued on the way to S1 (bench:transformer's per-op bytes show their size).
   */
  dealerAhead?: number;
}

/** The servers' and the dealer's side of the private transformer (SPMD, see the file header). */
export class MpcEncoder {
  private batch: BatchShares | undefined;
  /** Dealer: pacing points passed in this forward whose message from S1 has not been received yet. */
  private ahead = 0;

  private constructor(
    readonly p: Party,
    readonly spec: ResolvedSpec,
    private readonly emb: FixedWeight,
    private readonly embLn: LayerNormWeights,
    private readonly layers: LayerWeights[],
    private readonly head: { dense: FixedWeight; denseB: Shared; ln: LayerNormWeights; dec: FixedWeight; decB: Shared } | undefined,
    private readonly rfaKernels: BigUint64Array[][] | undefined,
    private readonly opts: MpcEncoderOptions,
  ) {}

  /** Receives M's weights and fixes them (one opening each): the session set-up. */
  static async setup(p: Party, spec: MpcSpec, opts: MpcEncoderOptions = {}): Promise<MpcEncoder> {
    const s = resolveSpec(spec, p.ring.fracBits);
    if (opts.dealerAhead !== undefined) positiveInt('dealerAhead', opts.dealerAhead);
    p.protocols = s.protocols;
    const f = p.ring.fracBits;
    const eps = s.config.layerNormEps;
    const got = new Map<string, FixedWeight | Shared>();
    for (const e of weightPlan(s)) {
      const x = await input(p, 'model', `w.${e.name}`, e.shape);
      if (e.kind === 'vector') got.set(e.name, x);
      else got.set(e.name, await fixWeight(p, e.kind === 'row' ? x.reshape([1, e.shape[0]!]) : x, `fix.${e.name}`));
    }
    const fw = (name: string) => got.get(name) as FixedWeight;
    const sh = (name: string) => got.get(name) as Shared;
    const ln = (prefix: string): LayerNormWeights => ({ gamma: fw(`${prefix}.g`), beta: sh(`${prefix}.b`), eps });
    const layers = Array.from({ length: s.config.layers }, (_, l): LayerWeights => ({
      qkv: fw(`l${l}.qkv.w`),
      qkvB: sh(`l${l}.qkv.b`),
      o: fw(`l${l}.o.w`),
      oB: sh(`l${l}.o.b`),
      ln1: ln(`l${l}.ln1`),
      ffn1: fw(`l${l}.ffn1.w`),
      ffn1B: sh(`l${l}.ffn1.b`),
      ffn2: fw(`l${l}.ffn2.w`),
      ffn2B: sh(`l${l}.ffn2.b`),
      ln2: ln(`l${l}.ln2`),
    }));
    const head =
      s.head.kind === 'mlm'
        ? { dense: fw('head.dense.w'), denseB: sh('head.dense.b'), ln: ln('head.ln'), dec: fw('head.dec.w'), decB: sh('head.dec.b') }
        : undefined;
    // Angles of q̂ with 2f fractional bits ('normalized'), of q' with f ('exp'; see rfaAttention).
    const angleBits = s.rfa?.kernel === 'exp' ? f : 2 * f;
    const kernels = s.rfa?.matrices.map((layer) => layer.map((w) => p.ring.backend.angleScale(w, angleBits)));
    return new MpcEncoder(p, s, fw('emb.table'), ln('emb.ln'), layers, head, kernels, opts);
  }

  private phase(name: string): void {
    this.opts.onPhase?.(name, this.p.role);
  }

  private local(shape: number[], f: () => BigUint64Array): Shared {
    return new Shared(shape, this.p.isDealer ? null : f());
  }

  /** Receives D's batch and computes the embedding output once (see the file header for its cost). */
  async loadBatch(): Promise<void> {
    const { p, spec: s } = this;
    const { examples: B, length: n } = s;
    const H = s.config.hidden;
    if (this.batch !== undefined) throw new SecpError('ERR_PROTOCOL_MISMATCH', 'the batch is shared once per session');
    this.phase('embed');
    const parts: Shared[] = [];
    for (const [r0, r1] of embedChunks(s)) {
      const onehot = await input(p, 'data', 'batch.onehot', [r1 - r0, s.tableRows]);
      parts.push(await matmulFixedRaw(p, onehot, this.emb, 'embed.lookup'));
    }
    const emb = cat(p, parts).reshape([B * n, H]);
    const x0 = await layerNorm(p, emb, this.embLn, 'embed.ln', s.ranges.layerNorm);
    const mask = await input(p, 'data', 'batch.mask', [B * n]);
    const select = await input(p, 'data', 'batch.select', [B, n]);
    let labels: FixedWeight | undefined;
    if (s.head.kind === 'pooled') labels = await fixWeight(p, await input(p, 'data', 'batch.labels', [H, s.labels]), 'fix.labels');
    this.batch = { x0, mask, select, labels };
  }

  /** [rows, w] repeated `times` times along the rows (local). */
  private tile(x: Shared, times: number): Shared {
    return this.local([x.shape[0]! * times, ...x.shape.slice(1)], () => {
      const out = new BigUint64Array(x.size * times);
      for (let c = 0; c < times; c++) out.set(x.s, c * x.size);
      return out;
    });
  }

  /** One batched forward of C candidates: receives the prompts, reveals the logits to D. */
  async forward(C: number): Promise<void> {
    const { p, spec: s } = this;
    const batch = this.batch;
    if (batch === undefined) throw new SecpError('ERR_PROTOCOL_MISMATCH', 'forward before the batch was shared');
    const { examples: B, length: n, promptLength: P, promptStart } = s;
    const H = s.config.hidden;
    const f = p.ring.fracBits;
    const be = p.ring.backend;
    this.phase('forward');
    // Every forward restarts the dealer's PRGs on its label (a hash of the prompts): a resumed run recomputes a
    // generation with the randomness of the uninterrupted run (same session keys, same prompts), bit for bit.
    const label = await p.link.recv('data', 'forward.label');
    if (label.byteLength !== 32) throw new SecpError('ERR_PROTOCOL_MISMATCH', `forward label has ${label.byteLength} bytes, expected 32`);
    p.rekey(label);
    const prompts = await input(p, 'data', 'prompt', [C * P, H]);
    let x = this.local([C * B * n, H], () => {
      const out = new BigUint64Array(C * B * n * H);
      for (let c = 0; c < C; c++) {
        out.set(batch.x0.s, c * B * n * H);
        const pr = prompts.s.subarray(c * P * H, (c + 1) * P * H);
        for (let b = 0; b < B; b++) {
          const at = ((c * B + b) * n + promptStart) * H;
          out.set(be.add(out.subarray(at, at + P * H), pr), at);
        }
      }
      return out;
    });
    const mask = this.tile(batch.mask, C);
    // Softmax: per-token bias 0 (real) or -bias (padding), f bits: (mask - 1)·bias, local.
    const maskBias =
      s.attention === 'softmax'
        ? this.local([C * B * n], () => {
            const big = be.encode(Float64Array.of(MPC_DEFAULTS.softmaxMaskBias), f)[0]!;
            const m = be.scalarMul(mask.s, big);
            return p.index === 0 ? be.sub(m, new BigUint64Array(m.length).fill(big)) : m;
          })
        : undefined;
    for (let l = 0; l < s.config.layers; l++) {
      await this.pace(l === 0);
      this.phase(`layer ${l}`);
      x = await this.layer(l, x, C * B, mask, maskBias);
    }
    this.phase('head');
    const logits = await this.headLogits(x, C);
    reveal(p, 'data', 'logits', logits);
    // The dealer collects the pacing messages still outstanding, so that every forward starts level.
    if (p.isDealer) await this.catchUp(1);
    this.phase('done');
  }

  /**
   * Flow control: the dealer only sends, so it would otherwise run up to a whole forward ahead of the servers
   * and queue all of its messages (tens of GB for bert-base). At each pacing point but a forward's first, S1
   * tells the dealer it got there and the dealer waits for that, so at most one stretch (QKV + attention, or
   * the FFN) of dealer messages is in flight. One empty message per point, off the servers' critical path.
   */
  private async pace(first = false): Promise<void> {
    const { p } = this;
    if (first) return;
    if (p.role === 's1') p.link.send('dealer', 'pace', new Uint8Array(0));
    else if (p.isDealer) {
      this.ahead++;
      await this.catchUp(this.opts.dealerAhead ?? MPC_DEFAULTS.dealerAhead);
    }
  }

  /** Dealer: receives S1's pacing messages until at most `window − 1` are outstanding. */
  private async catchUp(window: number): Promise<void> {
    while (this.ahead >= window) {
      await this.p.link.recv('s1', 'pace');
      this.ahead--;
    }
  }

  private async layer(l: number, x: Shared, seqs: number, mask: Shared, maskBias: Shared | undefined): Promise<Shared> {
    const { p, spec: s } = this;
    const w = this.layers[l]!;
    const f = p.ring.fracBits;
    const op = `l${l}`;
    const qkv = addRow(p, await truncate(p, await matmulFixedRaw(p, x, w.qkv, `${op}.qkv`), f, `${op}.qkv.trunc`), w.qkvB);
    const dims = { seqs, n: s.length, heads: s.config.heads, dh: s.dh };
    this.phase(`layer ${l} attention`);
    const { ctx, fracBits } =
      s.rfa !== undefined
        ? await rfaAttention(p, qkv, mask, dims, this.rfaSettings(l), `${op}.rfa`)
        : await softmaxAttention(p, qkv, maskBias!, dims, `${op}.attn`);
    this.phase(`layer ${l} output`);
    const a = await truncate(p, await matmulFixedRaw(p, ctx, w.o, `${op}.o`), fracBits, `${op}.o.trunc`);
    const x1 = await layerNorm(p, add(p, addRow(p, a, w.oB), x), w.ln1, `${op}.ln1`, s.ranges.layerNorm);
    await this.pace();
    let y: Shared;
    if (p.protocols === 'v1') {
      const h = addRow(p, await truncate(p, await matmulFixedRaw(p, x1, w.ffn1, `${op}.ffn1`), f, `${op}.ffn1.trunc`), w.ffn1B);
      const g = await gelu(p, h, `${op}.gelu`);
      y = addRow(p, await truncate(p, await matmulFixedRaw(p, g, w.ffn2, `${op}.ffn2`), f, `${op}.ffn2.trunc`), w.ffn2B);
    } else {
      // v2: the FFN's pre-activation is not truncated: GELU takes and returns 2f fractional bits, and the second
      // product (3f bits) is truncated by 2f, one truncation of the widest tensor fewer. Needs |FFN output| < 2^(62−3f).
      const lift = (b: Shared) => mulInt(p, b, 1n << BigInt(f));
      const h = addRow(p, await matmulFixedRaw(p, x1, w.ffn1, `${op}.ffn1`), lift(w.ffn1B));
      const g = await gelu(p, h, `${op}.gelu`, 2);
      y = addRow(p, await truncate(p, await matmulFixedRaw(p, g, w.ffn2, `${op}.ffn2`), 2 * f, `${op}.ffn2.trunc`), w.ffn2B);
    }
    return layerNorm(p, add(p, y, x1), w.ln2, `${op}.ln2`, s.ranges.layerNorm);
  }

  private rfaSettings(l: number): RfaSettings {
    const { spec: s } = this;
    const r = s.rfa!;
    const { floor, octaves } = rfaDenominator(s);
    return {
      kernel: r.kernel,
      features: r.features,
      kernels: this.rfaKernels![l]!,
      epsNorm: r.epsNorm,
      denFloor: floor,
      denOctaves: octaves,
      normRange: s.ranges.qkNorm,
    };
  }

  /** The head's logits [C·B, L] (2f or 3f fractional bits, see logitBits). */
  private async headLogits(x: Shared, C: number): Promise<Shared> {
    const { p, spec: s } = this;
    const batch = this.batch!;
    const { examples: B, length: n } = s;
    const H = s.config.hidden;
    const f = p.ring.fracBits;
    const be = p.ring.backend;
    const S = C * B;
    // Per sequence: select [1, n] · hidden [n, H] (the [MASK] row, or the weighted mean), one round for all.
    const sel = Array.from({ length: S }, (_, i) => {
      const b = i % B;
      return this.local([1, n], () => batch.select.s.subarray(b * n, (b + 1) * n));
    });
    const rows = Array.from({ length: S }, (_, i) => this.local([n, H], () => x.s.subarray(i * n * H, (i + 1) * n * H)));
    const picked = cat(p, await matmulManyRaw(p, sel, rows, 'head.select')).reshape([S, H]);
    if (s.head.kind === 'mlm') {
      const hd = this.head!;
      const t = addRow(p, await truncate(p, await matmulFixedRaw(p, picked, hd.dense, 'head.dense'), f, 'head.dense.trunc'), hd.denseB);
      const u = await layerNorm(p, await gelu(p, t, 'head.gelu'), hd.ln, 'head.ln', s.ranges.layerNorm);
      // Bias at 2f bits: the logits leave untruncated.
      return addRow(p, await matmulFixedRaw(p, u, hd.dec, 'head.dec'), mulInt(p, hd.decB, 1n << BigInt(f)));
    }
    const mean = await truncate(p, picked, f, 'head.mean.trunc');
    const dots = await matmulFixedRaw(p, mean, batch.labels!, 'head.labels');
    if (s.head.metric === 'dot') return dots;
    const sq = await squareRaw(p, mean, 'head.norm.sq');
    const norm2 = await truncate(p, this.local([S], () => be.sumAxis(sq.s, S, H, 1)), f, 'head.norm.trunc');
    const inv = await rsqrt(p, norm2, s.ranges.poolNorm, 'head.norm.rsqrt');
    return mulRaw(p, dots, broadcastCols(p, inv, s.labels), 'head.cos');
  }

  /** Serves the data owner's commands until it ends the session. */
  async serve(): Promise<void> {
    while (await this.serveOne());
  }

  /** Serves the data owner's next command (the batch or a forward); false once it ends the session. */
  async serveOne(): Promise<boolean> {
    const words = await this.p.recvWords('data', 'cmd', 2);
    const [code, arg] = [words[0]!, words[1]!];
    if (code === CMD.end) return false;
    if (code === CMD.batch) await this.loadBatch();
    else if (code === CMD.forward) {
      if (arg < 1n || arg > BigInt(MPC_DEFAULTS.maxCandidates)) throw new SecpError('ERR_PROTOCOL_MISMATCH', `forward with ${arg} candidates`);
      await this.forward(Number(arg));
    } else throw new SecpError('ERR_PROTOCOL_MISMATCH', `unknown command ${code} from the data owner`);
    return true;
  }
}

/**
 * Joins a session as a server or the dealer (Party.join); the dealer first reads the data owner's run nonce and,
 * with a `dealerKey`, derives the servers' session keys from the two (see runServer).
 */
export async function joinParty(role: Role, link: Link, ring: Ring, dealerKey?: Uint8Array): Promise<Party> {
  let dealerSeed: Uint8Array | undefined;
  if (role === 'dealer') {
    const nonce = await link.recv('data', 'setup.nonce');
    if (nonce.byteLength !== 32) throw new SecpError('ERR_PROTOCOL_MISMATCH', `run nonce has ${nonce.byteLength} bytes, expected 32`);
    if (dealerKey) dealerSeed = new Uint8Array(createHmac('sha256', dealerKey).update(nonce).digest());
  }
  return Party.join(role, { ring, link, ...(dealerSeed ? { dealerSeed } : {}) });
}

/**
 * One server or the dealer for a whole session: joins, receives and fixes the weights, serves the data
 * owner until it closes. Any error aborts the link (so every peer stops waiting) and is rethrown.
 *
 * `dealerKey` (dealer only; 32 secret bytes kept by the dealer): the servers' session keys are derived from it
 * and the data owner's run nonce, so that a session restarted for the same run (same nonce) replays the same
 * randomness: with the per-forward relabelling (MpcEncoder.forward) a resumed run computes bit for bit what
 * the uninterrupted one would have. Without it the keys are fresh.
 */
export async function runServer(
  role: Role,
  link: Link,
  ring: Ring,
  spec: MpcSpec,
  opts: MpcEncoderOptions & { dealerKey?: Uint8Array } = {},
): Promise<void> {
  try {
    const p = await joinParty(role, link, ring, opts.dealerKey);
    const enc = await MpcEncoder.setup(p, spec, opts);
    await enc.serve();
  } catch (err) {
    link.abort(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
}

export interface LocalSession {
  /** The data owner's handle: shareBatch, forward, then close. */
  data: DataOwner;
  /** All five links (for meters). */
  links: Map<PartyId, Link>;
  /** Resolves when the servers and the dealer have finished (after data.close()); rejects on their error. */
  done: Promise<void>;
}

/**
 * All five roles in this process over the in-process network: tests, benches and single-machine demos.
 * The model owner shares `weights` right away.
 */
export function createLocalSession(
  ring: Ring,
  spec: MpcSpec,
  weights: Weights,
  opts: MpcEncoderOptions & { net?: LinkOptions; dealerKey?: Uint8Array; nonce?: Uint8Array; session?: string } = {},
): LocalSession {
  const links = createLocalNetwork(opts.session ?? 'mpc-forward', ['s0', 's1', 'dealer', 'data', 'model'], opts.net);
  const data = new DataOwner(links.get('data')!, ring, spec, opts.nonce ? { nonce: opts.nonce } : {});
  const model = new ModelOwner(links.get('model')!, ring, spec);
  const servers = (['s0', 's1', 'dealer'] as const).map((role) => runServer(role, links.get(role)!, ring, spec, opts));
  const done = Promise.all(servers).then(() => undefined);
  // Callers see the first failure through done (and through data's pending receive, by the abort).
  done.catch(() => undefined);
  try {
    model.shareWeights(weights);
  } catch (err) {
    links.get('model')!.abort(err as Error);
    throw err;
  }
  return { data, links, done };
}

