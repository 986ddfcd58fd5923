/**
 * Float64 plaintext reference forward of a BERT/RoBERTa encoder: the oracle for the MPC forward, which must
 * mirror it op for op. Every step is an exported function (embedding, layerNorm, linear, attentionSoftmax,
 * attentionRfa, gelu, the heads) working on row-major Float64Array activations; weights stay float32.
 *
 * RFA (Peng et al. 2021, PAPER-NOTES §3.1), two kernels, both with φ(x) = [sin(Wx), cos(Wx)]/sqrt(D) and W's
 * rows ~ N(0, τI), so that E[φ(x)·φ(y)] = exp(-τ|x-y|²/2):
 * - 'normalized' (the paper's): per head q̂ = q/sqrt(|q|²+epsNorm), k̂ likewise; for unit vectors the Gaussian
 *   kernel is exp(τ q̂·k̂) up to a constant that cancels. out_t = φ(q̂_t)ᵀS / max(φ(q̂_t)·z, epsDen) with
 *   S = Σ_i mask_i φ(k̂_i) v_iᵀ and z = Σ_i mask_i φ(k̂_i). This is not the model's own attention: it drops |q|,
 *   |k| and, at τ = 1, makes the weights nearly uniform.
 * - 'exp': softmax's own kernel exp(q·k/√d). With q' = q·d^(-1/4), k' = k·d^(-1/4) (τ = 1),
 *   exp(q'·k') = exp(|q'|²/2)·exp(|k'|²/2)·exp(-|q'-k'|²/2): the query factor cancels between numerator and
 *   normaliser, the Gaussian factor is estimated by φ, and the key factor is a per-key positive weight
 *   a_i = exp(|k'_i|²/2 - m) with m the largest |k'|²/2 over the unmasked keys of the (sequence, head) (m
 *   cancels too; it keeps a_i in (0, 1]). out_t = φ(q'_t)ᵀS / max(φ(q'_t)·z, epsDen) with
 *   S = Σ_i mask_i a_i φ(k'_i) v_iᵀ and z = Σ_i mask_i a_i φ(k'_i).
 */
import { SecpError } from '../../bindings/errors.js';
import { loadBackend, type KernelBackend } from '../../bindings/index.js';
import { linearF64Js } from '../../bindings/js.js';
import {
  EMBEDDINGS,
  MLM_HEAD,
  layerNames,
  maxSequenceLength,
  type ModelConfig,
  type Weights,
} from './config.js';
import { Rng } from './random.js';

export type Floats = Float32Array | Float64Array;
export type Gelu = (x: number) => number;

export type RfaKernel = 'normalized' | 'exp';

export interface RfaOptions {
  /**
   * 'normalized' (default): weights ∝ exp(τ q̂·k̂) of unit-normalised q, k (the paper's RFA). 'exp': weights ∝
   * exp(q·k/√d_head), the pretrained model's own softmax kernel (see the file header); needs more features.
   */
  kernel?: RfaKernel;
  /** Random features D per head (φ has 2D entries). */
  features?: number;
  /** Seed of the public feature matrices (see rfaFeatures). */
  seed?: number | bigint;
  /**
   * 'normalized' kernel only (ignored by 'exp', whose scale is softmax's): attention weights ∝ exp(τ q̂·k̂).
   * Default 1 (RFA_DEFAULTS.tau, see there why). τ = sqrt(d_head) would match softmax's q·k/sqrt(d_head) only
   * for |q| ≈ |k| ≈ d_head^(1/4); the estimator's variance does not shrink with the kernel, so a large τ needs
   * many features.
   */
  tau?: number;
  /** 'normalized' kernel only: added to |x|² before the square root in the q/k normalisation. */
  epsNorm?: number;
  /** Lower clamp of the normaliser φ(q̂)·z (under MPC: the low end of the reciprocal's range). */
  epsDen?: number;
}

export interface EncoderOptions {
  attention?: 'softmax' | 'rfa';
  rfa?: RfaOptions;
  /** Activation for the FFN and the MLM head; defaults to the config's (exact erf GELU for 'gelu'). */
  gelu?: Gelu;
}

