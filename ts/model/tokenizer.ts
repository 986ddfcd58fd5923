/**
 * Tokenizer glue over @huggingface/tokenizers (a JS port that runs HF `tokenizer.json` files): encoding with
 * special tokens, the mask/pad ids, verbalizer label words, and the BBT prompt slots. A BERT folder with only
 * `vocab.txt` gets an equivalent WordPiece `tokenizer.json` object built in code.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { SecpError } from '../../bindings/errors.js';

export interface Encoded {
  ids: number[];
  typeIds: number[];
  /** 1 for a real token, 0 for padding. */
  attentionMask: number[];
}

export interface TokenizerOptions {
  /** The model's type_vocab_size; with 1 (RoBERTa) every type id is 0, as HF's RoBERTa tokenizer does. */
  typeVocabSize?: number;
}

type Json = Record<string, unknown>;

/** Candidate spellings of each special token when tokenizer_config.json does not name it. */
const SPECIAL_DEFAULTS = {
  mask: ['[MASK]', '<mask>'],
  pad: ['[PAD]', '<pad>'],
  cls: ['[CLS]', '<s>'],
  sep: ['[SEP]', '</s>'],
} as const;

function fail(message: string): never {
  throw new SecpError('ERR_TOKENIZER', message);
}

function usesByteLevel(preTokenizer: unknown): boolean {
  if (preTokenizer === null || typeof preTokenizer !== 'object') return false;
  const p = preTokenizer as Json;
  if (p['type'] === 'ByteLevel') return true;
  return p['type'] === 'Sequence' && Array.isArray(p['pretokenizers']) && p['pretokenizers'].some(usesByteLevel);
}

export class ModelTokenizer {
  readonly maskId: number;
  readonly padId: number;
  /** [CLS] / <s> */
  readonly clsId: number;
  /** [SEP] / </s> */
  readonly sepId: number;
  /** Byte-level BPE (RoBERTa): words inside a sentence carry a leading space ('Ġgreat'). */
  readonly byteLevel: boolean;
  private readonly tok: Tokenizer;
  private readonly zeroTypes: boolean;

  constructor(tokenizerJson: object, tokenizerConfig: object = {}, options: TokenizerOptions = {}) {
    const json = tokenizerJson as Json;
    // The port requires these keys; files written by old tokenizers versions may omit them.
    const defaults = { added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null };
    try {
      this.tok = new Tokenizer({ ...defaults, ...json }, tokenizerConfig);
    } catch (err) {
      throw new SecpError('ERR_TOKENIZER', `cannot build tokenizer: ${(err as Error).message}`, { cause: err });
    }
    this.byteLevel = usesByteLevel(json['pre_tokenizer']);
    this.zeroTypes = options.typeVocabSize === 1;
    const cfg = tokenizerConfig as Json;
    const special = (key: keyof typeof SPECIAL_DEFAULTS): number => {
      const named = cfg[`${key}_token`];
      const content = typeof named === 'string' ? named : (named as Json | undefined)?.['content'];
      const candidates = typeof content === 'string' ? [content] : SPECIAL_DEFAULTS[key];
      for (const c of candidates) {
        const id = this.tok.token_to_id(c);
        if (id !== undefined) return id;
      }
      return fail(`tokenizer has no ${key} token (looked for ${candidates.join(', ')})`);
    };
    this.maskId = special('mask');
    this.padId = special('pad');
    this.clsId = special('cls');
    this.sepId = special('sep');
  }

  /** Number of ids the tokenizer can produce (vocabulary plus added tokens). */
  get size(): number {
    return this.tok.get_vocab(true).size;
  }

  /** Encodes text (and an optional second segment) with the model's special tokens. */
  encode(text: string, pair?: string): Encoded {
    const e = this.tok.encode(text, { text_pair: pair ?? null, return_token_type_ids: true });
    return {
      ids: e.ids,
      typeIds: this.zeroTypes ? e.ids.map(() => 0) : (e.token_type_ids ?? e.ids.map(() => 0)),
      attentionMask: e.attention_mask,
    };
  }

  decode(ids: number[], skipSpecialTokens = true): string {
    return this.tok.decode(ids, { skip_special_tokens: skipSpecialTokens });
  }

  /** Tokens for text, without special tokens (for inspection and tests). */
  tokenize(text: string): string[] {
    return this.tok.tokenize(text);
  }

  /** Exact vocabulary lookup of a token string. */
  tokenId(token: string): number {
    const id = this.tok.token_to_id(token);
    if (id === undefined) fail(`token ${JSON.stringify(token)} is not in the vocabulary`);
    return id;
  }

