/**
 * Tasks as data: BBT's templates and verbalizers (PAPER-NOTES §2, BBT's dataloader.py), a 'pooled' kind for
 * sentence-embedding models without an MLM head, and the tokenisation of examples into fixed-length batches
 * with BBT's prompt slots.
 *
 * Sequence layout (BBT): `[CLS] <P prompt slots> . <template> [SEP]`, padded to `seqLen`. The prompt always
 * sits right after [CLS]/<s>; the separator '.' is there only when P > 0 (BBT's `'%s . %s . It was %s .'`).
 * Everything is one segment (type id 0), as BBT's pair templates are, so pair tasks need no second segment.
 *
 * - 'mlm': logits are the MLM head's scores of the verbalizer words at the [MASK] position. BBT takes its
 *   cross-entropy over the whole vocabulary; here only the verbalizer columns exist (DESIGN.md §4: the MPC
 *   forward computes only those), so the softmax runs over the label words.
 * - 'pooled': a sentence-embedding model (e.g. all-MiniLM-L6-v2, a BertModel): mean-pooled last hidden state
 *   of the prompted input against the mean-pooled embeddings of one description text per label (no prompt),
 *   by cosine similarity times `logitScale` (a temperature: cosines live in [-1, 1], which would make the
 *   cross-entropy nearly flat).
 */
import { SecpError } from '../../bindings/errors.js';
import { insertPromptSlots, type Encoded, type ModelTokenizer } from '../model/tokenizer.js';
import type { Example } from './data.js';
import type { LossKind } from './losses.js';

export type TaskKind = 'mlm' | 'pooled';
export type Metric = 'accuracy' | 'f1';

export interface TaskSpec {
  name: string;
  /** Class names, in label-index order; a data file's label may be the index or the name. */
  labels: readonly string[];
  /** MLM template after the prompt: `{text}` (and `{text2}` for pairs) and exactly one `{mask}`. */
  template: string;
  /** Verbalizer: one single-token word per class (MLM). */
  words: readonly string[];
  /** Template for the pooled kind (no `{mask}`); default '{text}' (pairs: '{text} ? {text2}'). */
  pooledTemplate?: string;
  /** Label descriptions embedded by the model (pooled); default: the class names. */
  labelTexts?: readonly string[];
  /** Development/test metric; BBT: F1 for MRPC, accuracy elsewhere. */
  metric: Metric;
  /** BBT's README: CE for single-sentence tasks, hinge for sentence pairs. */
  loss: LossKind;
}

/** BBT's tasks (dataloader.py / metrics.py), plus rotten tomatoes as SST-2's twin. */
export const TASKS: Readonly<Record<string, TaskSpec>> = {
  sst2: {
    name: 'sst2',
    labels: ['negative', 'positive'],
    template: '{text} . It was {mask} .',
    words: ['bad', 'great'],
    metric: 'accuracy',
    loss: 'ce',
  },
  yelpp: {
    name: 'yelpp',
    labels: ['negative', 'positive'],
    template: '{text} . It was {mask} .',
    words: ['bad', 'great'],
    metric: 'accuracy',
    loss: 'ce',
  },
  agnews: {
    name: 'agnews',
    labels: ['World', 'Sports', 'Business', 'Tech'],
    template: '{mask} News: {text}',
    words: ['World', 'Sports', 'Business', 'Tech'],
    labelTexts: ['world news', 'sports news', 'business news', 'technology news'],
    metric: 'accuracy',
    loss: 'ce',
  },
  mrpc: {
    name: 'mrpc',
    labels: ['not_equivalent', 'equivalent'],
    template: '{text} ? {mask} , {text2}',
    words: ['No', 'Yes'],
    labelTexts: ['different meaning', 'same meaning'],
    metric: 'f1',
    loss: 'hinge',
  },
  rte: {
    name: 'rte',
    labels: ['entailment', 'not_entailment'],
    template: '{text} ? {mask} , {text2}',
    words: ['Yes', 'No'],
    metric: 'accuracy',
    loss: 'hinge',
  },
  snli: {
    name: 'snli',
    labels: ['entailment', 'neutral', 'contradiction'],
    template: '{text} ? {mask} , {text2}',
    words: ['Yes', 'Maybe', 'No'],
    metric: 'accuracy',
    loss: 'hinge',
  },
};

