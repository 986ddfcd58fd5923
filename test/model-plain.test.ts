import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecpError } from '../bindings/errors.js';
import { loadModel, type LoadedModel } from '../ts/model/config.js';
import {
  PlainEncoder,
  attentionRfa,
  attentionRfaExp,
  attentionSoftmax,
  erf,
  geluErf,
  labelLogits,
  meanPool,
  positionIds,
  rfaFeatureMap,
  l2Normalize,
  linear,
  rfaFeatures,
} from '../ts/model/plain.js';
import { Rng } from '../ts/model/random.js';
import { writeTinyModel } from '../ts/model/tiny.js';
import { insertPromptSlots } from '../ts/model/tokenizer.js';

const root = mkdtempSync(join(tmpdir(), 'secp-plain-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));
const models = new Map<string, LoadedModel>();
function tiny(arch: 'bert' | 'roberta', seed = 3, extra = {}): LoadedModel {
  const key = `${arch}-${seed}-${JSON.stringify(extra)}`;
  if (!models.has(key)) {
    writeTinyModel(join(root, key), { arch, seed, ...extra });
    models.set(key, loadModel(join(root, key)));
  }
  return models.get(key)!;
}
const SENTENCE = { bert: 'the movie was [MASK], i think it was great fun.', roberta: 'The movie was <mask>, I think it was great fun.' };

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const rms = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s / a.length);
};

/**
 * An independent, deliberately naive BERT/RoBERTa forward: nested number[][] matrices, names spelled out,
 * erf by Simpson integration. Shares no code with ts/model/plain.ts.
 */
function naiveForward(m: LoadedModel, ids: number[], mask: number[]): number[][] {
  const { config } = m;
  const W = (name: string) => m.weights.get(name)!;
  const mat = (name: string) => {
    const t = W(name);
    return Array.from({ length: t.shape[0]! }, (_, r) => Array.from(t.data.subarray(r * t.shape[1]!, (r + 1) * t.shape[1]!)));
  };
  const vec = (name: string) => Array.from(W(name).data);
  const dense = (x: number[][], name: string) => {
    const w = mat(`${name}.weight`);
    const b = vec(`${name}.bias`);
    return x.map((row) => w.map((wr, o) => wr.reduce((s, wi, i) => s + wi * row[i]!, 0) + b[o]!));
  };
  const ln = (x: number[][], name: string) => {
    const g = vec(`${name}.weight`);
    const b = vec(`${name}.bias`);
    return x.map((row) => {
      const mu = row.reduce((s, v) => s + v, 0) / row.length;
      const va = row.reduce((s, v) => s + (v - mu) ** 2, 0) / row.length;
      return row.map((v, i) => ((v - mu) / Math.sqrt(va + config.layerNormEps)) * g[i]! + b[i]!);
    });
  };
  const simpsonErf = (x: number) => {
    const steps = 2000;
    const h = x / steps;
    let s = 1 + Math.exp(-x * x);
    for (let i = 1; i < steps; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
    return ((2 / Math.sqrt(Math.PI)) * h * s) / 3;
  };
  const gelu = (x: number) => 0.5 * x * (1 + simpsonErf(x / Math.SQRT2));

  const word = mat('embeddings.word_embeddings.weight');
  const pos = mat('embeddings.position_embeddings.weight');
  const type = mat('embeddings.token_type_embeddings.weight');
  let counter = config.padTokenId;
  const positions = ids.map((id, t) => (config.arch === 'bert' ? t : id === config.padTokenId ? config.padTokenId : ++counter));
  let x = ln(
    ids.map((id, t) => word[id]!.map((v, i) => v + pos[positions[t]!]![i]! + type[0]![i]!)),
    'embeddings.LayerNorm',
  );
  const dh = config.hidden / config.heads;
  for (let l = 0; l < config.layers; l++) {
    const p = `encoder.layer.${l}`;
    const q = dense(x, `${p}.attention.self.query`);
    const k = dense(x, `${p}.attention.self.key`);
    const v = dense(x, `${p}.attention.self.value`);
    const ctx = x.map(() => new Array<number>(config.hidden).fill(0));
    for (let h = 0; h < config.heads; h++) {
      const cols = Array.from({ length: dh }, (_, c) => h * dh + c);
      for (let i = 0; i < ids.length; i++) {
        const scores = ids.map((_, j) =>
          mask[j] ? cols.reduce((s, c) => s + q[i]![c]! * k[j]![c]!, 0) / Math.sqrt(dh) : -1e9,
        );
        const mx = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - mx));
        const z = e.reduce((a, b) => a + b, 0);
        for (const c of cols) ctx[i]![c] = e.reduce((s, ej, j) => s + (ej / z) * v[j]![c]!, 0);
      }
    }
    const a = dense(ctx, `${p}.attention.output.dense`).map((row, t) => row.map((val, i) => val + x[t]![i]!));
    const x1 = ln(a, `${p}.attention.output.LayerNorm`);
    const f = dense(dense(x1, `${p}.intermediate.dense`).map((row) => row.map(gelu)), `${p}.output.dense`);
    x = ln(f.map((row, t) => row.map((val, i) => val + x1[t]![i]!)), `${p}.output.LayerNorm`);
  }
  return x;
}