  /**
   * Id of a verbalizer word as it appears inside a sentence ("It was great": 'great' for WordPiece,
   * 'Ġgreat' for byte-level BPE). The word must be a single token.
   */
  labelWordId(word: string): number {
    const tokens = this.tok.tokenize(this.byteLevel ? ` ${word}` : word);
    if (tokens.length !== 1) {
      fail(`label word ${JSON.stringify(word)} is ${tokens.length} tokens [${tokens.join(', ')}], not one`);
    }
    return this.tokenId(tokens[0]!);
  }

  /** Right-pads an encoding to `length` with the pad id (mask 0). */
  pad(enc: Encoded, length: number): Encoded {
    const extra = length - enc.ids.length;
    if (!Number.isSafeInteger(length) || extra < 0) {
      throw new SecpError('ERR_INVALID_ARGUMENT', `cannot pad ${enc.ids.length} tokens to length ${length}`);
    }
    const fill = (v: number) => new Array<number>(extra).fill(v);
    return {
      ids: [...enc.ids, ...fill(this.padId)],
      typeIds: [...enc.typeIds, ...fill(0)],
      attentionMask: [...enc.attentionMask, ...fill(0)],
    };
  }
}

/**
 * BBT-style prompt slots: inserts placeholder tokens at `at` (default 1, right after [CLS]/<s>). The forward
 * then writes the prompt embeddings into positions [at, at + placeholderIds.length).
 */
export function insertPromptSlots(enc: Encoded, placeholderIds: readonly number[], at = 1): Encoded {
  if (!Number.isSafeInteger(at) || at < 0 || at > enc.ids.length) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `prompt position ${at} is outside 0..${enc.ids.length}`);
  }
  const splice = (xs: number[], ins: readonly number[]) => [...xs.slice(0, at), ...ins, ...xs.slice(at)];
  const n = placeholderIds.length;
  return {
    ids: splice(enc.ids, placeholderIds),
    typeIds: splice(enc.typeIds, new Array<number>(n).fill(enc.typeIds[at - 1] ?? 0)),
    attentionMask: splice(enc.attentionMask, new Array<number>(n).fill(1)),
  };
}

/**
 * The tokenizer.json object HF builds for a BERT `vocab.txt`: BertNormalizer, BertPreTokenizer, WordPiece
 * with '##' continuations, and [CLS] $A [SEP] ($B:1 [SEP]:1) templates.
 */
export function wordPieceTokenizerJson(vocab: readonly string[], lowercase = true): object {
  const ids = new Map<string, number>();
  vocab.forEach((t, i) => {
    if (!ids.has(t)) ids.set(t, i);
  });
  const need = (t: string): number => ids.get(t) ?? fail(`vocab.txt has no ${t} token`);
  const cls = need('[CLS]');
  const sep = need('[SEP]');
  need('[UNK]');
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].filter((t) => ids.has(t));
  const tok = (id: string, typeId: number) => ({ SpecialToken: { id, type_id: typeId } });
  const seq = (id: string, typeId: number) => ({ Sequence: { id, type_id: typeId } });
  return {
    version: '1.0',
    added_tokens: specials.map((content) => ({
      id: ids.get(content),
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [tok('[CLS]', 0), seq('A', 0), tok('[SEP]', 0)],
      pair: [tok('[CLS]', 0), seq('A', 0), tok('[SEP]', 0), seq('B', 1), tok('[SEP]', 1)],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [cls], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [sep], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(ids),
    },
  };
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new SecpError('ERR_TOKENIZER', `${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Loads `tokenizer.json` (+ optional `tokenizer_config.json`) from a model folder, or builds a WordPiece
 * tokenizer from `vocab.txt` (lower-casing unless tokenizer_config.json says do_lower_case: false).
 */
export function loadTokenizer(dir: string, options: TokenizerOptions = {}): ModelTokenizer {
  const configPath = join(dir, 'tokenizer_config.json');
  const config = existsSync(configPath) ? (readJson(configPath) as Json) : {};
  const jsonPath = join(dir, 'tokenizer.json');
  if (existsSync(jsonPath)) return new ModelTokenizer(readJson(jsonPath) as object, config, options);
  const vocabPath = join(dir, 'vocab.txt');
  if (existsSync(vocabPath)) {
    const vocab = readFileSync(vocabPath, 'utf8').split(/\r?\n/);
    if (vocab.at(-1) === '') vocab.pop();
    return new ModelTokenizer(wordPieceTokenizerJson(vocab, config['do_lower_case'] !== false), config, options);
  }
  throw new SecpError('ERR_FILE_MISSING', `no tokenizer in ${dir}: expected tokenizer.json or vocab.txt`);
}