/**
 * τ = 1 by default: the kernel exp(-τ(1 - cos)) stays ≥ e^-2, so the normaliser Σ_j φ(q̂)·φ(k̂_j) of n tokens is
 * ≥ n·e^-2 in expectation, far above the random-feature noise (std ≈ √(n/D)), and the MPC forward follows float64
 * to ~1e-3. Softmax's own temperature τ = √d_head makes most kernel values tiny: with D = 32–64 features the
 * normaliser then often lands near zero (clamped at epsDen), where the output is noise that fixed point cannot
 * reproduce (MiniLM, D = 32, seq 24: max |Δlogit| 0.012 at τ = 1, 0.68 at τ = 2, 3.3 at τ = √32).
 */
export const RFA_DEFAULTS = { kernel: 'normalized', features: 64, seed: 0, tau: 1, epsNorm: 1e-6, epsDen: 1e-3 } as const;

/** Stream id that separates RFA feature matrices from every other use of the seeded PRNG. */
const RFA_STREAM = 0x52_46_41; // 'RFA'

export interface PromptInput {
  /** First position of the prompt slots (1 = right after [CLS]/<s>, as BBT does). */
  start: number;
  /** P × hidden, row-major. */
  embeddings: Floats;
  /**
   * 'replace' (default): the prompt overwrites the word embeddings of its slots before the embedding sum and
   * LayerNorm. 'add': BBT's code, which adds the prompt to the embedding *output* (after the LayerNorm).
   */
  mode?: 'replace' | 'add';
}

export interface EncoderInput {
  ids: ArrayLike<number>;
  /** 1 for real tokens, 0 for padding; default all 1. */
  attentionMask?: ArrayLike<number>;
  /** Default all 0. */
  typeIds?: ArrayLike<number>;
  prompt?: PromptInput;
}

function invalid(message: string): never {
  throw new SecpError('ERR_INVALID_ARGUMENT', message);
}

function shape(message: string): never {
  throw new SecpError('ERR_SHAPE_MISMATCH', message);
}

function isIndex(v: number, size: number): boolean {
  return Number.isSafeInteger(v) && v >= 0 && v < size;
}

/** erf to ~1e-15 relative: A&S 7.1.6, erf x = 2/√π e^{-x²} Σ 2ⁿx^{2n+1}/(2n+1)!!, a series of positive terms. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x); // erfc(6) ≈ 2e-17
  let term = ax;
  let sum = ax;
  for (let n = 1; term > sum * 1e-17; n++) {
    term *= (2 * ax * ax) / (2 * n + 1);
    sum += term;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-ax * ax) * sum;
}

/** Exact GELU, x·Φ(x) (HF 'gelu'). */
export function geluErf(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** Tanh GELU (HF 'gelu_new' / 'gelu_pytorch_tanh'). */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

/**
 * y = x Wᵀ + b for `rows` rows (W is [out, in] row-major as torch stores it, out = b.length). Every output is
 * the sum Σ_i x_i w_i accumulated from 0 in index order plus the bias (linearF64Js, bindings/js.ts, is the
 * loop). Float64 x with float32 W and b (the model's own tensors) runs on the kernel backend's linearF64
 * (native: SIMD across output columns, rows split over threads), bit-identical to the loop (tested); any other
 * element type runs the loop itself.
 */
export function linear(x: Floats, rows: number, inDim: number, weight: Floats, bias: Floats): Float64Array {
  const outDim = bias.length;
  if (x.length !== rows * inDim) shape(`linear: input has ${x.length} values, expected ${rows}×${inDim}`);
  if (weight.length !== outDim * inDim) {
    shape(`linear: weight has ${weight.length} values, expected ${outDim}×${inDim}`);
  }
  if (x instanceof Float64Array && weight instanceof Float32Array && bias instanceof Float32Array) {
    return kernels().linearF64(x, weight, bias, rows, inDim);
  }
  return linearF64Js(x, weight, bias, rows, inDim);
}

let backend: KernelBackend | undefined;
/** The kernel backend of linear: loadBackend's choice (native, else wasm; SECP_BACKEND=js forces the loop). */
function kernels(): KernelBackend {
  backend ??= loadBackend();
  return backend;
}

/** Row-wise LayerNorm with the biased variance, as torch.nn.LayerNorm. */
export function layerNorm(
  x: Floats,
  rows: number,
  dim: number,
  gamma: Floats,
  beta: Floats,
  eps: number,
): Float64Array {
  const y = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let mean = 0;
    for (let i = 0; i < dim; i++) mean += x[o + i]!;
    mean /= dim;
    let v = 0;
    for (let i = 0; i < dim; i++) v += (x[o + i]! - mean) ** 2;
    const inv = 1 / Math.sqrt(v / dim + eps);
    for (let i = 0; i < dim; i++) y[o + i] = (x[o + i]! - mean) * inv * gamma[i]! + beta[i]!;
  }
  return y;
}

