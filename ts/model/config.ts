/**
 * HF `config.json` parsing for BERT/RoBERTa encoders, the tensor names and shapes they imply, and loading a
 * model folder (config.json + model.safetensors + tokenizer) with every used tensor's shape checked.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SecpError } from '../../bindings/errors.js';
import { readSafetensors, type SafetensorsFile } from './safetensors.js';
import { loadTokenizer, type ModelTokenizer } from './tokenizer.js';

export type Arch = 'bert' | 'roberta';
/** 'gelu' is the exact erf form; 'gelu_tanh' is HF's gelu_new / gelu_pytorch_tanh. */
export type HiddenAct = 'gelu' | 'gelu_tanh';

export interface ModelConfig {
  arch: Arch;
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
  padTokenId: number;
  hiddenAct: HiddenAct;
}

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

/** Tensors by canonical name: no 'bert.'/'roberta.' prefix, LayerNorm gamma/beta renamed weight/bias. */
export type Weights = Map<string, Tensor>;

export interface LoadedModel {
  config: ModelConfig;
  weights: Weights;
  tokenizer: ModelTokenizer;
  /** Whether the checkpoint has an MLM head (its decoder is tied to the word embeddings when absent). */
  hasMlmHead: boolean;
}

const ARCHITECTURES: Record<Arch, readonly string[]> = {
  bert: ['BertModel', 'BertForMaskedLM', 'BertForPreTraining'],
  roberta: ['RobertaModel', 'RobertaForMaskedLM'],
};

