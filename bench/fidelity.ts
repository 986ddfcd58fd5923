/**
 * Fidelity of RFA attention:
 *   (a) plaintext RFA against plaintext softmax, over the number of random features D and the temperature τ;
 *   (b) the MPC RFA forward against the plaintext RFA forward on a batch (what fixed point and the protocols
 *       add on top of the RFA approximation itself).
 *
 *   npm run fidelity -- [--model DIR] [--features 16,32,...] [--taus 0.5,1,2,sqrt] [--examples N]
 *                       [--mpc-examples N] [--mpc-features D] [--skip-mpc] [--kernel normalized|exp]
 *
 * Default model: a tiny seeded BERT (2 layers, hidden 64, 4 heads); --model DIR takes a HF folder such as
 * .cache/models/all-MiniLM-L6-v2 or .cache/models/bert-base-uncased. With an MLM head the logits are the
 * verbalizer's (great / terrible / good / bad) at the [MASK] of "<text> . it was [MASK] ."; without one, the
 * cosine similarities of the mean-pooled embedding to the pooled embeddings of the label words (computed with
 * softmax attention), plus the largest difference of the unit-normalised pooled embeddings themselves.
 * 'sqrt' in --taus is √d_head (softmax's temperature; the default τ is 1); (b) runs every τ of --taus with D = --mpc-features. Agreement is
 * the share of examples with the same argmax. --kernel exp measures RFA of softmax's own kernel (τ does not
 * apply: --taus is ignored); untuned accuracy on real data is bench/accuracy.ts (npm run accuracy). The tiny default takes ~15 s; all-MiniLM-L6-v2 ~4 min for (a).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModel, type LoadedModel } from '../ts/model/config.js';
import { createLocalSession, type MpcExample, type MpcSpec } from '../ts/model/mpc.js';
import { PlainEncoder, l2Normalize, labelLogits, meanPool, type EncoderOptions, type RfaOptions } from '../ts/model/plain.js';
import { Rng } from '../ts/model/random.js';
import { writeTinyModel } from '../ts/model/tiny.js';
import { insertPromptSlots } from '../ts/model/tokenizer.js';
import { geluApprox } from '../ts/mpc/nonlinear.js';
import { Ring } from '../ts/ring/tensor.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    features: { type: 'string', default: '16,32,64,128,256,512,1024' },
    taus: { type: 'string', default: '0.5,1,2,sqrt' },
    examples: { type: 'string', default: '16' },
    'mpc-examples': { type: 'string', default: '8' },
    'mpc-features': { type: 'string', default: '64' },
    'skip-mpc': { type: 'boolean', default: false },
    kernel: { type: 'string', default: 'normalized' },
  },
});

const SENTENCES = [
  'the movie was great fun',
  'a terrible waste of time and money',
  'i liked the actors and the music',
  'boring story , bad acting',
  'the best film this year',
  'the plot was slow and the ending was worse',
  'a wonderful family movie',
  'i hated every scene',
  'the food was good and the staff was friendly',
  'the room was dirty and the service was slow',
  'nice place , fast service',
  'the worst hotel in the city',
  'it was fine , not great',
  'an excellent show with a funny story',
  'poor music and a long boring plot',
  'i enjoyed it and would see it again',
];
const LABEL_WORDS = ['great', 'terrible', 'good', 'bad'];

let tmp: string | undefined;
let model: LoadedModel;
if (args.model !== undefined) {
  model = loadModel(args.model);
} else {
  tmp = mkdtempSync(join(tmpdir(), 'secp-fidelity-'));
  writeTinyModel(tmp, { arch: 'bert', seed: 11, layers: 2, hidden: 64, heads: 4 });
  model = loadModel(tmp);
  rmSync(tmp, { recursive: true, force: true });
}
const { config, tokenizer: tok } = model;
const H = config.hidden;
const dh = H / config.heads;
const mlm = model.hasMlmHead;
const count = Math.min(Number(args.examples), SENTENCES.length);
const maskText = tok.decode([tok.maskId], false);
const labelIds = LABEL_WORDS.map((w) => tok.labelWordId(w));

const inputs = SENTENCES.slice(0, count).map((s) => {
  const e = tok.encode(mlm ? `${s} . it was ${maskText} .` : s);
  return { ...e, maskPos: e.ids.indexOf(tok.maskId) };
});

/** Label embeddings of the pooled head: the softmax model's pooled embeddings of the label words. */
const softmax = new PlainEncoder(model, { attention: 'softmax' });
const labelEmb = new Float64Array(LABEL_WORDS.length * H);
LABEL_WORDS.forEach((w, i) => {
  const e = tok.encode(w);
  labelEmb.set(meanPool(softmax.forward(e), H, e.attentionMask), i * H);
});

interface Out {
  logits: Float64Array;
  pooled?: Float64Array;
}

function run(enc: PlainEncoder): Out[] {
  return inputs.map((e) => {
    const h = enc.forward(e);
    if (mlm) return { logits: enc.mlmLogits(h, e.maskPos, labelIds) };
    const pooled = meanPool(h, H, e.attentionMask);
    return { logits: labelLogits(pooled, labelEmb, 'cosine'), pooled: l2Normalize(pooled, 0) };
  });
}

const argmax = (a: ArrayLike<number>) => {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
};