/** Scaled dot-product attention per head; keys with mask 0 get weight 0. q, k, v and the result are n × hidden. */
export function attentionSoftmax(
  q: Floats,
  k: Floats,
  v: Floats,
  n: number,
  heads: number,
  mask: ArrayLike<number>,
  /** The exp of the scores (minus their max); the MPC baseline's own approximation can be passed for tests. */
  expFn: (x: number) => number = Math.exp,
): Float64Array {
  const hidden = q.length / n;
  const dh = hidden / heads;
  const scale = 1 / Math.sqrt(dh);
  const out = new Float64Array(n * hidden);
  const p = new Float64Array(n);
  for (let h = 0; h < heads; h++) {
    const off = h * dh;
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      for (let j = 0; j < n; j++) {
        let s = -Infinity;
        if (mask[j] !== 0) {
          s = 0;
          for (let c = 0; c < dh; c++) s += q[i * hidden + off + c]! * k[j * hidden + off + c]!;
          s *= scale;
        }
        p[j] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let j = 0; j < n; j++) {
        p[j] = p[j] === -Infinity ? 0 : expFn(p[j]! - max);
        sum += p[j]!;
      }
      for (let j = 0; j < n; j++) {
        const w = p[j]! / sum;
        if (w === 0) continue;
        for (let c = 0; c < dh; c++) out[i * hidden + off + c] += w * v[j * hidden + off + c]!;
      }
    }
  }
  return out;
}

/**
 * The public RFA feature matrix of (layer, head): D × d_head, rows ~ N(0, τ I), from the seeded PRNG. The MPC
 * forward calls this too, so both sides use exactly the same W.
 */
export function rfaFeatures(
  seed: number | bigint,
  layer: number,
  head: number,
  D: number,
  dh: number,
  tau: number,
): Float64Array {
  const w = new Float64Array(D * dh);
  new Rng(seed, RFA_STREAM, layer, head).fillNormal(w, Math.sqrt(tau));
  return w;
}

/** x / sqrt(|x|² + eps). */
export function l2Normalize(x: Floats, eps: number): Float64Array {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  const inv = 1 / Math.sqrt(s + eps);
  return Float64Array.from(x, (e) => e * inv);
}

/** φ(x) = [sin(Wx), cos(Wx)] / sqrt(D) for W of D rows. */
export function rfaFeatureMap(x: Floats, w: Floats): Float64Array {
  const dh = x.length;
  const D = w.length / dh;
  const phi = new Float64Array(2 * D);
  const scale = 1 / Math.sqrt(D);
  for (let f = 0; f < D; f++) {
    let a = 0;
    for (let c = 0; c < dh; c++) a += w[f * dh + c]! * x[c]!;
    phi[f] = Math.sin(a) * scale;
    phi[D + f] = Math.cos(a) * scale;
  }
  return phi;
}

/** One query's RFA output: φ(q)ᵀS / max(φ(q)·z, epsDen), S = Σ φ(k_j) v_jᵀ [2D, dh], z = Σ φ(k_j), into `out` [dh]. */
function rfaReadout(phiQ: Float64Array, s: Float64Array, z: Float64Array, epsDen: number, out: Float64Array): void {
  const twoD = z.length;
  const dh = out.length;
  let den = 0;
  for (let f = 0; f < twoD; f++) den += phiQ[f]! * z[f]!;
  const inv = 1 / Math.max(den, epsDen);
  for (let c = 0; c < dh; c++) {
    let num = 0;
    for (let f = 0; f < twoD; f++) num += phiQ[f]! * s[f * dh + c]!;
    out[c] = num * inv;
  }
}