const ACTIVATIONS: Record<string, HiddenAct> = { gelu: 'gelu', gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh' };

/** Defaults of HF's BertConfig / RobertaConfig for the optional fields. */
const DEFAULTS: Record<Arch, { typeVocabSize: number; layerNormEps: number; padTokenId: number }> = {
  bert: { typeVocabSize: 2, layerNormEps: 1e-12, padTokenId: 0 },
  roberta: { typeVocabSize: 2, layerNormEps: 1e-12, padTokenId: 1 },
};

function bad(message: string): never {
  throw new SecpError('ERR_MODEL_CONFIG', message);
}

/** Validates an HF config.json object and returns the typed config. */
export function parseConfig(json: unknown): ModelConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) bad('config.json must be a JSON object');
  const c = json as Record<string, unknown>;
  const archs = c['architectures'];
  const modelType = c['model_type'];
  if (modelType !== 'bert' && modelType !== 'roberta') {
    throw new SecpError(
      'ERR_UNSUPPORTED_ARCH',
      `model_type ${JSON.stringify(modelType)} (architectures ${JSON.stringify(archs)}) is not supported; ` +
        'supported: bert, roberta',
    );
  }
  const arch: Arch = modelType;
  if (archs !== undefined) {
    if (!Array.isArray(archs)) bad('architectures must be an array');
    for (const a of archs) {
      if (!ARCHITECTURES[arch].includes(a as string)) {
        throw new SecpError(
          'ERR_UNSUPPORTED_ARCH',
          `architecture ${JSON.stringify(a)} is not supported for model_type ${arch}; ` +
            `supported: ${ARCHITECTURES[arch].join(', ')}`,
        );
      }
    }
  }
  const posType = c['position_embedding_type'];
  if (posType !== undefined && posType !== 'absolute') {
    throw new SecpError('ERR_UNSUPPORTED_ARCH', `position_embedding_type ${JSON.stringify(posType)} is not supported`);
  }
  const act = c['hidden_act'] ?? 'gelu';
  const hiddenAct = typeof act === 'string' ? ACTIVATIONS[act] : undefined;
  if (hiddenAct === undefined) {
    throw new SecpError(
      'ERR_UNSUPPORTED_ARCH',
      `hidden_act ${JSON.stringify(act)} is not supported; supported: ${Object.keys(ACTIVATIONS).join(', ')}`,
    );
  }
  const int = (key: string, min: number, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      bad(`${key} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const d = DEFAULTS[arch];
  const config: ModelConfig = {
    arch,
    vocabSize: int('vocab_size', 1),
    hidden: int('hidden_size', 1),
    layers: int('num_hidden_layers', 1),
    heads: int('num_attention_heads', 1),
    intermediate: int('intermediate_size', 1),
    maxPositions: int('max_position_embeddings', 1),
    typeVocabSize: int('type_vocab_size', 1, d.typeVocabSize),
    layerNormEps: (c['layer_norm_eps'] as number | undefined) ?? d.layerNormEps,
    padTokenId: int('pad_token_id', 0, d.padTokenId),
    hiddenAct,
  };
  if (typeof config.layerNormEps !== 'number' || !(config.layerNormEps > 0)) {
    bad(`layer_norm_eps must be a positive number, got ${JSON.stringify(c['layer_norm_eps'])}`);
  }
  if (config.hidden % config.heads !== 0) {
    bad(`hidden_size ${config.hidden} is not divisible by num_attention_heads ${config.heads}`);
  }
  if (config.padTokenId >= config.vocabSize) bad(`pad_token_id ${config.padTokenId} >= vocab_size ${config.vocabSize}`);
  if (arch === 'roberta' && config.maxPositions <= config.padTokenId + 1) {
    bad(`max_position_embeddings ${config.maxPositions} leaves no positions after the RoBERTa offset`);
  }
  return config;
}

/** Longest sequence the position table allows (RoBERTa positions start at pad_token_id + 1). */
export function maxSequenceLength(config: ModelConfig): number {
  return config.arch === 'roberta' ? config.maxPositions - config.padTokenId - 1 : config.maxPositions;
}

export const EMBEDDINGS = {
  word: 'embeddings.word_embeddings',
  position: 'embeddings.position_embeddings',
  tokenType: 'embeddings.token_type_embeddings',
  norm: 'embeddings.LayerNorm',
} as const;

/** Name prefixes of layer `l`'s modules (each has `.weight` and `.bias`). */
export function layerNames(l: number) {
  const p = `encoder.layer.${l}`;
  return {
    query: `${p}.attention.self.query`,
    key: `${p}.attention.self.key`,
    value: `${p}.attention.self.value`,
    attnOut: `${p}.attention.output.dense`,
    attnNorm: `${p}.attention.output.LayerNorm`,
    ffnIn: `${p}.intermediate.dense`,
    ffnOut: `${p}.output.dense`,
    ffnNorm: `${p}.output.LayerNorm`,
  };
}

/** MLM head module names as HF stores them (`bias` is a tensor name, the others are prefixes). */
export const MLM_HEAD: Record<Arch, { dense: string; norm: string; bias: string; decoder: string }> = {
  bert: {
    dense: 'cls.predictions.transform.dense',
    norm: 'cls.predictions.transform.LayerNorm',
    bias: 'cls.predictions.bias',
    decoder: 'cls.predictions.decoder',
  },
  roberta: { dense: 'lm_head.dense', norm: 'lm_head.layer_norm', bias: 'lm_head.bias', decoder: 'lm_head.decoder' },
};

export const POOLER = 'pooler.dense';

/** Every tensor the encoder needs, with its shape, in checkpoint order. */
export function encoderShapes(config: ModelConfig): [string, number[]][] {
  const { hidden: h, intermediate: i } = config;
  const linear = (name: string, out: number, inp: number): [string, number[]][] => [
    [`${name}.weight`, [out, inp]],
    [`${name}.bias`, [out]],
  ];
  const norm = (name: string): [string, number[]][] => [
    [`${name}.weight`, [h]],
    [`${name}.bias`, [h]],
  ];
  const shapes: [string, number[]][] = [
    [`${EMBEDDINGS.word}.weight`, [config.vocabSize, h]],
    [`${EMBEDDINGS.position}.weight`, [config.maxPositions, h]],
    [`${EMBEDDINGS.tokenType}.weight`, [config.typeVocabSize, h]],
    ...norm(EMBEDDINGS.norm),
  ];
  for (let l = 0; l < config.layers; l++) {
    const n = layerNames(l);
    shapes.push(
      ...linear(n.query, h, h),
      ...linear(n.key, h, h),
      ...linear(n.value, h, h),
      ...linear(n.attnOut, h, h),
      ...norm(n.attnNorm),
      ...linear(n.ffnIn, i, h),
      ...linear(n.ffnOut, h, i),
      ...norm(n.ffnNorm),
    );
  }
  return shapes;
}

/** The MLM head's own tensors (the decoder weight is tied to the word embeddings, so not listed). */
export function mlmHeadShapes(config: ModelConfig): [string, number[]][] {
  const m = MLM_HEAD[config.arch];
  const h = config.hidden;
  return [
    [`${m.dense}.weight`, [h, h]],
    [`${m.dense}.bias`, [h]],
    [`${m.norm}.weight`, [h]],
    [`${m.norm}.bias`, [h]],
    [m.bias, [config.vocabSize]],
  ];
}

/** Maps checkpoint names to canonical ones: drops the `${arch}.` prefix, LayerNorm gamma/beta -> weight/bias. */
function canonicalName(arch: Arch, name: string): string {
  const n = name.startsWith(`${arch}.`) ? name.slice(arch.length + 1) : name;
  return n.replace(/(LayerNorm|layer_norm)\.gamma$/, '$1.weight').replace(/(LayerNorm|layer_norm)\.beta$/, '$1.bias');
}

/**
 * Decodes and shape-checks the tensors the config needs from a safetensors file. Optional: the pooler and the
 * MLM head (present when its dense weight is); a missing decoder weight is tied to the word embeddings and a
 * missing head bias is taken from the decoder bias, as HF ties them.
 */
export function loadWeights(
  config: ModelConfig,
  file: SafetensorsFile,
  source = 'model.safetensors',
): { weights: Weights; hasMlmHead: boolean } {
  const byCanonical = new Map<string, string>();
  for (const name of file.tensors.keys()) byCanonical.set(canonicalName(config.arch, name), name);
  const weights: Weights = new Map();
  const load = (name: string, shape: number[]): void => {
    const stored = byCanonical.get(name);
    if (stored === undefined) throw new SecpError('ERR_MISSING_TENSOR', `${source}: missing tensor "${name}"`);
    const got = file.tensors.get(stored)!.shape;
    if (got.length !== shape.length || got.some((d, k) => d !== shape[k])) {
      throw new SecpError(
        'ERR_SHAPE_MISMATCH',
        `${source}: tensor "${stored}" has shape [${got.join(', ')}], config implies [${shape.join(', ')}]`,
      );
    }
    weights.set(name, { shape, data: file.read(stored) });
  };
  for (const [name, shape] of encoderShapes(config)) load(name, shape);
  const h = config.hidden;
  if (byCanonical.has(`${POOLER}.weight`)) {
    load(`${POOLER}.weight`, [h, h]);
    load(`${POOLER}.bias`, [h]);
  }
  const head = MLM_HEAD[config.arch];
  const hasMlmHead = byCanonical.has(`${head.dense}.weight`);
  if (hasMlmHead) {
    if (!byCanonical.has(head.bias) && byCanonical.has(`${head.decoder}.bias`)) {
      byCanonical.set(head.bias, byCanonical.get(`${head.decoder}.bias`)!);
    }
    for (const [name, shape] of mlmHeadShapes(config)) load(name, shape);
    const decoder = `${head.decoder}.weight`;
    if (byCanonical.has(decoder)) load(decoder, [config.vocabSize, h]);
    else weights.set(decoder, weights.get(`${EMBEDDINGS.word}.weight`)!);
  }
  return { weights, hasMlmHead };
}

function readConfigJson(path: string): unknown {
  if (!existsSync(path)) throw new SecpError('ERR_FILE_MISSING', `model config not found: ${path}`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new SecpError('ERR_MODEL_CONFIG', `${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads and validates `dir`/config.json; every error names the file. */
export function loadConfig(dir: string): ModelConfig {
  const path = join(dir, 'config.json');
  const json = readConfigJson(path);
  try {
    return parseConfig(json);
  } catch (err) {
    if (err instanceof SecpError) throw new SecpError(err.code, `${path}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** Loads a HF model folder: config.json, model.safetensors, and tokenizer.json (or vocab.txt). */
export function loadModel(dir: string): LoadedModel {
  const config = loadConfig(dir);
  const tokenizer = loadTokenizer(dir, { typeVocabSize: config.typeVocabSize });
  if (tokenizer.size > config.vocabSize) {
    bad(`${dir}: the tokenizer has ${tokenizer.size} tokens but vocab_size is ${config.vocabSize}`);
  }
  const path = join(dir, 'model.safetensors');
  const { weights, hasMlmHead } = loadWeights(config, readSafetensors(path), path);
  return { config, weights, tokenizer, hasMlmHead };
}
