import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecpError } from '../bindings/errors.js';
import { EMBEDDINGS, MLM_HEAD, loadModel, maxSequenceLength, parseConfig } from '../ts/model/config.js';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../ts/model/safetensors.js';
import { writeTinyModel, type TinyModelOptions } from '../ts/model/tiny.js';

const root = mkdtempSync(join(tmpdir(), 'secp-config-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

let dirs = 0;
function tiny(options: Partial<TinyModelOptions> = {}): string {
  const dir = join(root, `m${dirs++}`);
  writeTinyModel(dir, { arch: 'bert', seed: 1, ...options });
  return dir;
}

/** Rewrites a checkpoint's tensors through `edit` (name, tensor) -> [name, tensor] | undefined (dropped). */
function rewrite(dir: string, edit: (name: string, t: TensorToWrite) => [string, TensorToWrite] | undefined): void {
  const path = join(dir, 'model.safetensors');
  const file = readSafetensors(path);
  const out: [string, TensorToWrite][] = [];
  for (const [name, info] of file.tensors) {
    const e = edit(name, { dtype: 'F32', shape: info.shape, data: file.read(name) });
    if (e) out.push(e);
  }
  writeSafetensors(path, out);
}

function code(t: { throws: (fn: () => unknown, exp: object) => unknown }, fn: () => unknown, c: string, msg?: RegExp) {
  t.throws(fn, { instanceOf: SecpError, code: c, ...(msg ? { message: msg } : {}) });
}

const bertJson = {
  architectures: ['BertModel'],
  model_type: 'bert',
  vocab_size: 30522,
  hidden_size: 384,
  num_hidden_layers: 6,
  num_attention_heads: 12,
  intermediate_size: 1536,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  hidden_act: 'gelu',
  position_embedding_type: 'absolute',
};

test('parseConfig reads all-MiniLM-L6-v2 and roberta-large style configs', (t) => {
  t.deepEqual(parseConfig(bertJson), {
    arch: 'bert', vocabSize: 30522, hidden: 384, layers: 6, heads: 12, intermediate: 1536, maxPositions: 512,
    typeVocabSize: 2, layerNormEps: 1e-12, padTokenId: 0, hiddenAct: 'gelu',
  });
  const roberta = parseConfig({
    architectures: ['RobertaForMaskedLM'], model_type: 'roberta', vocab_size: 50265, hidden_size: 1024,
    num_hidden_layers: 24, num_attention_heads: 16, intermediate_size: 4096, max_position_embeddings: 514,
    type_vocab_size: 1, layer_norm_eps: 1e-5, pad_token_id: 1, hidden_act: 'gelu',
  });
  t.is(roberta.arch, 'roberta');
  t.is(maxSequenceLength(roberta), 512);
  t.is(parseConfig({ ...bertJson, hidden_act: 'gelu_new' }).hiddenAct, 'gelu_tanh');
  const { type_vocab_size: _a, layer_norm_eps: _b, pad_token_id: _c, hidden_act: _d, ...minimal } = bertJson;
  t.like(parseConfig(minimal), { typeVocabSize: 2, layerNormEps: 1e-12, padTokenId: 0, hiddenAct: 'gelu' });
});

test('unsupported architectures and activations are ERR_UNSUPPORTED_ARCH', (t) => {
  code(t, () => parseConfig({ ...bertJson, model_type: 'gpt2', architectures: ['GPT2LMHeadModel'] }), 'ERR_UNSUPPORTED_ARCH', /"gpt2".*GPT2LMHeadModel/);
  code(t, () => parseConfig({ ...bertJson, model_type: 'distilbert' }), 'ERR_UNSUPPORTED_ARCH');
  code(t, () => parseConfig({ ...bertJson, architectures: ['RobertaForMaskedLM'] }), 'ERR_UNSUPPORTED_ARCH', /RobertaForMaskedLM/);
  code(t, () => parseConfig({ ...bertJson, hidden_act: 'relu' }), 'ERR_UNSUPPORTED_ARCH', /hidden_act "relu"/);
  code(t, () => parseConfig({ ...bertJson, position_embedding_type: 'relative_key' }), 'ERR_UNSUPPORTED_ARCH', /relative_key/);
});

test('malformed configs are ERR_MODEL_CONFIG naming the field', (t) => {
  code(t, () => parseConfig([]), 'ERR_MODEL_CONFIG');
  code(t, () => parseConfig({ ...bertJson, hidden_size: undefined }), 'ERR_MODEL_CONFIG', /hidden_size/);
  code(t, () => parseConfig({ ...bertJson, num_hidden_layers: 2.5 }), 'ERR_MODEL_CONFIG', /num_hidden_layers/);
  code(t, () => parseConfig({ ...bertJson, num_attention_heads: 7 }), 'ERR_MODEL_CONFIG', /not divisible/);
  code(t, () => parseConfig({ ...bertJson, layer_norm_eps: 0 }), 'ERR_MODEL_CONFIG', /layer_norm_eps/);
  code(t, () => parseConfig({ ...bertJson, pad_token_id: 40000 }), 'ERR_MODEL_CONFIG', /pad_token_id/);
});

test('loadModel: prefixed BERT MLM checkpoint, decoder tied to the word embeddings', (t) => {
  const m = loadModel(tiny({ layers: 3, hidden: 24, heads: 3, intermediate: 40 }));
  t.true(m.hasMlmHead);
  t.like(m.config, { arch: 'bert', layers: 3, hidden: 24, heads: 3, intermediate: 40 });
  const word = m.weights.get(`${EMBEDDINGS.word}.weight`)!;
  t.deepEqual(word.shape, [m.config.vocabSize, 24]);
  t.is(m.weights.get(`${MLM_HEAD.bert.decoder}.weight`), word);
  t.deepEqual(m.weights.get('encoder.layer.2.intermediate.dense.weight')!.shape, [40, 24]);
  t.false([...m.weights.keys()].some((k) => k.startsWith('bert.')));
});

test('loadModel: unprefixed BertModel (sentence-transformers layout) with a pooler, no MLM head', (t) => {
  const m = loadModel(tiny({ mlmHead: false }));
  t.false(m.hasMlmHead);
  t.true(m.weights.has('pooler.dense.weight'));
  t.false(m.weights.has(`${MLM_HEAD.bert.dense}.weight`));
});

test('loadModel: RoBERTa with lm_head, an explicit decoder, decoder.bias only, and LayerNorm gamma/beta names', (t) => {
  const dir = tiny({ arch: 'roberta' });
  const h = MLM_HEAD.roberta;
  let word: TensorToWrite | undefined;
  rewrite(dir, (name, tensor) => {
    if (name === `roberta.${EMBEDDINGS.word}.weight`) word = tensor;
    if (name === h.bias) return [`${h.decoder}.bias`, tensor];
    return [name.replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta'), tensor];
  });
  const withDecoder = readSafetensors(join(dir, 'model.safetensors'));
  writeSafetensors(join(dir, 'model.safetensors'), [
    ...[...withDecoder.tensors].map(([n, i]): [string, TensorToWrite] => [n, { dtype: 'F32', shape: i.shape, data: withDecoder.read(n) }]),
    [`${h.decoder}.weight`, { ...word!, data: Float32Array.from(word!.data, (v) => 2 * v) }],
  ]);
  const m = loadModel(dir);
  t.true(m.hasMlmHead);
  t.true(m.weights.has('embeddings.LayerNorm.weight'));
  t.true(m.weights.has(h.bias));
  t.is(m.weights.get(`${h.decoder}.weight`)!.data[5], 2 * m.weights.get(`${EMBEDDINGS.word}.weight`)!.data[5]!);
});

test('loadModel: wrong shapes are ERR_SHAPE_MISMATCH naming the tensor; missing ones ERR_MISSING_TENSOR', (t) => {
  const wrong = tiny();
  rewrite(wrong, (name, tensor) =>
    name === 'bert.encoder.layer.1.attention.self.key.weight' ? [name, { ...tensor, shape: [16, 64] }] : [name, tensor],
  );
  code(t, () => loadModel(wrong), 'ERR_SHAPE_MISMATCH', /"bert\.encoder\.layer\.1\.attention\.self\.key\.weight" has shape \[16, 64\], config implies \[32, 32\]/);

  const missing = tiny();
  rewrite(missing, (name, tensor) => (name === 'bert.encoder.layer.0.output.dense.bias' ? undefined : [name, tensor]));
  code(t, () => loadModel(missing), 'ERR_MISSING_TENSOR', /"encoder\.layer\.0\.output\.dense\.bias"/);

  const partialHead = tiny();
  rewrite(partialHead, (name, tensor) => (name === MLM_HEAD.bert.bias ? undefined : [name, tensor]));
  code(t, () => loadModel(partialHead), 'ERR_MISSING_TENSOR', /cls\.predictions\.bias/);
});

test('loadModel: config/tokenizer mismatch and missing files', (t) => {
  const dir = tiny();
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, vocab_size: 10 }));
  code(t, () => loadModel(dir), 'ERR_MODEL_CONFIG', /tokenizer has \d+ tokens but vocab_size is 10/);

  const noConfig = tiny();
  unlinkSync(join(noConfig, 'config.json'));
  code(t, () => loadModel(noConfig), 'ERR_FILE_MISSING', /config\.json/);
  const noWeights = tiny();
  unlinkSync(join(noWeights, 'model.safetensors'));
  code(t, () => loadModel(noWeights), 'ERR_FILE_MISSING', /model\.safetensors/);
  const noTokenizer = tiny();
  unlinkSync(join(noTokenizer, 'tokenizer.json'));
  code(t, () => loadModel(noTokenizer), 'ERR_FILE_MISSING', /tokenizer\.json or vocab\.txt/);
  const badJson = tiny();
  writeFileSync(join(badJson, 'config.json'), '{');
  code(t, () => loadModel(badJson), 'ERR_MODEL_CONFIG', /not valid JSON/);
});

test('tiny generator validates its options', (t) => {
  code(t, () => tiny({ hidden: 30, heads: 4 }), 'ERR_INVALID_ARGUMENT', /not divisible/);
  code(t, () => tiny({ layers: 0 }), 'ERR_INVALID_ARGUMENT', /layers/);
  code(t, () => tiny({ vocabSize: 10 }), 'ERR_INVALID_ARGUMENT', /vocabSize/);
  code(t, () => tiny({ arch: 'gpt2' as 'bert' }), 'ERR_INVALID_ARGUMENT', /arch/);
  const big = loadModel(tiny({ vocabSize: 500 }));
  t.is(big.config.vocabSize, 500);
  t.is(big.tokenizer.size, 500);
});