/** Random feature attention (see the file header); `features[h]` is head h's W. */
export function attentionRfa(
  q: Floats,
  k: Floats,
  v: Floats,
  n: number,
  heads: number,
  mask: ArrayLike<number>,
  features: readonly Float64Array[],
  epsNorm: number,
  epsDen: number,
): Float64Array {
  const hidden = q.length / n;
  const dh = hidden / heads;
  const out = new Float64Array(n * hidden);
  for (let h = 0; h < heads; h++) {
    const off = h * dh;
    const w = features[h]!;
    const twoD = (2 * w.length) / dh;
    const row = (m: Floats, t: number) => m.subarray(t * hidden + off, t * hidden + off + dh);
    const s = new Float64Array(twoD * dh);
    const z = new Float64Array(twoD);
    for (let j = 0; j < n; j++) {
      if (mask[j] === 0) continue;
      const phiK = rfaFeatureMap(l2Normalize(row(k, j), epsNorm), w);
      const vj = row(v, j);
      for (let f = 0; f < twoD; f++) {
        z[f] += phiK[f]!;
        for (let c = 0; c < dh; c++) s[f * dh + c] += phiK[f]! * vj[c]!;
      }
    }
    for (let i = 0; i < n; i++) {
      rfaReadout(rfaFeatureMap(l2Normalize(row(q, i), epsNorm), w), s, z, epsDen, out.subarray(i * hidden + off, i * hidden + off + dh));
    }
  }
  return out;
}

/**
 * RFA of softmax's own kernel exp(q·k/√d) (the 'exp' kernel, see the file header); `features[h]` is head h's W
 * (rows ~ N(0, I)). Keys with mask 0 get weight 0; a sequence whose keys are all masked gives 0.
 */
export function attentionRfaExp(
  q: Floats,
  k: Floats,
  v: Floats,
  n: number,
  heads: number,
  mask: ArrayLike<number>,
  features: readonly Float64Array[],
  epsDen: number,
): Float64Array {
  const hidden = q.length / n;
  const dh = hidden / heads;
  const c = dh ** -0.25;
  const out = new Float64Array(n * hidden);
  const scaled = (m: Floats, t: number, off: number) => {
    const r = new Float64Array(dh);
    for (let i = 0; i < dh; i++) r[i] = m[t * hidden + off + i]! * c;
    return r;
  };
  for (let h = 0; h < heads; h++) {
    const off = h * dh;
    const w = features[h]!;
    const twoD = (2 * w.length) / dh;
    const keys: Float64Array[] = [];
    const half = new Float64Array(n);
    let m = -Infinity;
    for (let j = 0; j < n; j++) {
      keys.push(scaled(k, j, off));
      let s = 0;
      for (let i = 0; i < dh; i++) s += keys[j]![i]! ** 2;
      half[j] = s / 2;
      if (mask[j] !== 0 && half[j]! > m) m = half[j]!;
    }
    const s = new Float64Array(twoD * dh);
    const z = new Float64Array(twoD);
    for (let j = 0; j < n; j++) {
      if (mask[j] === 0) continue;
      const a = Math.exp(half[j]! - m);
      const phiK = rfaFeatureMap(keys[j]!, w);
      for (let f = 0; f < twoD; f++) {
        const g = a * phiK[f]!;
        z[f] += g;
        for (let i = 0; i < dh; i++) s[f * dh + i] += g * v[j * hidden + off + i]!;
      }
    }
    for (let t = 0; t < n; t++) {
      rfaReadout(rfaFeatureMap(scaled(q, t, off), w), s, z, epsDen, out.subarray(t * hidden + off, t * hidden + off + dh));
    }
  }
  return out;
}

