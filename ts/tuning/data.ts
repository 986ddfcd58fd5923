/**
 * The data owner's labelled examples: CSV (RFC 4180, header row) and JSONL readers, validation that names the
 * file and line of every problem and says what to change, and the seeded k-shot sampling BBT uses
 * (PAPER-NOTES §2: k per class for training and a disjoint k per class for the "true few-shot" dev set, both
 * drawn from the training split).
 *
 * Everything is deterministic: the same file, options and seed give the same examples in the same order.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { SecpError } from '../../bindings/errors.js';
import { Rng } from '../model/random.js';

export interface Example {
  text: string;
  /** Second text of a sentence-pair task (MRPC, RTE, SNLI). */
  textPair?: string;
  /** Class index into the task's labels. */
  label: number;
  /** `file:line` of the record, for messages. */
  source: string;
}

export interface Dataset {
  path: string;
  format: 'csv' | 'jsonl';
  examples: Example[];
  /** Examples per class. */
  counts: number[];
  /** sha256 of the file's bytes. */
  sha256: string;
}

export interface LoadOptions {
  /** The task's class names, in label-index order (a label in the file may be the index or the name). */
  labels: readonly string[];
  /** Further accepted spellings of each class (e.g. the verbalizer words); same order as `labels`. */
  labelAliases?: readonly (readonly string[])[];
  /** Default: from the extension (.csv, .jsonl / .json / .ndjson). */
  format?: 'csv' | 'jsonl';
  /** Column (CSV) or key (JSONL) of the text. Default 'text'. */
  textColumn?: string;
  /** Column or key of the second text, for sentence-pair tasks. Default: none. */
  textPairColumn?: string;
  /** Column or key of the label. Default 'label'. */
  labelColumn?: string;
  /** Largest file accepted, in bytes. Default 100 MiB. */
  maxBytes?: number;
}

export const DATA_DEFAULTS = {
  textColumn: 'text',
  labelColumn: 'label',
  maxBytes: 100 * 1024 * 1024,
} as const;

function dataError(message: string): SecpError {
  return new SecpError('ERR_DATA', message);
}

function invalid(message: string): SecpError {
  return new SecpError('ERR_INVALID_ARGUMENT', message);
}

/** One CSV record: its fields and the 1-based line it starts on. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/**
 * RFC 4180 CSV: comma-separated fields, CRLF or LF record ends, double-quoted fields that may hold commas,
 * newlines and doubled quotes. A leading UTF-8 BOM is dropped; blank lines are skipped. Quotes inside an
 * unquoted field and text after a closing quote are errors (they usually mean a broken export).
 */
export function parseCsv(text: string, source = '<csv>'): CsvRecord[] {
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const start = line;
    // A blank line (outside quotes) is not a record.
    if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n')) {
      i += text[i] === '\r' ? 2 : 1;
      line++;
      continue;
    }
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        const openLine = line;
        i++;
        for (;;) {
          if (i >= n) {
            throw dataError(`${source}:${openLine}: a quoted field opened on this line is never closed (missing '"')`);
          }
          const ch = text[i]!;
          if (ch === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (ch === '\n') line++;
          field += ch;
          i++;
        }
        if (i < n && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          throw dataError(
            `${source}:${line}: unexpected ${JSON.stringify(text[i])} after a closing quote; ` +
              'a quoted field must end at a comma or the end of the line (write a literal quote as "")',
          );
        }
      } else {
        const from = i;
        while (i < n && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          if (text[i] === '"') {
            throw dataError(
              `${source}:${line}: a quote inside an unquoted field; quote the whole field and double the inner ` +
                'quotes ("say ""hi""")',
            );
          }
          i++;
        }
        field = text.slice(from, i);
      }
      fields.push(field);
      if (i < n && text[i] === ',') {
        i++;
        continue;
      }
      // End of record: a newline or the end of the file.
      if (i < n) {
        i += text[i] === '\r' ? 2 : 1;
        line++;
      }
      break;
    }
    records.push({ fields, line: start });
  }
  return records;
}

function detectFormat(path: string): 'csv' | 'jsonl' {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.json' || ext === '.ndjson') return 'jsonl';
  throw invalid(`${path}: cannot tell the format from the extension '${ext}'; name it .csv or .jsonl, or set format`);
}