test('erf and GELU match known values', (t) => {
  const known: [number, number][] = [
    [0, 0], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527],
    [-3, -0.9999779095030014], [4.5, 0.9999999998033839], [7, 1],
  ];
  for (const [x, want] of known) t.true(Math.abs(erf(x) - want) < 1e-15, `erf(${x}) = ${erf(x)}`);
  t.true(Math.abs(geluErf(1) - 0.8413447460685429) < 1e-15);
  t.true(Math.abs(geluErf(-2) - -0.04550026389635842) < 1e-15);
});

for (const arch of ['bert', 'roberta'] as const) {
  test(`${arch}: softmax forward matches an independent naive implementation`, (t) => {
    const m = tiny(arch);
    const enc = m.tokenizer.pad(m.tokenizer.encode(SENTENCE[arch]), 16);
    const got = new PlainEncoder(m).forward(enc);
    const want = naiveForward(m, enc.ids, enc.attentionMask).flat();
    t.is(got.length, want.length);
    t.true(maxAbsDiff(got, want) < 1e-9);
  });

  test(`${arch}: padding does not change the real tokens (softmax and RFA)`, (t) => {
    const m = tiny(arch);
    const enc = m.tokenizer.encode(SENTENCE[arch]);
    const padded = m.tokenizer.pad(enc, enc.ids.length + 5);
    for (const e of [new PlainEncoder(m), new PlainEncoder(m, { attention: 'rfa', rfa: { features: 32 } })]) {
      const a = e.forward(enc);
      const b = e.forward(padded);
      t.true(maxAbsDiff(a, b.subarray(0, a.length)) < 1e-12);
    }
  });

  test(`${arch}: generate -> load -> forward is deterministic; the seed matters`, (t) => {
    writeTinyModel(join(root, `${arch}-again`), { arch, seed: 3 });
    t.deepEqual(readFileSync(join(root, `${arch}-again`, 'model.safetensors')), readFileSync(join(root, `${arch}-3-{}`, 'model.safetensors')));
    const again = loadModel(join(root, `${arch}-again`));
    const enc = again.tokenizer.encode(SENTENCE[arch]);
    for (const options of [{}, { attention: 'rfa' as const }]) {
      t.deepEqual(new PlainEncoder(again, options).forward(enc), new PlainEncoder(tiny(arch), options).forward(enc));
    }
    t.true(maxAbsDiff(new PlainEncoder(tiny(arch, 4)).forward(enc), new PlainEncoder(tiny(arch)).forward(enc)) > 0.1);
  });

  test(`${arch}: MLM logits restricted to label ids equal the full-vocabulary logits there`, (t) => {
    const m = tiny(arch);
    const e = new PlainEncoder(m);
    const enc = m.tokenizer.encode(SENTENCE[arch]);
    const h = e.forward(enc);
    const pos = enc.ids.indexOf(m.tokenizer.maskId);
    const labels = ['great', 'bad', 'good', 'terrible'].map((w) => m.tokenizer.labelWordId(w));
    const full = e.mlmLogits(h, pos);
    t.is(full.length, m.config.vocabSize);
    t.deepEqual([...e.mlmLogits(h, pos, labels)], labels.map((id) => full[id]!));
    t.true(maxAbsDiff(full, full.map(() => full[0]!)) > 0.1, 'logits are not flat');
  });

  test(`${arch}: RFA vs softmax agreement improves with the number of features`, (t) => {
    const m = tiny(arch);
    const enc = m.tokenizer.encode(SENTENCE[arch]);
    const soft = new PlainEncoder(m).forward(enc);
    const err = (D: number) => {
      let s = 0;
      for (const seed of [0, 1, 2, 3]) s += rms(new PlainEncoder(m, { attention: 'rfa', rfa: { features: D, seed } }).forward(enc), soft);
      return s / 4;
    };
    const [e16, e256, e4096] = [err(16), err(256), err(4096)];
    t.log(`mean RMS difference to softmax: D=16 ${e16.toFixed(3)}, D=256 ${e256.toFixed(3)}, D=4096 ${e4096.toFixed(3)}`);
    t.true(e16 > e256 && e256 > e4096);
    t.true(e4096 < 0.2);
  });
}