function diff(got: Float64Array[], want: Float64Array[]) {
  let max = 0;
  let sum = 0;
  let n = 0;
  let agree = 0;
  got.forEach((g, i) => {
    const w = want[i]!;
    for (let j = 0; j < g.length; j++) {
      const d = Math.abs(g[j]! - w[j]!);
      max = Math.max(max, d);
      sum += d;
      n++;
    }
    if (argmax(g) === argmax(w)) agree++;
  });
  return { max, mean: sum / n, agree: agree / got.length };
}

const table = (rows: string[][]) => {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padStart(w[i]!)).join('  ')).join('\n');
};
const e2 = (v: number) => v.toExponential(2);
const pct = (v: number) => `${(100 * v).toFixed(0)}%`;

console.log(
  `model: ${args.model ?? 'tiny seeded BERT'} (${config.arch}, ${config.layers} layers, hidden ${H}, ${config.heads} heads, d_head ${dh}); ` +
    `${count} examples; ${mlm ? `MLM logits over [${LABEL_WORDS.join(', ')}]` : `pooled head: cosine to the label words' embeddings`}`,
);

// (a) plaintext RFA vs plaintext softmax.
const t0 = performance.now();
const ref = run(softmax);
if (args.kernel !== 'normalized' && args.kernel !== 'exp') throw new Error(`--kernel must be normalized or exp, got ${args.kernel}`);
const kernel = args.kernel;
const taus = kernel === 'exp' ? [1] : args.taus.split(',').map((t) => (t === 'sqrt' ? Math.sqrt(dh) : Number(t)));
const featureCounts = args.features.split(',').map(Number);
const rowsA = [['tau', 'D', 'max|Δlogit|', 'mean|Δlogit|', 'argmax agree', ...(mlm ? [] : ['max|Δemb|'])]];
for (const tau of taus) {
  for (const D of featureCounts) {
    const out = run(new PlainEncoder(model, { attention: 'rfa', rfa: { kernel, features: D, tau } }));
    const d = diff(out.map((o) => o.logits), ref.map((o) => o.logits));
    const row = [tau.toFixed(2), String(D), e2(d.max), e2(d.mean), pct(d.agree)];
    if (!mlm) row.push(e2(diff(out.map((o) => o.pooled!), ref.map((o) => o.pooled!)).max));
    rowsA.push(row);
  }
}
console.log(`\n(a) plaintext RFA (${kernel} kernel) vs plaintext softmax (${((performance.now() - t0) / 1000).toFixed(1)} s)\n${table(rowsA)}`);

// (b) MPC RFA vs plaintext RFA, on a padded batch with 2 prompt candidates ('add' mode).
if (!args['skip-mpc']) {
  const B = Math.min(Number(args['mpc-examples']), inputs.length);
  const P = 4;
  const placeholder = tok.tokenId(config.arch === 'bert' ? '[UNK]' : '<unk>');
  const slotted = inputs.slice(0, B).map((e) => insertPromptSlots(e, new Array<number>(P).fill(placeholder)));
  const n = Math.max(...slotted.map((e) => e.ids.length));
  const examples: MpcExample[] = slotted.map((e) => {
    const padded = tok.pad(e, n);
    return { ...padded, maskPos: mlm ? padded.ids.indexOf(tok.maskId) : undefined };
  });
  const rng = new Rng(3, 0x46);
  const prompts = Array.from({ length: 2 }, () => {
    const p = new Float64Array(P * H);
    rng.fillNormal(p, 0.5);
    return p;
  });
  const rowsB = [['tau', 'D', 'max|Δlogit|', 'mean|Δlogit|', 'argmax agree', 'seconds']];
  for (const tau of taus) {
    const D = Number(args['mpc-features']);
    const rfa: RfaOptions = { kernel, features: D, tau };
    const opts: EncoderOptions = { attention: 'rfa', rfa, gelu: geluApprox };
    const enc = new PlainEncoder(model, opts);
    const want = prompts.flatMap((p) =>
      examples.map((ex) => {
        const h = enc.forward({ ...ex, prompt: { start: 1, embeddings: p, mode: 'add' } });
        return mlm ? enc.mlmLogits(h, ex.maskPos!, labelIds) : labelLogits(meanPool(h, H, ex.attentionMask!), labelEmb, 'cosine');
      }),
    );
    const spec: MpcSpec = {
      config,
      attention: 'rfa',
      rfa,
      head: mlm ? { kind: 'mlm', labelIds } : { kind: 'pooled', labels: LABEL_WORDS.length, metric: 'cosine' },
      batch: { examples: B, length: n, promptLength: P },
    };
    const t1 = performance.now();
    const s = createLocalSession(new Ring(), spec, model.weights, { net: { recvTimeoutMs: 2 ** 31 - 1 } });
    s.data.shareBatch(examples, mlm ? undefined : labelEmb);
    const got = (await s.data.forward(prompts)).flatMap((perCandidate) => Array.from({ length: B }, (_, b) => perCandidate.slice(b * labelIds.length, (b + 1) * labelIds.length)));
    s.data.close();
    await s.done;
    const d = diff(got, want);
    rowsB.push([tau.toFixed(2), String(D), e2(d.max), e2(d.mean), pct(d.agree), ((performance.now() - t1) / 1000).toFixed(1)]);
  }
  console.log(`\n(b) MPC RFA vs plaintext RFA (GELU: the MPC's piecewise polynomial in both), ${B} examples × 2 prompts, n = ${n}\n${table(rowsB)}`);
}
