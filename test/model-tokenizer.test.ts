import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecpError } from '../bindings/errors.js';
import { insertPromptSlots, loadTokenizer, ModelTokenizer } from '../ts/model/tokenizer.js';
import { TINY_WORDS, writeTinyModel } from '../ts/model/tiny.js';

const root = mkdtempSync(join(tmpdir(), 'secp-tok-'));
const bertDir = join(root, 'bert');
const robertaDir = join(root, 'roberta');
writeTinyModel(bertDir, { arch: 'bert', seed: 5 });
writeTinyModel(robertaDir, { arch: 'roberta', seed: 5 });
test.after.always(() => rmSync(root, { recursive: true, force: true }));

test('BERT WordPiece: lower-cases, splits punctuation, adds [CLS]/[SEP], round trips', (t) => {
  const tok = loadTokenizer(bertDir);
  t.deepEqual(tok.tokenize('It was GREAT, very!'), ['it', 'was', 'great', ',', 'very', '!']);
  t.deepEqual(tok.tokenize('unhappiness'), ['u', '##n', '##h', '##a', '##p', '##p', '##i', '##n', '##es', '##s']);
  const enc = tok.encode('the movie was good.');
  t.is(enc.ids[0], tok.clsId);
  t.is(enc.ids.at(-1), tok.sepId);
  t.deepEqual(enc.attentionMask, enc.ids.map(() => 1));
  t.is(tok.decode(enc.ids), 'the movie was good.');
  t.is(tok.decode(tok.encode('Films 2024: fun & boring').ids), 'films 2024 : fun & boring');
  t.false(enc.ids.includes(tok.tokenId('[UNK]')));
});

test('BERT: pair encoding has type ids 0 then 1; [MASK] is kept whole', (t) => {
  const tok = loadTokenizer(bertDir);
  const enc = tok.encode('is it good ?', 'yes it is');
  const sep = enc.ids.indexOf(tok.sepId);
  t.deepEqual(enc.typeIds, enc.ids.map((_, i) => (i <= sep ? 0 : 1)));
  const masked = tok.encode('It was [MASK].');
  t.deepEqual(masked.ids, [tok.clsId, tok.tokenId('it'), tok.tokenId('was'), tok.maskId, tok.tokenId('.'), tok.sepId]);
  t.is(tok.maskId, tok.tokenId('[MASK]'));
  t.is(tok.padId, 0);
});

test('RoBERTa byte-level BPE: <s> … </s>, leading-space tokens, every tiny word is one token', (t) => {
  const tok = loadTokenizer(robertaDir, { typeVocabSize: 1 });
  t.true(tok.byteLevel);
  t.deepEqual(tok.tokenize('The movie was great.'), ['The', 'Ġmovie', 'Ġwas', 'Ġgreat', '.']);
  const enc = tok.encode('It was <mask>.');
  t.deepEqual(enc.ids, [tok.clsId, tok.tokenId('It'), tok.tokenId('Ġwas'), tok.maskId, tok.tokenId('.'), tok.sepId]);
  t.is(tok.decode(tok.encode('Naïve café, 100% "fun"!').ids), 'Naïve café, 100% "fun"!');
  for (const w of TINY_WORDS) t.deepEqual(tok.tokenize(` ${w}`), [`Ġ${w}`], w);
  t.deepEqual(tok.encode('a', 'b').typeIds, [0, 0, 0, 0, 0, 0]);
  t.is(tok.padId, 1);
  t.is(tok.maskId, tok.size - 1);
});

test('labelWordId: the in-sentence single token of a verbalizer word', (t) => {
  const bert = loadTokenizer(bertDir);
  const roberta = loadTokenizer(robertaDir);
  t.is(bert.labelWordId('great'), bert.tokenId('great'));
  t.is(bert.labelWordId('Great'), bert.tokenId('great'));
  t.is(roberta.labelWordId('great'), roberta.tokenId('Ġgreat'));
  t.is(roberta.labelWordId('Sports'), roberta.tokenId('ĠSports'));
  t.throws(() => bert.labelWordId('zzzq'), { instanceOf: SecpError, code: 'ERR_TOKENIZER', message: /"zzzq" is \d+ tokens/ });
  t.throws(() => roberta.tokenId('Ġzzzq'), { instanceOf: SecpError, code: 'ERR_TOKENIZER' });
});

test('vocab.txt only: the built WordPiece tokenizer matches tokenizer.json', (t) => {
  const dir = join(root, 'vocab-only');
  writeTinyModel(dir, { arch: 'bert', seed: 5 });
  const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  const vocab = Object.entries(json.model.vocab as Record<string, number>).sort((a, b) => a[1] - b[1]).map(([k]) => k);
  writeFileSync(join(dir, 'vocab.txt'), `${vocab.join('\n')}\n`);
  unlinkSync(join(dir, 'tokenizer.json'));
  const fromVocab = loadTokenizer(dir);
  const fromJson = loadTokenizer(bertDir);
  for (const s of ['It was [MASK].', 'The FOOD was terrible, the staff friendly!', 'q?']) {
    t.deepEqual(fromVocab.encode(s), fromJson.encode(s), s);
  }
  t.is(fromVocab.size, fromJson.size);
});

test('special tokens come from tokenizer_config.json, or a clear error', (t) => {
  const json = JSON.parse(readFileSync(join(bertDir, 'tokenizer.json'), 'utf8'));
  t.is(new ModelTokenizer(json, { mask_token: { content: '[SEP]' } }).maskId, json.model.vocab['[SEP]']);
  t.throws(() => new ModelTokenizer(json, { mask_token: '<nope>' }), {
    instanceOf: SecpError,
    code: 'ERR_TOKENIZER',
    message: /no mask token \(looked for <nope>\)/,
  });
  t.throws(() => new ModelTokenizer({ model: { type: 'Nope' } }), { instanceOf: SecpError, code: 'ERR_TOKENIZER' });
});

test('pad and insertPromptSlots', (t) => {
  const tok = loadTokenizer(robertaDir, { typeVocabSize: 1 });
  const enc = tok.encode('good movie');
  const padded = tok.pad(enc, enc.ids.length + 3);
  t.deepEqual(padded.ids.slice(-3), [1, 1, 1]);
  t.deepEqual(padded.attentionMask, [...enc.attentionMask, 0, 0, 0]);
  t.throws(() => tok.pad(enc, 2), { instanceOf: SecpError, code: 'ERR_INVALID_ARGUMENT' });

  const slots = insertPromptSlots(enc, [1000, 1001]);
  t.deepEqual(slots.ids, [enc.ids[0], 1000, 1001, ...enc.ids.slice(1)]);
  t.deepEqual(slots.attentionMask, slots.ids.map(() => 1));
  t.is(slots.typeIds.length, slots.ids.length);
  t.throws(() => insertPromptSlots(enc, [7], 99), { instanceOf: SecpError, code: 'ERR_INVALID_ARGUMENT' });
});