/** Random q, k, v (n × heads·dh) and a padding mask for the attention-level tests. */
function qkv(n: number, hidden: number, seed: number) {
  const r = new Rng(seed);
  const [q, k, v] = [0, 1, 2].map(() => {
    const a = new Float64Array(n * hidden);
    r.fillNormal(a);
    return a;
  }) as [Float64Array, Float64Array, Float64Array];
  return { q, k, v, mask: Array.from({ length: n }, (_, i) => (i < n - 2 ? 1 : 0)) };
}

test('attentionRfa equals attention with the explicit feature kernel φ(q̂)·φ(k̂) (same W)', (t) => {
  const [n, heads, dh, D] = [7, 2, 4, 32];
  const H = heads * dh;
  const { q, k, v, mask } = qkv(n, H, 11);
  const W = [0, 1].map((h) => rfaFeatures(5, 0, h, D, dh, 2));
  const got = attentionRfa(q, k, v, n, heads, mask, W, 1e-6, 1e-3);
  const want = new Float64Array(n * H);
  for (let h = 0; h < heads; h++) {
    const phi = (m: Float64Array, t: number) => rfaFeatureMap(l2Normalize(m.subarray(t * H + h * dh, t * H + h * dh + dh), 1e-6), W[h]!);
    for (let i = 0; i < n; i++) {
      const kern = Array.from({ length: n }, (_, j) => (mask[j] ? phi(q, i).reduce((s, a, f) => s + a * phi(k, j)[f]!, 0) : 0));
      const den = Math.max(kern.reduce((a, b) => a + b, 0), 1e-3);
      for (let c = 0; c < dh; c++) want[i * H + h * dh + c] = kern.reduce((s, kj, j) => s + kj * v[j * H + h * dh + c]!, 0) / den;
    }
  }
  t.true(maxAbsDiff(got, want) < 1e-12);
});

test('RFA with many features approximates exact Gaussian-kernel attention exp(τ q̂·k̂)', (t) => {
  const [n, heads, dh, tau] = [8, 2, 8, 2];
  const H = heads * dh;
  const { q, k, v, mask } = qkv(n, H, 9);
  const exact = new Float64Array(n * H);
  for (let h = 0; h < heads; h++) {
    const unit = (m: Float64Array, t: number) => {
      const x = m.subarray(t * H + h * dh, t * H + h * dh + dh);
      const norm = Math.hypot(...x);
      return Array.from(x, (e) => e / norm);
    };
    for (let i = 0; i < n; i++) {
      const w = Array.from({ length: n }, (_, j) => (mask[j] ? Math.exp(tau * unit(q, i).reduce((s, a, c) => s + a * unit(k, j)[c]!, 0)) : 0));
      const z = w.reduce((a, b) => a + b, 0);
      for (let c = 0; c < dh; c++) exact[i * H + h * dh + c] = w.reduce((s, wj, j) => s + (wj / z) * v[j * H + h * dh + c]!, 0);
    }
  }
  const err = (D: number) => {
    let s = 0;
    for (const seed of [1, 2, 3]) {
      const W = [0, 1].map((h) => rfaFeatures(seed, 0, h, D, dh, tau));
      s += rms(attentionRfa(q, k, v, n, heads, mask, W, 0, 1e-3), exact);
    }
    return s / 3;
  };
  const [e256, e4096, e16384] = [err(256), err(4096), err(16384)];
  t.log(`mean RMS error: D=256 ${e256.toFixed(4)}, D=4096 ${e4096.toFixed(4)}, D=16384 ${e16384.toFixed(4)}`);
  t.true(e4096 < 0.05);
  t.true(e16384 < 0.025);
  t.true(e256 > e4096 && e4096 > e16384);
});

