/**
 * The same MPC program (fixed-weight and secret × secret matmul, mul + truncation, ltz, cosSin,
 * reciprocal; inputs from the data owner, outputs revealed to it) over every transport: all parties on
 * one thread (in-process network), each party in a worker thread of its own, and each party in a child
 * process of its own over loopback TCP. With the dealer's and the data owner's seeds fixed, every
 * party's final shares must be bit-identical and every party's meter snapshot (bytes, messages and
 * rounds per op, per peer) deepEqual across transports.
 */
import test from 'ava';
import { backend } from './helpers.js';
import {
  FRAC_BITS,
  PARTIES,
  PIPELINE,
  PIPELINE_OUTPUTS,
  pipelineFeatures,
  pipelineInputs,
  results,
  runInProcess,
  startChildParties,
  startWorkerParties,
  wordsOf,
  type PartyResult,
  type PartyRole,
} from './mpc-party-script.js';

const ULP = 2 ** -FRAC_BITS;

function assertNoErrors(t: import('ava').ExecutionContext, rs: Record<PartyRole, PartyResult>, transport: string): void {
  for (const r of PARTIES) t.is(rs[r].error, undefined, `${transport}: ${r} failed: ${rs[r].error?.code} ${rs[r].error?.message}`);
}

function maxErr(got: Float64Array, want: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs(got[i]! - want[i]!));
  return m;
}

test('in-process, worker and TCP transports: bit-identical shares and identical meter snapshots', async (t) => {
  const spec = { name: 'pipeline' } as const;
  const local = await runInProcess(spec);
  assertNoErrors(t, local, 'local');
  const worker = await results(startWorkerParties(spec));
  assertNoErrors(t, worker, 'worker');
  const tcp = await results(await startChildParties(spec));
  assertNoErrors(t, tcp, 'tcp');

  for (const role of PARTIES) {
    for (const [name, other] of [['worker', worker], ['tcp', tcp]] as const) {
      t.deepEqual(other[role].words, local[role].words, `${role}: ${name} shares == in-process shares`);
      t.deepEqual(other[role].snapshot, local[role].snapshot, `${role}: ${name} meter == in-process meter`);
    }
  }
  t.is(local.s0.words.length, PIPELINE_OUTPUTS.length);
  t.is(local.dealer.words.length, 0, 'the dealer holds no shares');

  // The compared shares are the real ones: S0's + S1's share is what the data owner received.
  const be = backend('native');
  for (let i = 0; i < PIPELINE_OUTPUTS.length; i++) {
    const sum = be.add(wordsOf(local.s0.words[i]!), wordsOf(local.s1.words[i]!));
    t.deepEqual(sum, wordsOf(local.data.words[i]!), `${PIPELINE_OUTPUTS[i]!.name}: s0 + s1 = revealed`);
    t.notDeepEqual(wordsOf(local.s0.words[i]!), wordsOf(local.data.words[i]!), 'a share is not the value');
  }

  // And the outputs are right (against float64 on the encoded inputs).
  const { M, K, N, FEATS } = PIPELINE;
  const [X, W, Y, Z] = pipelineInputs().map((x) => be.decode(be.encode(x.values, FRAC_BITS), FRAC_BITS));
  const out = local.data.words.map((w, i) => be.decode(wordsOf(w), PIPELINE_OUTPUTS[i]!.bits));
  const xw = new Float64Array(M * N);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) for (let q = 0; q < K; q++) xw[i * N + j]! += X![i * K + q]! * W![q * N + j]!;
  t.true(maxErr(out[0]!, xw) <= 2 * ULP, `secret × secret matmul error ${maxErr(out[0]!, xw)}`);
  t.true(maxErr(out[1]!, xw) <= 2 * ULP, `fixed-weight matmul error ${maxErr(out[1]!, xw)}`);
  const prod = out[1]!.map((v, i) => v * Y![i]!);
  t.true(maxErr(out[2]!, prod) <= 2 * ULP, `mul error ${maxErr(out[2]!, prod)}`);
  t.deepEqual([...out[3]!], [...out[2]!].map((v) => (v < 0 ? 1 : 0)), 'ltz is the sign of the product');
  const w = pipelineFeatures();
  const ang = new Float64Array(M * FEATS);
  for (let i = 0; i < M; i++) for (let j = 0; j < FEATS; j++) for (let q = 0; q < K; q++) ang[i * FEATS + j]! += w[j * K + q]! * X![i * K + q]!;
  t.true(maxErr(out[4]!, ang.map(Math.cos)) <= 1e-4, `cos error ${maxErr(out[4]!, ang.map(Math.cos))}`);
  t.true(maxErr(out[5]!, ang.map(Math.sin)) <= 1e-4, `sin error ${maxErr(out[5]!, ang.map(Math.sin))}`);
  const worstRecip = Math.max(...[...out[6]!].map((v, i) => Math.abs(v - 1 / Z![i]!) / (2 ** -11 / Z![i]! + 4 * ULP)));
  t.true(worstRecip <= 1, `reciprocal error ${worstRecip} × bound`);

  // Spot-check the meter against the documented costs (bytes are per server, payload only).
  const ops = local.s0.snapshot.ops;
  t.like(ops['mm'], { rounds: 1, bytesSent: 8 * (M * K + K * N) });
  t.like(ops['w.fix'], { rounds: 1, bytesSent: 8 * K * N });
  t.like(ops['mm.fixed'], { rounds: 1, bytesSent: 8 * M * K }, 'a fixed-weight product opens only X − A');
  t.like(ops['mul.trunc'], { rounds: 1, bytesSent: 8 * M * N });
  // v2 cosine: the angles' top 32 bits, as 32 bit planes of 64-element words.
  t.like(ops['cos'], { rounds: 1, bytesSent: 8 * 32 * Math.ceil((M * FEATS) / 64) });
  const ltzRounds = Object.entries(ops).filter(([k]) => k.startsWith('ltz')).reduce((s, [, v]) => s + v.rounds, 0);
  t.is(ltzRounds, 7);
  t.deepEqual(local.s1.snapshot.total.rounds, local.s0.snapshot.total.rounds, 'both servers count the same rounds');
  t.is(local.dealer.snapshot.peers.s0!.bytesSent, 32, 'the dealer sends S0 only its PRG key');
});

test('the shares depend on the seeds (so equality above is not vacuous); the meter does not', async (t) => {
  const a = await runInProcess({ name: 'pipeline' });
  const b = await runInProcess({ name: 'pipeline', seed: 0x17 });
  assertNoErrors(t, a, 'seed 0x5e');
  assertNoErrors(t, b, 'seed 0x17');
  for (let i = 0; i < PIPELINE_OUTPUTS.length; i++) {
    t.notDeepEqual(b.s0.words[i], a.s0.words[i], `${PIPELINE_OUTPUTS[i]!.name}: another dealer seed, other shares`);
  }
  for (const role of PARTIES) t.deepEqual(b[role].snapshot, a[role].snapshot, `${role}: same traffic`);
  // Rerunning with the same seeds replays exactly.
  const c = await runInProcess({ name: 'pipeline' });
  t.deepEqual(c.s0.words, a.s0.words);
  t.deepEqual(c.s1.words, a.s1.words);
});