/** Position ids: 0.. for BERT; for RoBERTa pad_token_id+1.. over non-pad ids and pad_token_id on pads, as HF. */
export function positionIds(config: ModelConfig, ids: ArrayLike<number>): Int32Array {
  const pos = new Int32Array(ids.length);
  let seen = 0;
  for (let t = 0; t < ids.length; t++) {
    if (config.arch === 'bert') pos[t] = t;
    else pos[t] = ids[t] === config.padTokenId ? config.padTokenId : config.padTokenId + ++seen;
  }
  return pos;
}

/** Rows `ids` of a [*, cols] matrix. */
export function gatherRows(m: Floats, cols: number, ids: ArrayLike<number>): Float64Array {
  const out = new Float64Array(ids.length * cols);
  for (let r = 0; r < ids.length; r++) out.set(m.subarray(ids[r]! * cols, (ids[r]! + 1) * cols), r * cols);
  return out;
}

/** Mean of the rows with mask 1 (sentence-transformers pooling), optionally L2-normalised. */
export function meanPool(hidden: Floats, dim: number, mask: ArrayLike<number>, normalize = false): Float64Array {
  const out = new Float64Array(dim);
  let count = 0;
  for (let t = 0; t < mask.length; t++) {
    if (mask[t] === 0) continue;
    count++;
    for (let i = 0; i < dim; i++) out[i] += hidden[t * dim + i]!;
  }
  if (count === 0) invalid('meanPool: every token is masked');
  for (let i = 0; i < dim; i++) out[i] /= count;
  return normalize ? l2Normalize(out, 0) : out;
}

/** Logits of a pooled embedding against L label embeddings (L × dim): cosine similarity or dot product. */
export function labelLogits(pooled: Floats, labels: Floats, metric: 'cosine' | 'dot'): Float64Array {
  const dim = pooled.length;
  if (labels.length % dim !== 0) shape(`labelLogits: ${labels.length} label values are not rows of ${dim}`);
  const p = metric === 'cosine' ? l2Normalize(pooled, 0) : pooled;
  const out = new Float64Array(labels.length / dim);
  for (let l = 0; l < out.length; l++) {
    const row = labels.subarray(l * dim, (l + 1) * dim);
    const r = metric === 'cosine' ? l2Normalize(row, 0) : row;
    let s = 0;
    for (let i = 0; i < dim; i++) s += p[i]! * r[i]!;
    out[l] = s;
  }
  return out;
}

/** RFA options resolved against `config` (defaults, validation) with features[layer][head] drawn: shared by every forward. */
export function resolveRfa(
  config: ModelConfig,
  options: RfaOptions = {},
): Required<RfaOptions> & { matrices: Float64Array[][] } {
  const dh = config.hidden / config.heads;
  const o = {
    kernel: options.kernel ?? RFA_DEFAULTS.kernel,
    features: options.features ?? RFA_DEFAULTS.features,
    seed: options.seed ?? RFA_DEFAULTS.seed,
    tau: options.tau ?? RFA_DEFAULTS.tau,
    epsNorm: options.epsNorm ?? RFA_DEFAULTS.epsNorm,
    epsDen: options.epsDen ?? RFA_DEFAULTS.epsDen,
  };
  if (o.kernel !== 'normalized' && o.kernel !== 'exp') invalid(`rfa.kernel must be 'normalized' or 'exp', got ${JSON.stringify(o.kernel)}`);
  if (!Number.isSafeInteger(o.features) || o.features < 1 || o.features > 1 << 16) {
    invalid(`rfa.features must be an integer in 1..65536, got ${o.features}`);
  }
  if (!(o.tau > 0 && Number.isFinite(o.tau))) invalid(`rfa.tau must be a positive number, got ${o.tau}`);
  if (!(o.epsNorm >= 0 && Number.isFinite(o.epsNorm))) invalid(`rfa.epsNorm must be >= 0, got ${o.epsNorm}`);
  if (!(o.epsDen > 0 && Number.isFinite(o.epsDen))) invalid(`rfa.epsDen must be > 0, got ${o.epsDen}`);
  const matrices = Array.from({ length: config.layers }, (_, l) =>
    Array.from({ length: config.heads }, (_, h) => rfaFeatures(o.seed, l, h, o.features, dh, o.kernel === 'exp' ? 1 : o.tau)),
  );
  return { ...o, matrices };
}