test("RFA 'exp' kernel with many features approximates the model's own softmax attention exp(q·k/√d)", (t) => {
  const [n, heads, dh] = [8, 2, 8];
  const H = heads * dh;
  const { q, k, v, mask } = qkv(n, H, 9);
  // Unscaled softmax attention is the target (no temperature, no normalisation of q, k).
  const exact = attentionSoftmax(q, k, v, n, heads, mask);
  const err = (D: number) => {
    let s = 0;
    for (const seed of [1, 2, 3]) {
      const W = [0, 1].map((h) => rfaFeatures(seed, 0, h, D, dh, 1));
      s += rms(attentionRfaExp(q, k, v, n, heads, mask, W, 1e-3), exact);
    }
    return s / 3;
  };
  const [e256, e4096, e16384] = [err(256), err(4096), err(16384)];
  t.log(`mean RMS error vs softmax: D=256 ${e256.toFixed(4)}, D=4096 ${e4096.toFixed(4)}, D=16384 ${e16384.toFixed(4)}`);
  // Error ~ 1/√D once the normaliser is above the noise (measured 8.0, 0.11, 0.055).
  t.true(e16384 < 0.08);
  t.true(e256 > e4096 && e4096 > e16384);
  // The 'normalized' kernel converges to a different attention: it stays far from softmax at any D.
  const W = [0, 1].map((h) => rfaFeatures(1, 0, h, 16384, dh, 1));
  t.true(rms(attentionRfa(q, k, v, n, heads, mask, W, 0, 1e-3), exact) > 2 * e16384);
  // Masked keys carry no weight: changing their values changes nothing.
  const v2 = Float64Array.from(v, (x, i) => (mask[Math.floor(i / H)] ? x : x + 100));
  const W64 = [0, 1].map((h) => rfaFeatures(4, 0, h, 64, dh, 1));
  t.deepEqual(attentionRfaExp(q, k, v2, n, heads, mask, W64, 1e-3), attentionRfaExp(q, k, v, n, heads, mask, W64, 1e-3));
});

test("rfa.kernel: 'exp' draws N(0, I) features whatever tau; unknown kernels are rejected", (t) => {
  const e = new PlainEncoder(tiny('bert'), { attention: 'rfa', rfa: { kernel: 'exp', features: 8, seed: 2, tau: 3 } });
  t.is(e.rfa!.kernel, 'exp');
  t.deepEqual(e.rfa!.matrices[1]![2], rfaFeatures(2, 1, 2, 8, 8, 1));
  t.is(new PlainEncoder(tiny('bert'), { attention: 'rfa' }).rfa!.kernel, 'normalized');
  const err = t.throws(() => new PlainEncoder(tiny('bert'), { attention: 'rfa', rfa: { kernel: 'gauss' as never } }));
  t.true(err instanceof SecpError && err.code === 'ERR_INVALID_ARGUMENT');
});

test('rfaFeatures: deterministic per (seed, layer, head), rows ~ N(0, τI)', (t) => {
  t.deepEqual(rfaFeatures(1, 2, 3, 16, 8, 4), rfaFeatures(1, 2, 3, 16, 8, 4));
  t.notDeepEqual(rfaFeatures(1, 2, 3, 16, 8, 4), rfaFeatures(1, 2, 4, 16, 8, 4));
  t.notDeepEqual(rfaFeatures(1, 2, 3, 16, 8, 4), rfaFeatures(1, 3, 3, 16, 8, 4));
  const w = rfaFeatures(7, 0, 0, 4096, 16, 4);
  const variance = w.reduce((s, x) => s + x * x, 0) / w.length;
  t.true(Math.abs(variance - 4) < 0.1);
  const e = new PlainEncoder(tiny('bert'), { attention: 'rfa', rfa: { features: 8, seed: 2, tau: 1.5 } });
  t.deepEqual(e.rfa!.matrices[1]![2], rfaFeatures(2, 1, 2, 8, 8, 1.5));
  t.is(e.rfa!.matrices.length, 2);
});