/** A task fixed to one kind, validated. */
export interface ResolvedTask {
  name: string;
  kind: TaskKind;
  labels: string[];
  template: string;
  /** MLM only. */
  words: string[] | null;
  /** Pooled only. */
  labelTexts: string[] | null;
  pair: boolean;
  metric: Metric;
  loss: LossKind;
}

export interface TaskOverrides {
  kind?: TaskKind;
  template?: string;
  words?: readonly string[];
  labels?: readonly string[];
  labelTexts?: readonly string[];
  metric?: Metric;
  loss?: LossKind;
}

function invalid(message: string): never {
  throw new SecpError('ERR_INVALID_ARGUMENT', message);
}

function count(template: string, slot: string): number {
  return template.split(slot).length - 1;
}

/** Resolves a built-in task name (or a full spec) with overrides into a validated ResolvedTask. */
export function resolveTask(task: string | TaskSpec, overrides: TaskOverrides = {}): ResolvedTask {
  let spec: TaskSpec;
  if (typeof task === 'string') {
    const found = TASKS[task];
    if (found === undefined) invalid(`unknown task ${JSON.stringify(task)}; built-in tasks: ${Object.keys(TASKS).join(', ')}`);
    spec = found;
  } else {
    spec = task;
  }
  const kind = overrides.kind ?? 'mlm';
  if (kind !== 'mlm' && kind !== 'pooled') invalid(`kind must be 'mlm' or 'pooled', got ${JSON.stringify(kind)}`);
  const labels = [...(overrides.labels ?? spec.labels)];
  if (labels.length < 2) invalid(`task ${spec.name}: needs at least two labels`);
  if (new Set(labels.map((l) => l.toLowerCase())).size !== labels.length) {
    invalid(`task ${spec.name}: label names must be distinct, got ${labels.join(', ')}`);
  }
  if (labels.some((l) => l.trim() === '')) invalid(`task ${spec.name}: label names must be non-empty`);
  const pairDefault = count(spec.template, '{text2}') > 0;
  const template =
    overrides.template ?? (kind === 'mlm' ? spec.template : (spec.pooledTemplate ?? (pairDefault ? '{text} ? {text2}' : '{text}')));
  if (count(template, '{text}') !== 1) invalid(`template must contain {text} exactly once, got ${JSON.stringify(template)}`);
  if (count(template, '{text2}') > 1) invalid(`template may contain {text2} at most once, got ${JSON.stringify(template)}`);
  const masks = count(template, '{mask}');
  if (kind === 'mlm' && masks !== 1) invalid(`an mlm template must contain {mask} exactly once, got ${JSON.stringify(template)}`);
  if (kind === 'pooled' && masks !== 0) invalid(`a pooled template must not contain {mask}, got ${JSON.stringify(template)}`);
  const unknown = template.match(/\{[^}]*\}/g)?.filter((s) => !['{text}', '{text2}', '{mask}'].includes(s)) ?? [];
  if (unknown.length > 0) invalid(`template has unknown slot ${unknown[0]}; slots are {text}, {text2}, {mask}`);
  let words: string[] | null = null;
  let labelTexts: string[] | null = null;
  if (kind === 'mlm') {
    words = [...(overrides.words ?? spec.words)];
    if (words.length !== labels.length) {
      invalid(`task ${spec.name}: ${words.length} label words for ${labels.length} labels; give one word per label`);
    }
  } else {
    labelTexts = [...(overrides.labelTexts ?? spec.labelTexts ?? labels)];
    if (labelTexts.length !== labels.length) {
      invalid(`task ${spec.name}: ${labelTexts.length} label texts for ${labels.length} labels; give one per label`);
    }
    if (labelTexts.some((t) => t.trim() === '')) invalid(`task ${spec.name}: label texts must be non-empty`);
  }
  const metric = overrides.metric ?? spec.metric;
  if (metric !== 'accuracy' && metric !== 'f1') invalid(`metric must be 'accuracy' or 'f1', got ${JSON.stringify(metric)}`);
  if (metric === 'f1' && labels.length !== 2) invalid(`metric f1 needs a binary task, this one has ${labels.length} labels`);
  const loss = overrides.loss ?? spec.loss;
  if (loss !== 'ce' && loss !== 'hinge') invalid(`loss must be 'ce' or 'hinge', got ${JSON.stringify(loss)}`);
  return { name: spec.name, kind, labels, template, words, labelTexts, pair: count(template, '{text2}') === 1, metric, loss };
}

