/**
 * Writes a small random BERT or RoBERTa checkpoint from a seed, in the HF layout loadModel reads: config.json,
 * model.safetensors (MLM head with the decoder tied, or a BertModel-style pooler), tokenizer.json and
 * tokenizer_config.json. BERT gets a WordPiece vocabulary of specials, ASCII characters, '##' pieces and
 * common English words; RoBERTa gets a byte-level BPE whose merges are trained here on the same words
 * (lower-case and capitalised, with and without the leading space).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SecpError } from '../../bindings/errors.js';
import { encoderShapes, mlmHeadShapes, parseConfig, POOLER, type Arch } from './config.js';
import { Rng } from './random.js';
import { writeSafetensors, type TensorToWrite } from './safetensors.js';
import { wordPieceTokenizerJson } from './tokenizer.js';

export interface TinyModelOptions {
  arch: Arch;
  seed: number | bigint;
  layers?: number;
  hidden?: number;
  heads?: number;
  /** Default 4 × hidden. */
  intermediate?: number;
  /** Usable sequence length (RoBERTa's config gets pad_token_id + 1 more). Default 64. */
  maxPositions?: number;
  /** Default: the generated vocabulary's size; larger values are filled with unused tokens. */
  vocabSize?: number;
  /**
   * Std of the weight matrices. Default 1/sqrt(hidden): projections keep unit-scale entries, so attention
   * is far from uniform and RFA's default τ = sqrt(d_head) matches softmax's scale. BERT's own init is 0.02.
   */
  initStd?: number;
  /** Write an MLM head (BertForMaskedLM / RobertaForMaskedLM); otherwise a pooler (BertModel). Default true. */
  mlmHead?: boolean;
  /** Prefix encoder names with 'bert.' / 'roberta.' as MLM checkpoints do. Default: same as mlmHead. */
  prefixed?: boolean;
}

/** Std of LayerNorm gammas around 1 and of all biases: small but non-zero, so they are exercised. */
const SMALL_STD = 0.05;
/** Stream id of the tiny-model weights in the seeded PRNG. */
const TINY_STREAM = 0x54_49_4e_59; // 'TINY'

/** Common English words, the verbalizers of the BBT tasks included. */
export const TINY_WORDS: readonly string[] = `
the a an and or but not no yes maybe it is was be are were been this that these those there here
i you he she we they me him her us them my your his our their its what which who whom whose when where why how
of to in on at by for with from about as into over after before under between through during without
all any some many much more most few less other such only own same so than too very just also still even
can could will would shall should may might must do does did done have has had having get got make made
go went come came see saw know knew think thought take took give gave find found tell told say said
good great bad terrible awful nice fine best worst better worse excellent poor wonderful boring fun funny
movie film story plot actor actors acting scene scenes music book show play game team player
love loved like liked hate hated enjoy enjoyed waste time money life world people man woman child
day night year week new old big small long short high low first last next early late
news sports business tech science health politics market company stock price war peace police
category question answer true false right wrong sure maybe never always often sometimes
one two three four five six seven eight nine ten hundred thousand
food service place room staff hotel restaurant price order wait friendly clean dirty slow fast
work home school city country house car road water money family friend friends
`
  .split(/\s+/)
  .filter((w, i, all) => w !== '' && all.indexOf(w) === i);