test('prompt slots: replace mode equals feeding those embeddings as word rows; add mode is BBT post-LN', (t) => {
  const m = tiny('roberta');
  const H = m.config.hidden;
  const base = m.tokenizer.encode(SENTENCE.roberta);
  const donors = ['Ġgreat', 'Ġfun', 'Ġmovie'].map((w) => m.tokenizer.tokenId(w));
  const word = m.weights.get('embeddings.word_embeddings.weight')!.data;
  const prompt = new Float64Array(3 * H);
  donors.forEach((id, p) => prompt.set(word.subarray(id * H, (id + 1) * H), p * H));
  const e = new PlainEncoder(m);
  const withSlots = insertPromptSlots(base, [1000, 1001, 1002]);
  const replaced = e.forward({ ...withSlots, prompt: { start: 1, embeddings: prompt } });
  const direct = e.forward(insertPromptSlots(base, donors));
  t.true(maxAbsDiff(replaced, direct) < 1e-12);

  const zero = e.forward({ ...withSlots, prompt: { start: 1, embeddings: new Float64Array(3 * H), mode: 'add' } });
  t.deepEqual(zero, e.forward(withSlots));
  const emb = e.embed({ ...withSlots, prompt: { start: 1, embeddings: prompt, mode: 'add' } });
  const plainEmb = e.embed(withSlots);
  t.true(Math.abs(emb[H + 4]! - plainEmb[H + 4]! - prompt[4]!) < 1e-12);
  t.true(maxAbsDiff(emb.subarray(4 * H), plainEmb.subarray(4 * H)) === 0);

  t.throws(() => e.forward({ ...withSlots, prompt: { start: withSlots.ids.length - 1, embeddings: prompt } }), {
    instanceOf: SecpError,
    code: 'ERR_INVALID_ARGUMENT',
  });
  t.throws(() => e.forward({ ...withSlots, prompt: { start: 1, embeddings: new Float64Array(H + 1) } }), {
    instanceOf: SecpError,
    code: 'ERR_SHAPE_MISMATCH',
  });
});

test('the default tiny model attends far from uniformly; BERT-like init std 0.02 does not', (t) => {
  const peak = (m: LoadedModel) => {
    const enc = m.tokenizer.encode(SENTENCE.bert);
    const [n, H, heads] = [enc.ids.length, m.config.hidden, m.config.heads];
    const dh = H / heads;
    const x = new PlainEncoder(m).embed(enc);
    const W = (name: string) => m.weights.get(`encoder.layer.0.attention.self.${name}`)!.data;
    const q = linear(x, n, H, W('query.weight'), W('query.bias'));
    const k = linear(x, n, H, W('key.weight'), W('key.bias'));
    let sum = 0;
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < n; i++) {
        const s = Array.from({ length: n }, (_, j) => {
          let d = 0;
          for (let c = 0; c < dh; c++) d += q[i * H + h * dh + c]! * k[j * H + h * dh + c]!;
          return Math.exp(d / Math.sqrt(dh));
        });
        sum += Math.max(...s) / s.reduce((a, b) => a + b, 0);
      }
    }
    return { mean: sum / (heads * n), uniform: 1 / n };
  };
  const wide = peak(tiny('bert'));
  const narrow = peak(tiny('bert', 3, { initStd: 0.02 }));
  t.true(wide.mean > 2 * wide.uniform);
  t.true(narrow.mean < 1.2 * narrow.uniform);
});

test('position ids: BERT from 0; RoBERTa from pad+1 with pads at pad_token_id', (t) => {
  const bert = tiny('bert').config;
  const roberta = tiny('roberta').config;
  t.deepEqual([...positionIds(bert, [2, 9, 3, 0, 0])], [0, 1, 2, 3, 4]);
  t.deepEqual([...positionIds(roberta, [0, 9, 2, 1, 1])], [2, 3, 4, 1, 1]);
});