/** Token ids of one batch, row-major B × seqLen, ready for the forward. */
export interface EncodedBatch {
  size: number;
  seqLen: number;
  /** First prompt slot (1: right after [CLS]/<s>). */
  promptStart: number;
  promptLength: number;
  ids: Int32Array;
  typeIds: Int32Array;
  attentionMask: Uint8Array;
  /** [MASK] position per example (mlm); -1 for pooled. */
  maskPos: Int32Array;
  labels: Int32Array;
  /** Examples whose text was cut to fit seqLen. */
  truncated: number;
}

export interface EncodeOptions {
  seqLen: number;
  promptLength: number;
  /** Ids written into the prompt slots (their embeddings are replaced or added to); default placeholderIds(). */
  placeholderIds?: readonly number[];
}

/** Separator between the prompt and the template, BBT's ' . '. */
export const PROMPT_SEPARATOR = '.';

/**
 * Placeholder ids for the prompt slots: BBT uses vocabulary ids 1000.. (random words); a vocabulary too small
 * for that uses its top ids. Special tokens are skipped (RoBERTa positions must not see the pad id).
 */
export function placeholderIds(tokenizer: ModelTokenizer, vocabSize: number, count: number): number[] {
  const special = new Set([tokenizer.padId, tokenizer.clsId, tokenizer.sepId, tokenizer.maskId]);
  const ids: number[] = [];
  let id = Math.max(0, Math.min(1000, vocabSize - count - special.size));
  while (ids.length < count && id < vocabSize) {
    if (!special.has(id)) ids.push(id);
    id++;
  }
  if (ids.length < count) invalid(`the vocabulary (${vocabSize}) is too small for ${count} prompt slots`);
  return ids;
}

/**
 * Prompt slots initialised from real tokens: the first `count` word pieces of `text` as the slot ids, so that
 * the untuned prompt (z = 0, prompt mode 'add') is the embedding of real text instead of placeholder tokens
 * (prompt tuning's "vocabulary" initialisation). The data owner tokenises it like any input, so it needs no
 * weights and runs unchanged under MPC. A text with fewer pieces than `count` is refused (the message says how
 * many it has).
 */
export function promptInitIds(tokenizer: ModelTokenizer, text: string, count: number): number[] {
  if (!Number.isSafeInteger(count) || count < 1) invalid(`prompt length must be an integer >= 1, got ${count}`);
  const special = new Set([tokenizer.padId, tokenizer.clsId, tokenizer.sepId, tokenizer.maskId]);
  const ids = pieceIds(tokenizer, text);
  if (ids.some((id) => special.has(id))) invalid(`prompt init text ${JSON.stringify(text)} contains a special token`);
  if (ids.length < count) {
    invalid(`prompt init text ${JSON.stringify(text)} has ${ids.length} word pieces; the prompt has ${count} slots`);
  }
  return ids.slice(0, count);
}

/** The ids of `text` without the special tokens the tokenizer adds around it. */
function pieceIds(tokenizer: ModelTokenizer, text: string): number[] {
  if (text.trim() === '') return [];
  // Byte-level BPE marks word starts with a space: every piece follows something, so it gets one.
  const ids = tokenizer.encode(tokenizer.byteLevel ? ` ${text.trim()}` : text).ids;
  const start = ids[0] === tokenizer.clsId ? 1 : 0;
  const end = ids.at(-1) === tokenizer.sepId ? ids.length - 1 : ids.length;
  return ids.slice(start, end);
}

type Piece = { kind: 'ids'; ids: number[] } | { kind: 'text' | 'text2' };

function templatePieces(tokenizer: ModelTokenizer, template: string): Piece[] {
  const pieces: Piece[] = [];
  for (const part of template.split(/(\{text\}|\{text2\}|\{mask\})/)) {
    if (part === '{text}') pieces.push({ kind: 'text' });
    else if (part === '{text2}') pieces.push({ kind: 'text2' });
    else if (part === '{mask}') pieces.push({ kind: 'ids', ids: [tokenizer.maskId] });
    else if (part.trim() !== '') pieces.push({ kind: 'ids', ids: pieceIds(tokenizer, part) });
  }
  return pieces;
}