/** A BERT/RoBERTa encoder with options validated and RFA features drawn once, at construction. */
export class PlainEncoder {
  readonly config: ModelConfig;
  readonly attention: 'softmax' | 'rfa';
  readonly gelu: Gelu;
  /** Resolved RFA settings and features[layer][head] (absent for softmax). */
  readonly rfa: (Required<RfaOptions> & { matrices: Float64Array[][] }) | undefined;
  private readonly weights: Weights;

  constructor(model: { config: ModelConfig; weights: Weights }, options: EncoderOptions = {}) {
    const { config } = model;
    this.config = config;
    this.weights = model.weights;
    this.attention = options.attention ?? 'softmax';
    if (this.attention !== 'softmax' && this.attention !== 'rfa') {
      invalid(`attention must be 'softmax' or 'rfa', got ${JSON.stringify(this.attention)}`);
    }
    if (options.gelu !== undefined && typeof options.gelu !== 'function') invalid('gelu must be a function');
    this.gelu = options.gelu ?? (config.hiddenAct === 'gelu' ? geluErf : geluTanh);
    if (this.attention === 'rfa') this.rfa = resolveRfa(config, options.rfa);
  }

  private w(name: string): Float32Array {
    const t = this.weights.get(name);
    if (t === undefined) throw new SecpError('ERR_MISSING_TENSOR', `model has no tensor "${name}"`);
    return t.data;
  }

  /** Embedding step: word (or prompt) + position + token type, LayerNorm; n × hidden. */
  embed(input: EncoderInput): Float64Array {
    const { config } = this;
    const H = config.hidden;
    const n = input.ids.length;
    const types = input.typeIds ?? new Array<number>(n).fill(0);
    if (n === 0) invalid('empty input');
    const maxLen = maxSequenceLength(config);
    if (n > maxLen) shape(`sequence of ${n} tokens exceeds the model's ${maxLen}`);
    if (types.length !== n) shape(`typeIds has ${types.length} entries for ${n} ids`);
    for (let t = 0; t < n; t++) {
      const id = input.ids[t]!;
      if (!isIndex(id, config.vocabSize)) invalid(`token id ${id} at ${t} is out of range`);
      if (!isIndex(types[t]!, config.typeVocabSize)) invalid(`type id ${types[t]} at ${t} is out of range`);
    }
    const prompt = input.prompt;
    let promptRows = 0;
    if (prompt !== undefined) {
      if (prompt.embeddings.length % H !== 0) shape(`prompt has ${prompt.embeddings.length} values, not rows of ${H}`);
      promptRows = prompt.embeddings.length / H;
      if (!Number.isSafeInteger(prompt.start) || prompt.start < 0 || prompt.start + promptRows > n) {
        invalid(`prompt rows [${prompt.start}, ${prompt.start + promptRows}) do not fit in ${n} tokens`);
      }
    }
    const replace = prompt !== undefined && (prompt.mode ?? 'replace') === 'replace';
    const word = this.w(`${EMBEDDINGS.word}.weight`);
    const posTable = this.w(`${EMBEDDINGS.position}.weight`);
    const typeTable = this.w(`${EMBEDDINGS.tokenType}.weight`);
    const pos = positionIds(config, input.ids);
    const x = new Float64Array(n * H);
    for (let t = 0; t < n; t++) {
      const p = t - (prompt?.start ?? 0);
      const inPrompt = replace && p >= 0 && p < promptRows;
      const src = inPrompt ? prompt!.embeddings : word;
      const so = inPrompt ? p * H : input.ids[t]! * H;
      for (let i = 0; i < H; i++) {
        x[t * H + i] = src[so + i]! + posTable[pos[t]! * H + i]! + typeTable[types[t]! * H + i]!;
      }
    }
    const [g, b] = [this.w(`${EMBEDDINGS.norm}.weight`), this.w(`${EMBEDDINGS.norm}.bias`)];
    const y = layerNorm(x, n, H, g, b, config.layerNormEps);
    if (prompt !== undefined && !replace) {
      for (let i = 0; i < promptRows * H; i++) y[prompt.start * H + i] += prompt.embeddings[i]!;
    }
    return y;
  }

