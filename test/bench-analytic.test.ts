/**
 * The analytic traffic model (bench/analytic.ts) against the meter: one forward of a tiny BERT-shaped model with
 * RFA and with softmax attention (MLM head), and with the pooled cosine head; the bytes all parties send and
 * S0's rounds must agree within 1% in total (the bench's acceptance criterion), and the test names every op
 * group that differs.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareWithMeter, forwardTraffic } from '../bench/analytic.js';
import { loadModel } from '../ts/model/config.js';
import { createLocalSession, type MpcExample, type MpcSpec } from '../ts/model/mpc.js';
import { Rng } from '../ts/model/random.js';
import { writeTinyModel } from '../ts/model/tiny.js';
import type { MeterSnapshot, PartyId } from '../ts/net/index.js';
import { Ring } from '../ts/ring/tensor.js';

const root = mkdtempSync(join(tmpdir(), 'secp-bench-analytic-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));
writeTinyModel(root, { arch: 'bert', seed: 5, layers: 2, hidden: 32, heads: 4, maxPositions: 16 });
const model = loadModel(root);

const B = 3;
const N = 12;
const P = 2;
const C = 2;

function examples(): MpcExample[] {
  return Array.from({ length: B }, (_, b) => {
    const len = N - 2 * b;
    const ids = Array.from({ length: N }, (_, i) => (i < len ? 5 + ((b * 31 + i * 7) % (model.config.vocabSize - 5)) : 0));
    ids[0] = model.tokenizer.clsId;
    ids[len - 1] = model.tokenizer.sepId;
    ids[len - 2] = model.tokenizer.maskId;
    return { ids, attentionMask: ids.map((_, i) => (i < len ? 1 : 0)), maskPos: len - 2 };
  });
}

/** Every party's meter over one forward of C candidates (reset when each party starts the forward). */
async function meterForward(spec: MpcSpec): Promise<Partial<Record<PartyId, MeterSnapshot>>> {
  const ring = new Ring();
  let links: Map<PartyId, { meter: { reset(): void } }> | undefined;
  const s = createLocalSession(ring, spec, model.weights, {
    session: `analytic-${spec.attention}-${spec.head.kind}`,
    onPhase: (phase, role) => {
      if (phase === 'forward') links!.get(role)!.meter.reset();
    },
  });
  links = s.links;
  const rng = new Rng(3, 1);
  const H = model.config.hidden;
  const labels = new Float64Array(2 * H);
  rng.fillNormal(labels);
  s.data.shareBatch(examples(), spec.head.kind === 'pooled' ? labels : undefined);
  for (const owner of ['data', 'model'] as const) s.links.get(owner)!.meter.reset();
  const prompts = Array.from({ length: C }, () => {
    const p = new Float64Array(P * H);
    rng.fillNormal(p, 0.5);
    return p;
  });
  await s.data.forward(prompts);
  const snaps = Object.fromEntries([...s.links].map(([role, l]) => [role, l.meter.snapshot()]));
  s.data.close();
  await s.done;
  return snaps;
}

const cases: [string, MpcSpec][] = (['rfa', 'softmax'] as const).flatMap((attention) => [
  [`${attention}, MLM head`, { config: model.config, attention, rfa: { features: 8 }, head: { kind: 'mlm', labelIds: [7, 9] }, batch: { examples: B, length: N, promptLength: P } }],
  [`${attention}, pooled cosine head`, { config: model.config, attention, rfa: { features: 8 }, head: { kind: 'pooled', labels: 2, metric: 'cosine' }, batch: { examples: B, length: N, promptLength: P } }],
] as [string, MpcSpec][]);
// The protocols of bc2c1c5, still selectable for side-by-side benches.
for (const attention of ['rfa', 'softmax'] as const) {
  cases.push([`${attention}, MLM head, v1 protocols`, { config: model.config, attention, rfa: { features: 8 }, head: { kind: 'mlm', labelIds: [7, 9] }, batch: { examples: B, length: N, promptLength: P }, protocols: 'v1' }]);
}

for (const [name, spec] of cases) {
  test(`analytic bytes and rounds of a forward equal the meter in every op group: ${name}`, async (t) => {
    const snaps = await meterForward(spec);
    const rows = compareWithMeter(forwardTraffic(spec, C, new Ring().fracBits).labels, snaps);
    const sum = (k: 'analyticBytes' | 'meterBytes' | 'analyticRounds' | 'meterRounds') => rows.reduce((s, r) => s + r[k], 0);
    const off = rows.filter((r) => r.analyticBytes !== r.meterBytes || r.analyticRounds !== r.meterRounds);
    const detail = off.map((r) => `${r.group}: ${r.analyticBytes} B / ${r.analyticRounds} rounds analytic, ${r.meterBytes} B / ${r.meterRounds} metered`).join('; ');
    t.true(sum('meterBytes') > 0);
    t.true(Math.abs(sum('analyticBytes') / sum('meterBytes') - 1) <= 0.01, `bytes: ${sum('analyticBytes')} analytic, ${sum('meterBytes')} metered; ${detail}`);
    t.true(Math.abs(sum('analyticRounds') / sum('meterRounds') - 1) <= 0.01, `rounds: ${sum('analyticRounds')} analytic, ${sum('meterRounds')} metered; ${detail}`);
    t.is(detail, '', 'every op group agrees exactly');
  });
}