/**
 * Tokenises examples into one fixed-length batch: `[CLS] slots . template [SEP]`, right-padded to seqLen.
 * Texts that do not fit are cut from their end, the longer of a pair first; a template that cannot fit even
 * with empty texts is an error naming the length it needs.
 */
export function encodeExamples(
  tokenizer: ModelTokenizer,
  task: ResolvedTask,
  examples: readonly Example[],
  options: EncodeOptions,
): EncodedBatch {
  const { seqLen, promptLength } = options;
  if (!Number.isSafeInteger(seqLen) || seqLen < 4) invalid(`seqLen must be an integer >= 4, got ${seqLen}`);
  if (!Number.isSafeInteger(promptLength) || promptLength < 0) {
    invalid(`promptLength must be an integer >= 0, got ${promptLength}`);
  }
  const slots = options.placeholderIds ?? placeholderIds(tokenizer, tokenizer.size, promptLength);
  if (slots.length !== promptLength) invalid(`placeholderIds has ${slots.length} ids for promptLength ${promptLength}`);
  const pieces = templatePieces(tokenizer, task.template);
  const sep = promptLength > 0 ? pieceIds(tokenizer, PROMPT_SEPARATOR) : [];
  const fixed = 2 + promptLength + sep.length + pieces.reduce((s, p) => s + (p.kind === 'ids' ? p.ids.length : 0), 0);
  if (fixed + 1 + (task.pair ? 1 : 0) > seqLen) {
    invalid(
      `seqLen ${seqLen} is too short: [CLS], ${promptLength} prompt slots, the template and [SEP] take ${fixed} tokens ` +
        `before any text; use seqLen >= ${fixed + 8} or a shorter prompt`,
    );
  }
  const B = examples.length;
  const ids = new Int32Array(B * seqLen);
  const typeIds = new Int32Array(B * seqLen);
  const attentionMask = new Uint8Array(B * seqLen);
  const maskPos = new Int32Array(B).fill(-1);
  const labels = new Int32Array(B);
  let truncated = 0;
  examples.forEach((ex, b) => {
    let a = pieceIds(tokenizer, ex.text);
    let c: number[] = [];
    if (task.pair) {
      if (ex.textPair === undefined) invalid(`${ex.source}: task ${task.name} needs a second text (textPairColumn)`);
      c = pieceIds(tokenizer, ex.textPair);
    }
    if (a.includes(tokenizer.maskId) || c.includes(tokenizer.maskId)) {
      throw new SecpError('ERR_DATA', `${ex.source}: the text contains the model's mask token; remove it`);
    }
    let over = fixed + a.length + c.length - seqLen;
    if (over > 0) {
      truncated++;
      while (over > 0) {
        if (a.length >= c.length) a = a.slice(0, -1);
        else c = c.slice(0, -1);
        over--;
      }
    }
    const body: number[] = [...sep];
    let maskAt = -1;
    for (const p of pieces) {
      if (p.kind === 'ids' && p.ids.length === 1 && p.ids[0] === tokenizer.maskId) maskAt = body.length;
      body.push(...(p.kind === 'ids' ? p.ids : p.kind === 'text' ? a : c));
    }
    const plain: Encoded = {
      ids: [tokenizer.clsId, ...body, tokenizer.sepId],
      typeIds: new Array<number>(body.length + 2).fill(0),
      attentionMask: new Array<number>(body.length + 2).fill(1),
    };
    const enc = tokenizer.pad(insertPromptSlots(plain, slots, 1), seqLen);
    ids.set(enc.ids, b * seqLen);
    typeIds.set(enc.typeIds, b * seqLen);
    attentionMask.set(enc.attentionMask, b * seqLen);
    if (task.kind === 'mlm') maskPos[b] = 1 + promptLength + maskAt;
    labels[b] = ex.label;
  });
  return { size: B, seqLen, promptStart: 1, promptLength, ids, typeIds, attentionMask, maskPos, labels, truncated };
}

/** The verbalizer's token ids (each word must be one token). */
export function labelWordIds(tokenizer: ModelTokenizer, task: ResolvedTask): number[] {
  if (task.words === null) invalid(`task ${task.name} (${task.kind}) has no verbalizer words`);
  const ids = task.words.map((w) => tokenizer.labelWordId(w));
  if (new Set(ids).size !== ids.length) invalid(`task ${task.name}: two label words map to the same token`);
  return ids;
}