/** Maps a label value from a file (index or name, case-insensitive) to the class index. */
function labelResolver(labels: readonly string[], aliases: readonly (readonly string[])[] | undefined) {
  const byName = new Map<string, number>();
  labels.forEach((name, k) => {
    byName.set(String(k), k);
    byName.set(name.trim().toLowerCase(), k);
    for (const a of aliases?.[k] ?? []) if (!byName.has(a.trim().toLowerCase())) byName.set(a.trim().toLowerCase(), k);
  });
  const expected = labels.map((name, k) => `${k}/${name}`).join(', ');
  return (value: unknown, where: string, column: string): number => {
    if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) {
      throw dataError(`${where}: missing label (${column}); every example needs one of ${expected}`);
    }
    let key: string;
    if (typeof value === 'number') key = Number.isInteger(value) ? String(value) : String(value);
    else if (typeof value === 'string') key = value.trim().toLowerCase();
    else if (typeof value === 'boolean') key = value ? '1' : '0';
    else throw dataError(`${where}: label must be a string or a number, got ${JSON.stringify(value)}`);
    const k = byName.get(key);
    if (k === undefined) {
      throw dataError(
        `${where}: label ${JSON.stringify(value)} is not in the verbalizer; expected one of ${expected} ` +
          '(fix the file, or pick the task whose labels these are)',
      );
    }
    return k;
  };
}

function checkText(value: unknown, where: string, column: string): string {
  if (value === undefined || value === null) throw dataError(`${where}: missing text (${column})`);
  if (typeof value !== 'string') throw dataError(`${where}: text (${column}) must be a string, got ${JSON.stringify(value)}`);
  if (value.trim() === '') throw dataError(`${where}: empty text (${column}); remove the row or fill it in`);
  return value;
}