const PUNCTUATION = [...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'];
const DIGITS = [...'0123456789'];
const LETTERS = [...'abcdefghijklmnopqrstuvwxyz'];
const SUFFIXES = ['##s', '##es', '##ed', '##ing', '##ly', '##er', '##est', "##'s"];

function bertVocab(): string[] {
  const tokens = [
    '[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]',
    ...PUNCTUATION, ...DIGITS, ...LETTERS,
    ...DIGITS.map((d) => `##${d}`), ...LETTERS.map((c) => `##${c}`), ...SUFFIXES,
    ...TINY_WORDS,
  ];
  return tokens.filter((t, i) => tokens.indexOf(t) === i);
}

/** GPT-2's reversible map from bytes to printable characters (' ' -> 'Ġ'), which byte-level BPE uses. */
function bytesToUnicode(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const map: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCharCode(printable(b) ? b : 256 + extra++);
  return map;
}

/**
 * Trains byte-level BPE merges until every word is one symbol: at each step the most frequent adjacent pair
 * (first seen wins a tie) is merged everywhere. Applying the merges by rank, as BPE does, reproduces this.
 */
function trainMerges(words: string[][]): [string, string][] {
  const merges: [string, string][] = [];
  for (;;) {
    const counts = new Map<string, number>();
    for (const w of words) {
      for (let i = 0; i + 1 < w.length; i++) {
        const key = `${w[i]}\u0000${w[i + 1]}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    if (counts.size === 0) return merges;
    let best = '';
    let bestCount = 0;
    for (const [key, c] of counts) {
      if (c > bestCount) {
        best = key;
        bestCount = c;
      }
    }
    const [a, b] = best.split('\u0000') as [string, string];
    merges.push([a, b]);
    for (const w of words) {
      for (let i = 0; i + 1 < w.length; i++) {
        if (w[i] === a && w[i + 1] === b) w.splice(i, 2, a + b);
      }
    }
  }
}

function robertaTokenizer(vocabSize: number | undefined) {
  const byteChars = bytesToUnicode();
  const encodeWord = (w: string) => [...new TextEncoder().encode(w)].map((b) => byteChars[b]!);
  const forms = TINY_WORDS.flatMap((w) => [w, w[0]!.toUpperCase() + w.slice(1)]);
  const corpus = [...new Set(forms)].flatMap((w) => [encodeWord(` ${w}`), encodeWord(w)]);
  const merges = trainMerges(corpus);
  const tokens = [...new Set(['<s>', '<pad>', '</s>', '<unk>', ...byteChars, ...merges.map(([a, b]) => a + b)])];
  const size = vocabSize ?? tokens.length + 1;
  checkVocabSize(size, tokens.length + 1);
  while (tokens.length < size - 1) tokens.push(`<unused${tokens.length}>`);
  tokens.push('<mask>'); // last, as in RoBERTa's own vocabulary
  const id = (t: string) => tokens.indexOf(t);
  const added = (content: string, lstrip = false) => ({
    id: id(content),
    content,
    single_word: false,
    lstrip,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const json = {
    version: '1.0',
    added_tokens: [added('<s>'), added('<pad>'), added('</s>'), added('<unk>'), added('<mask>', true)],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: {
      type: 'RobertaProcessing',
      sep: ['</s>', id('</s>')],
      cls: ['<s>', id('<s>')],
      trim_offsets: true,
      add_prefix_space: false,
    },
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab: Object.fromEntries(tokens.map((t, i) => [t, i])),
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  const config = {
    tokenizer_class: 'RobertaTokenizer',
    ...{ bos_token: '<s>', eos_token: '</s>', cls_token: '<s>', sep_token: '</s>' },
    ...{ unk_token: '<unk>', pad_token: '<pad>', mask_token: '<mask>' },
  };
  return { json, size, padId: id('<pad>'), config };
}

function bertTokenizer(vocabSize: number | undefined) {
  const tokens = bertVocab();
  const size = vocabSize ?? tokens.length;
  checkVocabSize(size, tokens.length);
  while (tokens.length < size) tokens.push(`[unused${tokens.length}]`);
  const config = {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: true,
    ...{ cls_token: '[CLS]', sep_token: '[SEP]', unk_token: '[UNK]', pad_token: '[PAD]', mask_token: '[MASK]' },
  };
  return { json: wordPieceTokenizerJson(tokens, true), size, padId: 0, config };
}

function invalid(message: string): never {
  throw new SecpError('ERR_INVALID_ARGUMENT', message);
}

function checkVocabSize(size: number, min: number): void {
  if (!Number.isSafeInteger(size) || size < min) {
    invalid(`vocabSize must be an integer >= ${min} (the generated vocabulary), got ${size}`);
  }
}

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) invalid(`${name} must be a positive integer, got ${v}`);
  return v;
}

/** Generates the checkpoint described by `options` into `dir` (created if needed). Same seed, same bytes. */
export function writeTinyModel(dir: string, options: TinyModelOptions): void {
  const { arch, seed } = options;
  if (arch !== 'bert' && arch !== 'roberta') invalid(`arch must be 'bert' or 'roberta', got ${JSON.stringify(arch)}`);
  const layers = positiveInt('layers', options.layers ?? 2);
  const hidden = positiveInt('hidden', options.hidden ?? 32);
  const heads = positiveInt('heads', options.heads ?? 4);
  const intermediate = positiveInt('intermediate', options.intermediate ?? 4 * hidden);
  const maxLen = positiveInt('maxPositions', options.maxPositions ?? 64);
  const initStd = options.initStd ?? 1 / Math.sqrt(hidden);
  const mlmHead = options.mlmHead ?? true;
  const prefixed = options.prefixed ?? mlmHead;
  if (hidden % heads !== 0) invalid(`hidden ${hidden} is not divisible by heads ${heads}`);
  if (!(initStd > 0 && Number.isFinite(initStd))) invalid(`initStd must be a positive number, got ${initStd}`);

  const tok = arch === 'bert' ? bertTokenizer(options.vocabSize) : robertaTokenizer(options.vocabSize);
  const roberta = arch === 'roberta';
  const family = roberta ? 'Roberta' : 'Bert';
  const config = {
    architectures: [`${family}${mlmHead ? 'ForMaskedLM' : 'Model'}`],
    model_type: arch,
    vocab_size: tok.size,
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    intermediate_size: intermediate,
    hidden_act: 'gelu',
    max_position_embeddings: roberta ? maxLen + tok.padId + 1 : maxLen,
    type_vocab_size: roberta ? 1 : 2,
    layer_norm_eps: roberta ? 1e-5 : 1e-12,
    pad_token_id: tok.padId,
    position_embedding_type: 'absolute',
    initializer_range: initStd,
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
  };
  const modelConfig = parseConfig(config);

  const rng = new Rng(seed, TINY_STREAM);
  const tensor = (shape: number[], isGamma: boolean): TensorToWrite => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (shape.length === 2) rng.fillNormal(data, initStd);
    else rng.fillNormal(data, SMALL_STD, isGamma ? 1 : 0);
    return { dtype: 'F32', shape, data };
  };
  const pooler: [string, number[]][] = [
    [`${POOLER}.weight`, [hidden, hidden]],
    [`${POOLER}.bias`, [hidden]],
  ];
  const encoder = [...encoderShapes(modelConfig), ...(mlmHead ? [] : pooler)];
  const head = mlmHead ? mlmHeadShapes(modelConfig) : [];
  const named = [...encoder.map(([name, shape]) => [prefixed ? `${arch}.${name}` : name, shape] as const), ...head];
  // In BERT-family checkpoints the 1-D '.weight' tensors are exactly the LayerNorm gammas.
  const tensors = named.map(([name, shape]): [string, TensorToWrite] => [
    name,
    tensor(shape, shape.length === 1 && name.endsWith('.weight')),
  ]);

  mkdirSync(dir, { recursive: true });
  const json = (name: string, value: unknown) => writeFileSync(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
  json('config.json', config);
  json('tokenizer.json', tok.json);
  json('tokenizer_config.json', { ...tok.config, model_max_length: maxLen });
  const metadata = { format: 'pt', generator: 'secp-tuning tiny', seed: String(seed) };
  writeSafetensors(join(dir, 'model.safetensors'), tensors, metadata);
}
