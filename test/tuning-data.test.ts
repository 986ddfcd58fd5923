import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecpError } from '../bindings/errors.js';
import { examplesHash, loadDataset, parseCsv, sampleFewShot, subsample, type Example } from '../ts/tuning/data.js';

const root = mkdtempSync(join(tmpdir(), 'secp-data-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));
const LABELS = ['negative', 'positive'];
const FIXTURES = join(process.cwd(), 'test', 'fixtures');

let n = 0;
function file(ext: string, content: string): string {
  const p = join(root, `f${n++}.${ext}`);
  writeFileSync(p, content);
  return p;
}

/** Asserts that loading fails with ERR_DATA and exactly this message. */
function fails(t: import('ava').ExecutionContext, fn: () => unknown, message: string | RegExp, code = 'ERR_DATA') {
  const err = t.throws(fn, { instanceOf: SecpError });
  t.is(err?.code, code);
  if (typeof message === 'string') t.is(err?.message, message);
  else t.regex(err?.message ?? '', message);
}

test('parseCsv: RFC 4180 quoting, CRLF, embedded newlines, BOM, blank lines', (t) => {
  const text = '\ufeffa,b\r\n"x, y","say ""hi"""\r\n\r\n"multi\nline",2\nlast,\n';
  t.deepEqual(parseCsv(text), [
    { fields: ['a', 'b'], line: 1 },
    { fields: ['x, y', 'say "hi"'], line: 2 },
    { fields: ['multi\nline', '2'], line: 4 },
    { fields: ['last', ''], line: 6 },
  ]);
  t.deepEqual(parseCsv('a,b\n1,2'), [
    { fields: ['a', 'b'], line: 1 },
    { fields: ['1', '2'], line: 2 },
  ]);
});

test('parseCsv: malformed quoting is reported with its line', (t) => {
  fails(t, () => parseCsv('a,b\n1,"open\n2,3\n', 'x.csv'), `x.csv:2: a quoted field opened on this line is never closed (missing '"')`);
  fails(
    t,
    () => parseCsv('a,b\n1,"q"x\n', 'x.csv'),
    'x.csv:2: unexpected "x" after a closing quote; a quoted field must end at a comma or the end of the line (write a literal quote as "")',
  );
  fails(
    t,
    () => parseCsv('a,b\n1,ab"c\n', 'x.csv'),
    'x.csv:2: a quote inside an unquoted field; quote the whole field and double the inner quotes ("say ""hi""")',
  );
});

test('loadDataset reads the CSV and JSONL fixtures to the same examples', (t) => {
  const csv = loadDataset(join(FIXTURES, 'sentiment.csv'), { labels: LABELS });
  const jsonl = loadDataset(join(FIXTURES, 'sentiment.jsonl'), { labels: LABELS });
  t.is(csv.format, 'csv');
  t.is(jsonl.format, 'jsonl');
  t.is(csv.examples.length, 48);
  t.deepEqual(csv.counts, [24, 24]);
  t.deepEqual(
    csv.examples.map((e) => [e.text, e.label]),
    jsonl.examples.map((e) => [e.text, e.label]),
  );
  t.regex(csv.examples[1]!.source, /sentiment\.csv:3$/);
  t.regex(jsonl.examples[1]!.source, /sentiment\.jsonl:2$/);
  t.regex(csv.sha256, /^[0-9a-f]{64}$/);
});

test('labels may be indices, names (any case) or aliases', (t) => {
  const p = file('jsonl', ['{"text":"a","label":0}', '{"text":"b","label":"1"}', '{"text":"c","label":"Positive"}', '{"text":"d","label":"bad"}'].join('\n'));
  const ds = loadDataset(p, { labels: LABELS, labelAliases: [['bad'], ['great']] });
  t.deepEqual(ds.examples.map((e) => e.label), [0, 1, 1, 0]);
});

test('configurable columns and a second text column', (t) => {
  const p = file('csv', 's1,s2,y\nhello there,general kenobi,1\n"a, b",c,0\n');
  const ds = loadDataset(p, { labels: LABELS, textColumn: 's1', textPairColumn: 's2', labelColumn: 'y' });
  t.deepEqual(
    ds.examples.map((e) => [e.text, e.textPair, e.label]),
    [
      ['hello there', 'general kenobi', 1],
      ['a, b', 'c', 0],
    ],
  );
  const j = file('jsonl', '{"premise":"p","hypothesis":"h","gold":"negative"}\n');
  const dj = loadDataset(j, { labels: LABELS, textColumn: 'premise', textPairColumn: 'hypothesis', labelColumn: 'gold' });
  t.deepEqual(dj.examples[0], { text: 'p', textPair: 'h', label: 0, source: `${j}:1` });
});

test('every validation error names the file, the line and the fix', (t) => {
  const empty = file('csv', 'text,label\nfine,1\n  ,0\n');
  fails(t, () => loadDataset(empty, { labels: LABELS }), `${empty}:3: empty text (column text); remove the row or fill it in`);

  const missingText = file('jsonl', '{"text":"ok","label":1}\n{"label":1}\n');
  fails(t, () => loadDataset(missingText, { labels: LABELS }), `${missingText}:2: missing text (key text)`);

  const missingLabel = file('csv', 'text,label\nfine,\n');
  fails(
    t,
    () => loadDataset(missingLabel, { labels: LABELS }),
    `${missingLabel}:2: missing label (column label); every example needs one of 0/negative, 1/positive`,
  );
  const missingKey = file('jsonl', '{"text":"x"}\n');
  fails(
    t,
    () => loadDataset(missingKey, { labels: LABELS }),
    `${missingKey}:1: missing label (key label); every example needs one of 0/negative, 1/positive`,
  );

  const badLabel = file('csv', 'text,label\nfine,1\nmeh,neutral\n');
  fails(
    t,
    () => loadDataset(badLabel, { labels: LABELS }),
    `${badLabel}:3: label "neutral" is not in the verbalizer; expected one of 0/negative, 1/positive ` +
      '(fix the file, or pick the task whose labels these are)',
  );
  const outOfRange = file('jsonl', '{"text":"x","label":2}\n');
  fails(t, () => loadDataset(outOfRange, { labels: LABELS }), /:1: label 2 is not in the verbalizer/);

  const dup = file('csv', 'text,label,text\na,1,b\n');
  fails(
    t,
    () => loadDataset(dup, { labels: LABELS }),
    `${dup}:1: duplicate header "text" (columns 1 and 3); rename one so every column is unambiguous`,
  );

  const noColumn = file('csv', 'sentence,label\na,1\n');
  fails(
    t,
    () => loadDataset(noColumn, { labels: LABELS }),
    `${noColumn}:1: no column "text" in the header (columns: sentence, label); set textColumn (--text-column) to the right one`,
  );

  const ragged = file('csv', 'text,label\na, b,1\n');
  fails(
    t,
    () => loadDataset(ragged, { labels: LABELS }),
    `${ragged}:2: 3 fields but the header has 2; quote fields that contain commas ("a, b")`,
  );

  const badJson = file('jsonl', '{"text":"a","label":1}\n\n{"text": "b", label: 0}\n');
  fails(t, () => loadDataset(badJson, { labels: LABELS }), new RegExp(`^${badJson.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: bad JSON on line 3: `));

  const notObject = file('jsonl', '["a", 1]\n');
  fails(t, () => loadDataset(notObject, { labels: LABELS }), `${notObject}:1: each line must be a JSON object like {"text": "...", "label": 0}`);

  const big = file('jsonl', `${'{"text":"a","label":1}\n'.repeat(100)}`);
  fails(
    t,
    () => loadDataset(big, { labels: LABELS, maxBytes: 1024 }),
    `${big} is 2300 bytes, over the 1024 bytes limit; raise maxBytes (--max-file-mb) or pass a smaller file`,
  );

  const headerOnly = file('csv', 'text,label\n');
  fails(t, () => loadDataset(headerOnly, { labels: LABELS }), `${headerOnly}: no examples`);

  fails(t, () => loadDataset(join(root, 'nope.jsonl'), { labels: LABELS }), /^cannot read data file .*nope\.jsonl/, 'ERR_FILE_MISSING');
  fails(
    t,
    () => loadDataset(file('txt', 'x'), { labels: LABELS }),
    /cannot tell the format from the extension '\.txt'; name it \.csv or \.jsonl, or set format$/,
    'ERR_INVALID_ARGUMENT',
  );
});

function pool(perClass: number[]): Example[] {
  const out: Example[] = [];
  perClass.forEach((count, label) => {
    for (let i = 0; i < count; i++) out.push({ text: `c${label}-${i}`, label, source: `x:${out.length + 1}` });
  });
  // Interleave so class order in the file is not trivially sorted.
  return out.sort((a, b) => (a.text.split('-')[1]! < b.text.split('-')[1]! ? -1 : 1));
}

test('sampleFewShot: k per class, disjoint train/dev, deterministic per seed', (t) => {
  const examples = pool([40, 50]);
  const a = sampleFewShot(examples, { shots: 16, numLabels: 2, seed: 1 });
  const b = sampleFewShot(examples, { shots: 16, numLabels: 2, seed: 1 });
  const c = sampleFewShot(examples, { shots: 16, numLabels: 2, seed: 2 });
  t.deepEqual(a, b);
  t.notDeepEqual(a.train, c.train);
  t.is(a.train.length, 32);
  t.is(a.dev.length, 32);
  t.deepEqual(a.train.map((e) => e.label), [...new Array(16).fill(0), ...new Array(16).fill(1)]);
  const trainTexts = new Set(a.train.map((e) => e.text));
  t.true(a.dev.every((e) => !trainTexts.has(e.text)));
  t.is(examplesHash(a.train), examplesHash(b.train));
  t.not(examplesHash(a.train), examplesHash(c.train));
  // Adding examples of class 1 does not change class 0's sample (one stream per class).
  const more = sampleFewShot(pool([40, 60]), { shots: 16, numLabels: 2, seed: 1 });
  t.deepEqual(
    more.train.filter((e) => e.label === 0),
    a.train.filter((e) => e.label === 0),
  );
  const devOnly = sampleFewShot(examples, { shots: 4, devShots: 0, numLabels: 2, seed: 1 });
  t.is(devOnly.dev.length, 0);
  t.deepEqual(devOnly.train.slice(0, 4), a.train.slice(0, 4));
});

test('sampleFewShot: too few examples of a class says which and what to change', (t) => {
  fails(
    t,
    () => sampleFewShot(pool([40, 20]), { shots: 16, numLabels: 2, seed: 0, labelNames: LABELS, source: 'train.csv' }),
    'train.csv: class 1 (positive) has 20 examples, need 32 (16 train + 16 dev per class); lower shots/devShots or add examples',
  );
  fails(t, () => sampleFewShot(pool([4, 4]), { shots: 0, numLabels: 2, seed: 0 }), 'shots must be an integer >= 1, got 0', 'ERR_INVALID_ARGUMENT');
});

test('subsample keeps file order and is seeded', (t) => {
  const examples = pool([30, 30]);
  const s = subsample(examples, 10, 3);
  t.is(s.length, 10);
  t.deepEqual(s, subsample(examples, 10, 3));
  const idx = s.map((e) => examples.indexOf(e));
  t.deepEqual(idx, [...idx].sort((x, y) => x - y));
  t.is(subsample(examples, 100, 3).length, 60);
});