/** Reads, validates and returns every example of a CSV or JSONL file. */
export function loadDataset(path: string, options: LoadOptions): Dataset {
  const { labels } = options;
  if (!Array.isArray(labels) || labels.length < 2) throw invalid('labels must list at least two class names');
  const textColumn = options.textColumn ?? DATA_DEFAULTS.textColumn;
  const labelColumn = options.labelColumn ?? DATA_DEFAULTS.labelColumn;
  const pairColumn = options.textPairColumn;
  const maxBytes = options.maxBytes ?? DATA_DEFAULTS.maxBytes;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw invalid(`maxBytes must be a positive integer, got ${maxBytes}`);
  for (const [name, v] of [['textColumn', textColumn], ['labelColumn', labelColumn], ['textPairColumn', pairColumn]]) {
    if (v !== undefined && (typeof v !== 'string' || v === '')) throw invalid(`${name} must be a non-empty string`);
  }
  const format = options.format ?? detectFormat(path);
  if (format !== 'csv' && format !== 'jsonl') throw invalid(`format must be 'csv' or 'jsonl', got ${JSON.stringify(format)}`);

  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    throw new SecpError('ERR_FILE_MISSING', `cannot read data file ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (size > maxBytes) {
    const mb = (b: number) => (b >= 104858 ? `${(b / 1024 / 1024).toFixed(1)} MiB` : `${b} bytes`);
    throw dataError(
      `${path} is ${mb(size)}, over the ${mb(maxBytes)} limit; raise maxBytes (--max-file-mb) or pass a smaller file`,
    );
  }
  const bytes = readFileSync(path);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const text = bytes.toString('utf8');
  const resolve = labelResolver(labels, options.labelAliases);
  const examples: Example[] = [];

  if (format === 'csv') {
    const records = parseCsv(text, path);
    if (records.length === 0) throw dataError(`${path}: empty file; expected a header row and examples`);
    const header = records[0]!;
    const columns = header.fields.map((f) => f.trim());
    const seen = new Map<string, number>();
    columns.forEach((c, k) => {
      if (seen.has(c)) {
        throw dataError(
          `${path}:${header.line}: duplicate header ${JSON.stringify(c)} (columns ${seen.get(c)! + 1} and ${k + 1}); ` +
            'rename one so every column is unambiguous',
        );
      }
      seen.set(c, k);
    });
    const col = (name: string, option: string, flag: string): number => {
      const k = seen.get(name);
      if (k === undefined) {
        throw dataError(
          `${path}:${header.line}: no column ${JSON.stringify(name)} in the header (columns: ${columns.join(', ')}); ` +
            `set ${option} (${flag}) to the right one`,
        );
      }
      return k;
    };
    const ti = col(textColumn, 'textColumn', '--text-column');
    const li = col(labelColumn, 'labelColumn', '--label-column');
    const pi = pairColumn === undefined ? -1 : col(pairColumn, 'textPairColumn', '--text-pair-column');
    for (const rec of records.slice(1)) {
      const where = `${path}:${rec.line}`;
      if (rec.fields.length !== columns.length) {
        throw dataError(
          `${where}: ${rec.fields.length} fields but the header has ${columns.length}; ` +
            'quote fields that contain commas ("a, b")',
        );
      }
      const ex: Example = {
        text: checkText(rec.fields[ti], where, `column ${textColumn}`),
        label: resolve(rec.fields[li], where, `column ${labelColumn}`),
        source: where,
      };
      if (pi >= 0) ex.textPair = checkText(rec.fields[pi], where, `column ${pairColumn}`);
      examples.push(ex);
    }
  } else {
    const lines = text.split('\n');
    lines.forEach((raw, k) => {
      const lineText = k === 0 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
      if (lineText.trim() === '') return;
      const where = `${path}:${k + 1}`;
      let obj: unknown;
      try {
        obj = JSON.parse(lineText);
      } catch (err) {
        throw dataError(`${where}: bad JSON on line ${k + 1}: ${(err as Error).message}`);
      }
      if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
        throw dataError(`${where}: each line must be a JSON object like {"${textColumn}": "...", "${labelColumn}": 0}`);
      }
      const o = obj as Record<string, unknown>;
      const ex: Example = {
        text: checkText(o[textColumn], where, `key ${textColumn}`),
        label: resolve(o[labelColumn], where, `key ${labelColumn}`),
        source: where,
      };
      if (pairColumn !== undefined) ex.textPair = checkText(o[pairColumn], where, `key ${pairColumn}`);
      examples.push(ex);
    });
  }
  if (examples.length === 0) throw dataError(`${path}: no examples`);
  const counts = new Array<number>(labels.length).fill(0);
  for (const e of examples) counts[e.label]!++;
  return { path, format, examples, counts, sha256 };
}

/** Stream ids that keep the data samplers independent of every other use of the seeded PRNG. */
const FEWSHOT_STREAM = 0x46_45_57; // 'FEW'
const SUBSAMPLE_STREAM = 0x53_55_42; // 'SUB'

/** Seeded Fisher-Yates shuffle of 0..n-1. */
function shuffledIndices(n: number, rng: Rng): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.nextFloat() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx;
}

export interface FewShotOptions {
  /** Training examples per class (BBT: 16). */
  shots: number;
  /** Dev examples per class, disjoint from training (BBT: 16); 0 for none. Default: shots. */
  devShots?: number;
  /** Number of classes. */
  numLabels: number;
  seed: number | bigint;
  /** Class names for messages. */
  labelNames?: readonly string[];
  /** What the examples are, for messages (a path). */
  source?: string;
}

/**
 * BBT's "true few-shot" split: per class, a seeded shuffle of that class's examples; the first `shots` go to
 * training, the next `devShots` to dev. Output is class-major (all of class 0, then class 1, ...), each class
 * in shuffled order. Each class has its own stream, so adding examples of one class never changes another's.
 */
export function sampleFewShot(examples: readonly Example[], options: FewShotOptions): { train: Example[]; dev: Example[] } {
  const { shots, numLabels, seed } = options;
  const devShots = options.devShots ?? shots;
  if (!Number.isSafeInteger(shots) || shots < 1) throw invalid(`shots must be an integer >= 1, got ${shots}`);
  if (!Number.isSafeInteger(devShots) || devShots < 0) throw invalid(`devShots must be an integer >= 0, got ${devShots}`);
  if (!Number.isSafeInteger(numLabels) || numLabels < 2) throw invalid(`numLabels must be an integer >= 2, got ${numLabels}`);
  const byClass: number[][] = Array.from({ length: numLabels }, () => []);
  examples.forEach((e, i) => {
    if (!Number.isSafeInteger(e.label) || e.label < 0 || e.label >= numLabels) {
      throw invalid(`${e.source}: label ${e.label} is outside 0..${numLabels - 1}`);
    }
    byClass[e.label]!.push(i);
  });
  const need = shots + devShots;
  const train: Example[] = [];
  const dev: Example[] = [];
  byClass.forEach((members, c) => {
    if (members.length < need) {
      const name = options.labelNames?.[c];
      throw dataError(
        `${options.source ?? 'data'}: class ${c}${name ? ` (${name})` : ''} has ${members.length} examples, ` +
          `need ${need} (${shots} train + ${devShots} dev per class); lower shots/devShots or add examples`,
      );
    }
    const order = shuffledIndices(members.length, new Rng(seed, FEWSHOT_STREAM, c));
    for (let k = 0; k < shots; k++) train.push(examples[members[order[k]!]!]!);
    for (let k = shots; k < need; k++) dev.push(examples[members[order[k]!]!]!);
  });
  return { train, dev };
}

/** A seeded subsample of `limit` examples (all when limit >= length), kept in file order. */
export function subsample(examples: readonly Example[], limit: number, seed: number | bigint): Example[] {
  if (!Number.isSafeInteger(limit) || limit < 0) throw invalid(`limit must be an integer >= 0, got ${limit}`);
  if (limit >= examples.length) return [...examples];
  const order = shuffledIndices(examples.length, new Rng(seed, SUBSAMPLE_STREAM));
  return order
    .slice(0, limit)
    .sort((a, b) => a - b)
    .map((i) => examples[i]!);
}

/** sha256 over the texts and labels, in order: identifies a sampled split in checkpoints. */
export function examplesHash(examples: readonly Example[]): string {
  const h = createHash('sha256');
  for (const e of examples) h.update(JSON.stringify([e.text, e.textPair ?? null, e.label])).update('\n');
  return h.digest('hex');
}