test('sentence embedding: mean over real tokens, L2 normalised, cosine/dot label logits', (t) => {
  const m = tiny('bert', 3, { mlmHead: false });
  const e = new PlainEncoder(m);
  const H = m.config.hidden;
  const enc = m.tokenizer.pad(m.tokenizer.encode('good food and friendly staff'), 12);
  const pooled = meanPool(e.forward(enc), H, enc.attentionMask, true);
  t.true(Math.abs(Math.hypot(...pooled) - 1) < 1e-12);
  const real = m.tokenizer.encode('good food and friendly staff');
  t.true(maxAbsDiff(pooled, meanPool(e.forward(real), H, real.attentionMask, true)) < 1e-12);
  const labelTexts = ['great', 'terrible'].map((s) => {
    const x = m.tokenizer.encode(s);
    return meanPool(e.forward(x), H, x.attentionMask, true);
  });
  const labels = new Float64Array(2 * H);
  labelTexts.forEach((l, i) => labels.set(l, i * H));
  const cos = labelLogits(pooled, labels, 'cosine');
  const dot = labelLogits(pooled, labels, 'dot');
  t.true(maxAbsDiff(cos, dot) < 1e-12); // both sides are unit vectors
  t.true(Math.abs(labelLogits(labelTexts[0]!, labels, 'cosine')[0]! - 1) < 1e-12);
  t.throws(() => e.mlmLogits(e.forward(enc), 0, [1]), { instanceOf: SecpError, code: 'ERR_MISSING_TENSOR', message: /no MLM head/ });
  t.throws(() => meanPool(new Float64Array(H), H, [0]), { instanceOf: SecpError, code: 'ERR_INVALID_ARGUMENT' });
});

test('a custom GELU is used everywhere it applies', (t) => {
  const m = tiny('bert');
  const enc = m.tokenizer.encode(SENTENCE.bert);
  let calls = 0;
  const counting = (x: number) => {
    calls++;
    return geluErf(x);
  };
  const a = new PlainEncoder(m, { gelu: counting });
  const h = a.forward(enc);
  a.mlmLogits(h, 4, [5]);
  t.is(calls, enc.ids.length * m.config.intermediate * m.config.layers + m.config.hidden);
  t.deepEqual(h, new PlainEncoder(m).forward(enc));
  const relu = new PlainEncoder(m, { gelu: (x) => Math.max(x, 0) }).forward(enc);
  t.true(maxAbsDiff(relu, h) > 1e-3);
});

test('options and inputs are validated with typed errors', (t) => {
  const m = tiny('bert');
  const bad = (options: object, re: RegExp) =>
    t.throws(() => new PlainEncoder(m, options), { instanceOf: SecpError, code: 'ERR_INVALID_ARGUMENT', message: re });
  bad({ attention: 'linear' }, /attention/);
  bad({ attention: 'rfa', rfa: { features: 0 } }, /rfa\.features/);
  bad({ attention: 'rfa', rfa: { tau: -1 } }, /rfa\.tau/);
  bad({ attention: 'rfa', rfa: { epsDen: 0 } }, /rfa\.epsDen/);
  bad({ gelu: 3 }, /gelu/);
  const e = new PlainEncoder(m);
  const err = (input: object, c: string) => t.throws(() => e.forward(input as never), { instanceOf: SecpError, code: c });
  err({ ids: [2, 99999, 3] }, 'ERR_INVALID_ARGUMENT');
  err({ ids: [2, 3], typeIds: [0, 2] }, 'ERR_INVALID_ARGUMENT');
  err({ ids: [2, 3], attentionMask: [1] }, 'ERR_SHAPE_MISMATCH');
  err({ ids: [2, 3], attentionMask: [1, 0.5] }, 'ERR_INVALID_ARGUMENT');
  err({ ids: new Array(65).fill(5) }, 'ERR_SHAPE_MISMATCH');
  err({ ids: [] }, 'ERR_INVALID_ARGUMENT');
  t.throws(() => e.mlmLogits(e.forward({ ids: [2, 3] }), 0, [m.config.vocabSize]), { instanceOf: SecpError, code: 'ERR_INVALID_ARGUMENT' });
});
