import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecpError } from '../bindings/errors.js';
import { loadModel, type LoadedModel } from '../ts/model/config.js';
import { writeTinyModel } from '../ts/model/tiny.js';
import type { Example } from '../ts/tuning/data.js';
import { encodeExamples, labelWordIds, placeholderIds, promptInitIds, resolveTask, TASKS } from '../ts/tuning/task.js';

const root = mkdtempSync(join(tmpdir(), 'secp-task-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));
const models = new Map<string, LoadedModel>();
function tiny(arch: 'bert' | 'roberta'): LoadedModel {
  if (!models.has(arch)) {
    writeTinyModel(join(root, arch), { arch, seed: 1 });
    models.set(arch, loadModel(join(root, arch)));
  }
  return models.get(arch)!;
}
const ex = (text: string, label = 0, textPair?: string): Example => ({ text, label, source: 'x:1', ...(textPair ? { textPair } : {}) });

test("BBT's tasks are data: templates, verbalizers, metrics, losses", (t) => {
  t.deepEqual(TASKS['sst2']!.words, ['bad', 'great']);
  t.is(TASKS['sst2']!.template, '{text} . It was {mask} .');
  t.is(TASKS['agnews']!.template, '{mask} News: {text}');
  t.deepEqual(TASKS['mrpc']!.words, ['No', 'Yes']);
  t.is(TASKS['mrpc']!.metric, 'f1');
  t.deepEqual(TASKS['rte']!.words, ['Yes', 'No']);
  t.is(TASKS['rte']!.loss, 'hinge');
  const pooled = resolveTask('sst2', { kind: 'pooled' });
  t.is(pooled.template, '{text}');
  t.deepEqual(pooled.labelTexts, ['negative', 'positive']);
  t.is(pooled.words, null);
  t.is(resolveTask('mrpc', { kind: 'pooled' }).template, '{text} ? {text2}');
  t.true(resolveTask('rte').pair);
});

test('resolveTask validates overrides with messages that say what to fix', (t) => {
  const msg = (fn: () => unknown) => t.throws(fn, { instanceOf: SecpError })?.message;
  t.is(msg(() => resolveTask('sst3')), 'unknown task "sst3"; built-in tasks: sst2, yelpp, agnews, mrpc, rte, snli');
  t.is(msg(() => resolveTask('sst2', { template: '{text} . It was .' })), 'an mlm template must contain {mask} exactly once, got "{text} . It was ."');
  t.is(msg(() => resolveTask('sst2', { kind: 'pooled', template: '{text} {mask}' })), 'a pooled template must not contain {mask}, got "{text} {mask}"');
  t.is(msg(() => resolveTask('sst2', { template: 'It was {mask} .' })), 'template must contain {text} exactly once, got "It was {mask} ."');
  t.is(msg(() => resolveTask('sst2', { template: '{text} {label} {mask}' })), 'template has unknown slot {label}; slots are {text}, {text2}, {mask}');
  t.is(msg(() => resolveTask('sst2', { words: ['bad'] })), 'task sst2: 1 label words for 2 labels; give one word per label');
  t.is(msg(() => resolveTask('agnews', { metric: 'f1' })), 'metric f1 needs a binary task, this one has 4 labels');
  t.is(msg(() => resolveTask('sst2', { labels: ['a', 'A'] })), 'task sst2: label names must be distinct, got a, A');
});

test('encodeExamples: [CLS] prompt slots . text . it was [MASK] . [SEP] pad, mask position and labels', (t) => {
  const m = tiny('bert');
  const tok = m.tokenizer;
  const task = resolveTask('sst2');
  const slots = placeholderIds(tok, m.config.vocabSize, 3);
  const batch = encodeExamples(tok, task, [ex('the movie was fun', 1), ex('boring', 0)], { seqLen: 20, promptLength: 3, placeholderIds: slots });
  t.is(batch.size, 2);
  t.is(batch.seqLen, 20);
  t.is(batch.promptStart, 1);
  t.deepEqual(Array.from(batch.labels), [1, 0]);
  const row0 = Array.from(batch.ids.subarray(0, 20));
  const id = (w: string) => tok.tokenId(w);
  const body = ['.', 'the', 'movie', 'was', 'fun', '.', 'it', 'was'].map(id);
  t.deepEqual(row0.slice(0, 1 + 3 + body.length + 3), [tok.clsId, ...slots, ...body, tok.maskId, id('.'), tok.sepId]);
  t.is(batch.maskPos[0], 1 + 3 + body.length);
  t.is(batch.ids[20 + batch.maskPos[1]!], tok.maskId);
  const used0 = 1 + 3 + body.length + 3;
  t.deepEqual(Array.from(batch.attentionMask.subarray(0, 20)), [...new Array(used0).fill(1), ...new Array(20 - used0).fill(0)]);
  t.true(Array.from(batch.ids.subarray(used0, 20)).every((v) => v === tok.padId));
  t.true(Array.from(batch.typeIds).every((v) => v === 0));
  t.is(batch.truncated, 0);
  // No prompt: no separator either (BBT's zero-shot template).
  const bare = encodeExamples(tok, task, [ex('fun')], { seqLen: 10, promptLength: 0 });
  t.deepEqual(Array.from(bare.ids.subarray(0, 8)), [tok.clsId, id('fun'), id('.'), id('it'), id('was'), tok.maskId, id('.'), tok.sepId]);
});

test('encodeExamples: long texts are cut from the end (longer of a pair first); the template always survives', (t) => {
  const m = tiny('bert');
  const tok = m.tokenizer;
  const long = 'the movie was great fun and the story was good and the music was nice and the actors were fine';
  const b = encodeExamples(tok, resolveTask('sst2'), [ex(long)], { seqLen: 16, promptLength: 2 });
  t.is(b.truncated, 1);
  t.deepEqual(Array.from(b.attentionMask), new Array(16).fill(1));
  t.is(b.ids[15], tok.sepId);
  t.is(b.ids[b.maskPos[0]!], tok.maskId);
  t.deepEqual(Array.from(b.ids.subarray(4, 7)), ['the', 'movie', 'was'].map((w) => tok.tokenId(w)));

  const pair = encodeExamples(tok, resolveTask('rte'), [ex('the movie was good', 0, long)], { seqLen: 20, promptLength: 1 });
  t.is(pair.truncated, 1);
  const ids = Array.from(pair.ids);
  // [CLS] slot . the movie was good ? [MASK] , <cut second text> [SEP]
  t.deepEqual(ids.slice(3, 7), ['the', 'movie', 'was', 'good'].map((w) => tok.tokenId(w)));
  t.is(ids[7], tok.tokenId('?'));
  t.is(ids[8], tok.maskId);
  t.is(pair.maskPos[0], 8);
  t.is(ids[19], tok.sepId);
});

test('encodeExamples errors: seqLen too short for the template, missing second text, mask token in text', (t) => {
  const m = tiny('bert');
  const msg = (fn: () => unknown) => t.throws(fn, { instanceOf: SecpError })?.message;
  t.is(
    msg(() => encodeExamples(m.tokenizer, resolveTask('sst2'), [ex('fun')], { seqLen: 10, promptLength: 4 })),
    'seqLen 10 is too short: [CLS], 4 prompt slots, the template and [SEP] take 12 tokens before any text; use seqLen >= 20 or a shorter prompt',
  );
  t.is(
    msg(() => encodeExamples(m.tokenizer, resolveTask('rte'), [ex('fun')], { seqLen: 32, promptLength: 1 })),
    'x:1: task rte needs a second text (textPairColumn)',
  );
  t.is(
    msg(() => encodeExamples(m.tokenizer, resolveTask('sst2'), [ex('fun [MASK] times')], { seqLen: 32, promptLength: 1 })),
    "x:1: the text contains the model's mask token; remove it",
  );
});

test('RoBERTa byte-level pieces carry the word-start space; label words resolve to one token', (t) => {
  const m = tiny('roberta');
  const tok = m.tokenizer;
  const task = resolveTask('sst2');
  const b = encodeExamples(tok, task, [ex('The movie was fun')], { seqLen: 24, promptLength: 2 });
  const ids = Array.from(b.ids);
  t.is(ids[0], tok.clsId);
  const sep = tok.tokenize(' .').map((w) => tok.tokenId(w));
  t.deepEqual(ids.slice(3, 3 + sep.length), sep);
  t.deepEqual(ids.slice(3 + sep.length, 7 + sep.length), ['ĠThe', 'Ġmovie', 'Ġwas', 'Ġfun'].map((w) => tok.tokenId(w)));
  t.is(ids[b.maskPos[0]!], tok.maskId);
  t.deepEqual(labelWordIds(tok, task), [tok.tokenId('Ġbad'), tok.tokenId('Ġgreat')]);
  // Placeholder ids avoid the special tokens (RoBERTa positions must not see the pad id).
  const slots = placeholderIds(tok, m.config.vocabSize, 5);
  t.true(slots.every((s) => ![tok.padId, tok.clsId, tok.sepId, tok.maskId].includes(s)));
});

test('promptInitIds: the first P word pieces of a real text fill the slots; too short or special texts are refused', (t) => {
  const m = tiny('bert');
  const tok = m.tokenizer;
  const pieces = (text: string) => tok.encode(text).ids.slice(1, -1); // without [CLS] and [SEP]
  const want = pieces('the movie was fun');
  t.true(want.length >= 3);
  const ids = promptInitIds(tok, 'the movie was fun', 3);
  t.deepEqual(ids, want.slice(0, 3));
  t.notDeepEqual(ids, placeholderIds(tok, m.config.vocabSize, 3), 'real tokens, not the placeholders');
  const batch = encodeExamples(tok, resolveTask('sst2'), [ex('boring', 0)], { seqLen: 20, promptLength: 3, placeholderIds: ids });
  t.deepEqual(Array.from(batch.ids.subarray(1, 4)), ids, 'they sit in the prompt slots');
  const msg = (fn: () => unknown) => t.throws(fn, { instanceOf: SecpError })?.message;
  t.is(msg(() => promptInitIds(tok, 'fun', 3)), `prompt init text "fun" has ${pieces('fun').length} word pieces; the prompt has 3 slots`);
  t.regex(msg(() => promptInitIds(tok, 'the [MASK] was fun', 3))!, /contains a special token/);
  t.regex(msg(() => promptInitIds(tok, 'the movie', 0))!, /prompt length must be an integer >= 1/);
});