  /** One encoder layer: QKV, attention, output projection + residual + LayerNorm, FFN + residual + LayerNorm. */
  layer(l: number, x: Float64Array, mask: ArrayLike<number>): Float64Array {
    const { hidden: H, heads, layerNormEps: eps } = this.config;
    const n = x.length / H;
    const names = layerNames(l);
    const lin = (input: Float64Array, inDim: number, name: string) =>
      linear(input, n, inDim, this.w(`${name}.weight`), this.w(`${name}.bias`));
    const norm = (input: Float64Array, name: string) =>
      layerNorm(input, n, H, this.w(`${name}.weight`), this.w(`${name}.bias`), eps);

    const q = lin(x, H, names.query);
    const k = lin(x, H, names.key);
    const v = lin(x, H, names.value);
    const r = this.rfa;
    const ctx =
      r === undefined
        ? attentionSoftmax(q, k, v, n, heads, mask)
        : r.kernel === 'exp'
          ? attentionRfaExp(q, k, v, n, heads, mask, r.matrices[l]!, r.epsDen)
          : attentionRfa(q, k, v, n, heads, mask, r.matrices[l]!, r.epsNorm, r.epsDen);
    const a = lin(ctx, H, names.attnOut);
    for (let i = 0; i < a.length; i++) a[i] += x[i]!;
    const x1 = norm(a, names.attnNorm);

    const f = lin(x1, H, names.ffnIn).map((e) => this.gelu(e));
    const f2 = lin(f, this.config.intermediate, names.ffnOut);
    for (let i = 0; i < f2.length; i++) f2[i] += x1[i]!;
    return norm(f2, names.ffnNorm);
  }

  /** Last hidden state, n × hidden. */
  forward(input: EncoderInput): Float64Array {
    const n = input.ids.length;
    const mask = input.attentionMask ?? new Array<number>(n).fill(1);
    if (mask.length !== n) shape(`attentionMask has ${mask.length} entries for ${n} ids`);
    for (let t = 0; t < n; t++) if (mask[t] !== 0 && mask[t] !== 1) invalid(`attentionMask[${t}] must be 0 or 1`);
    let x = this.embed(input);
    for (let l = 0; l < this.config.layers; l++) x = this.layer(l, x, mask);
    return x;
  }

  /**
   * MLM head at one position: dense → GELU → LayerNorm → tied decoder + bias. With `labelIds`, only those
   * vocabulary rows are computed (the verbalizer's columns); without, the full vocabulary.
   */
  mlmLogits(hidden: Float64Array, maskPos: number, labelIds?: ArrayLike<number>): Float64Array {
    const { hidden: H, vocabSize } = this.config;
    const m = MLM_HEAD[this.config.arch];
    if (!this.weights.has(`${m.dense}.weight`)) {
      throw new SecpError('ERR_MISSING_TENSOR', 'the model has no MLM head (a BertModel/RobertaModel checkpoint)');
    }
    if (!Number.isSafeInteger(maskPos) || maskPos < 0 || maskPos * H >= hidden.length) {
      invalid(`mask position ${maskPos} is outside the sequence`);
    }
    const h = hidden.subarray(maskPos * H, (maskPos + 1) * H);
    const t = linear(h, 1, H, this.w(`${m.dense}.weight`), this.w(`${m.dense}.bias`)).map((e) => this.gelu(e));
    const u = layerNorm(t, 1, H, this.w(`${m.norm}.weight`), this.w(`${m.norm}.bias`), this.config.layerNormEps);
    const decoder = this.w(`${m.decoder}.weight`);
    const bias = this.w(m.bias);
    if (labelIds === undefined) return linear(u, 1, H, decoder, bias);
    for (let r = 0; r < labelIds.length; r++) {
      if (!isIndex(labelIds[r]!, vocabSize)) invalid(`label id ${labelIds[r]} is out of range`);
    }
    return linear(u, 1, H, gatherRows(decoder, H, labelIds), gatherRows(bias, 1, labelIds));
  }
}
