/**
 * The analytic traffic of the private transformer's forward (ts/model/mpc.ts), from op counts alone: the forward
 * is replayed call for call with each ts/mpc protocol replaced by what it sends (nothing is fitted to measured
 * numbers). It predicts, per meter label, the payload bytes every party sends and the rounds S0 counts, so the
 * bench can put it next to the meter (per op group and in total) and test/bench-analytic.test.ts can check that
 * the two agree.
 *
 * The protocol costs below restate the cost comments of ts/mpc/*.ts (docs/protocols.md has them per element):
 *   open of w words (Party.open/openXor): S0 and S1 each send 8w bytes, 1 round;
 *   deal of w words (Party.deal/dealXor): the dealer sends 8w bytes to S1;
 *   input of w words: the owner sends 8w bytes to each server; reveal of w words: each server sends 8w bytes.
 * If a protocol of ts/mpc changes, change its method here; the comparison (bench/REPORT.md and the test)
 * shows which op groups moved. The comparison is `Traffic.ltz`, the widths its callers ask for are
 * LTZ_WIDTHS: GELU, exp, the max tournament, reciprocal and rsqrt all reach it through them.
 */
import type { MeterSnapshot, PartyId } from '../ts/net/index.js';
import { resolveSpec, rfaDenominator, type MpcSpec } from '../ts/model/mpc.js';
import { softmaxSumRange, type Range } from '../ts/model/mpc-attention.js';
import type { ProtocolVersion } from '../ts/mpc/party.js';
import { FRAC_BITS } from '../ts/ring/tensor.js';
import { GELU_SERIES_RING, GELU_TERMS } from '../ts/mpc/nonlinear.js';

const WORD = 8;

/** One meter label: the bytes each party sends under it, and the rounds S0 counts for it. */
export interface LabelTraffic {
  bytes: Partial<Record<PartyId, number>>;
  rounds: number;
}

/**
 * The widths k of the comparisons the non-linear functions of ts/mpc/nonlinear.ts run (ltz is exact for
 * |x| < 2^(k−1) ring units), f = fractional bits. With `ltz` below, the formula of every comparison.
 */
export const LTZ_WIDTHS = {
  /** GELU's segment tests x ± 4, exact for |x ± 4| < 2^15. */
  gelu: (f: number) => Math.min(64, f + 16),
  /** v2 GELU: coarse tests (ltz drop = f − 6), so the width is f + 16 − drop = 22 for any f. */
  geluV2: (_f: number) => 22,
  /** The softmax's max tournament and its exp's clip, for logits |x| < 2^15. */
  softmax: (f: number) => Math.min(64, f + 17),
  /** The thresholds base·2^j (j < k) of reciprocal and rsqrt. */
  normalize: (f: number, base: number, k: number) => Math.min(64, Math.ceil(Math.log2(base)) + k + f + 2),
};

/** What a computation sends, per meter label (the labels the ts/mpc protocols use). */
export class Traffic {
  readonly labels = new Map<string, LabelTraffic>();

  /** `fracBits`: the ring's f, which sets some comparison widths; `protocols` as the session's (Party.protocols). */
  constructor(readonly fracBits: number, readonly protocols: ProtocolVersion = 'v2') {}

  private label(op: string): LabelTraffic {
    let t = this.labels.get(op);
    if (t === undefined) this.labels.set(op, (t = { bytes: {}, rounds: 0 }));
    return t;
  }

  send(op: string, from: PartyId, words: number): void {
    const t = this.label(op);
    t.bytes[from] = (t.bytes[from] ?? 0) + WORD * words;
  }

  // --- the messages every protocol is made of ---------------------------------------------------------

  open(op: string, words: number): void {
    this.send(op, 's0', words);
    this.send(op, 's1', words);
    this.label(op).rounds++;
  }

  deal(op: string, words: number): void {
    this.send(op, 'dealer', words);
  }

  /** Party.openBits / dealBits of n elements at `bits`: whole words at 64, else bit planes. */
  private static planes(n: number, bits: number): number {
    return bits === 64 ? n : bits * Math.ceil(n / 64);
  }

  openBits(op: string, n: number, bits: number): void {
    this.open(op, Traffic.planes(n, bits));
  }

  dealBits(op: string, n: number, bits: number): void {
    this.deal(op, Traffic.planes(n, bits));
  }

  input(op: string, owner: PartyId, words: number): void {
    this.send(op, owner, 2 * words);
  }

  reveal(op: string, words: number): void {
    this.send(op, 's0', words);
    this.send(op, 's1', words);
  }

  // --- ts/mpc/beaver.ts, truncation.ts, cosine.ts --------------------------------------------------------

  /** Beaver product in the ring mod 2^bits (v2 narrow products below 64). */
  mulRaw(op: string, n: number, bits = 64): void {
    this.dealBits(`${op}.c`, n, bits);
    this.open(op, 2 * Traffic.planes(n, bits));
  }

  square(op: string, n: number, bits = 64): void {
    this.dealBits(`${op}.c`, n, bits);
    this.openBits(op, n, bits);
  }

  /** Many secret products [m, k]·[k, n] in one round. */
  matmulMany(op: string, dims: readonly (readonly [number, number, number])[]): void {
    this.deal(`${op}.c`, dims.reduce((s, [m, , n]) => s + m * n, 0));
    this.open(op, dims.reduce((s, [m, k, n]) => s + m * k + k * n, 0));
  }

  matmulFixed(op: string, m: number, k: number, n: number): void {
    this.deal(`${op}.c`, m * n);
    this.open(op, m * k);
  }

  mulFixedRow(op: string, n: number): void {
    this.deal(`${op}.c`, n);
    this.open(op, n);
  }

  /**
   * Truncation by `bits` of an input held mod 2^from: v1 deals r's top bit as a word; v2 deals it in
   * bits + 65 − from bit planes and opens the top `from` bits of c.
   */
  truncate(op: string, n: number, bits = this.fracBits, from = 64): void {
    this.deal(`${op}.r_tr`, n);
    if (this.protocols === 'v1') this.deal(`${op}.r_msb`, n);
    else this.dealBits(`${op}.r_msb`, n, Math.min(64, bits + 65 - from));
    this.openBits(op, n, from);
  }

  /**
   * mulRowsRaw (beaver.ts) of [rows, cols] pairs: v2 opens every element once and every row once; a pair whose X
   * is already opened (`masked`, a MaskedOpen) opens its rows only.
   */
  mulRows(op: string, pairs: readonly (readonly [number, number, 'masked'?])[]): void {
    const elems = pairs.reduce((s, [r, c]) => s + r * c, 0);
    if (this.protocols === 'v1') return this.mulRaw(op, elems);
    this.deal(`${op}.c`, elems);
    this.open(op, pairs.reduce((s, [r, c, m]) => s + r + (m === undefined ? r * c : 0), 0));
  }

  /** openMasked then rowSquaresRaw (beaver.ts, v2): x opened once, ΣA² dealt per row. */
  openRowSquares(op: string, rows: number, cols: number): void {
    this.open(op, rows * cols);
    this.deal(`${op}.c`, rows);
  }

  /** mulMaskedBit (compare.ts): one opening of y − α, ρα dealt. */
  mulMaskedBit(op: string, n: number): void {
    this.deal(`${op}.c`, n);
    this.open(op, n);
  }

  mul(op: string, n: number): void {
    this.mulRaw(op, n);
    this.truncate(`${op}.trunc`, n);
  }

  /** cosine.ts: v2 opens the angles' top 32 bits; with `ring` < 64 the dealer's shares are bit planes. */
  cosSin(op: string, n: number, ring = 64): void {
    this.dealBits(`${op}.cos_t`, n, ring);
    this.dealBits(`${op}.sin_t`, n, ring);
    this.openBits(op, n, this.protocols === 'v1' ? 64 : 32);
  }

  // --- ts/mpc/compare.ts ---------------------------------------------------------------------------------

  /**
   * [x < 0] for n elements at width k (ts/mpc/compare.ts): per word of 64 elements (w = ⌈n/64⌉ words per bit
   * plane) the dealer XOR-shares r's k bit planes, the products of the ⌊(k−1)/2⌋ bit pairs of the local first
   * tree level and 2c − 1 AND results for each later level of c combines, and deals the random bit ρ as a
   * word per element; the servers open c = x + r (k bits per element: whole words at k = 64), then 3c − 1
   * planes per tree level, then the masked result bit (one plane). Rounds: 2 + the tree's levels (7 at k = 64).
   */
  ltz(op: string, n: number, k = 64, shifts = 1): void {
    // ltzShifts: with several shifts, r's bits, the pair products and the opening of c are one shift's (each
    // shift's elements padded to whole words); the trees and result bits are every shift's.
    const w0 = Math.ceil(n / 64);
    const np = shifts === 1 ? n : 64 * w0;
    const w = shifts * w0;
    const pairs = (k - 1) >> 1;
    const levels: number[] = [];
    for (let blocks = k - 1 - pairs; blocks > 1; blocks -= blocks >> 1) levels.push(blocks >> 1);
    this.deal(`${op}.r_bits`, k * w0);
    if (pairs > 0) this.deal(`${op}.pairs`, pairs * w0);
    levels.forEach((c, l) => this.deal(`${op}.and${l}.c`, (2 * c - 1) * w));
    this.deal(`${op}.rho`, shifts * np);
    this.open(`${op}.open`, k === 64 ? np : k * w0);
    levels.forEach((c, l) => this.open(`${op}.and${l}`, (3 * c - 1) * w));
    this.open(`${op}.b2a`, w);
  }

  /** select / selectMasked (v2: mulMaskedBit). */
  select(op: string, n: number): void {
    if (this.protocols === 'v1') this.mulRaw(op, n);
    else this.mulMaskedBit(op, n);
  }

  // --- ts/mpc/nonlinear.ts -------------------------------------------------------------------------------

  exp(op: string, n: number, bits = 64): void {
    this.ltz(`${op}.clip`, n, bits);
    this.select(`${op}.sel`, n);
    for (let i = 0; i < 8; i++) {
      this.square(`${op}.sq`, n);
      this.truncate(`${op}.sq.trunc`, n, this.fracBits + 8);
    }
    this.truncate(`${op}.scale`, n, 8);
  }

  /** normalize: the k thresholds base·2^j in one comparison, then the selected scale (mulSelected). */
  private normalize(op: string, n: number, base: number, k: number): void {
    this.ltz(`${op}.cmp`, k * n, LTZ_WIDTHS.normalize(this.fracBits, base, k));
    this.mulSelected(`${op}.scale`, n, 1);
  }

  /** nonlinear.ts mulSelected: a product truncated by the constants' bits, chosen from |y·c| ≤ bound. */
  private mulSelected(op: string, n: number, bound: number): void {
    const f = this.fracBits;
    this.mulRaw(op, n);
    this.truncate(`${op}.trunc`, n, Math.max(f, Math.min(2 * f, 61 - f - Math.ceil(Math.log2(bound)))));
  }

  /** 1/x over k octaves from `base` (2^lo, or the clamp's floor). */
  reciprocal(op: string, n: number, base: number, k: number): void {
    this.normalize(op, n, base, k);
    for (let i = 0; i < 6; i++) this.mul(`${op}.nr`, n);
    this.mulSelected(`${op}.unscale`, n, 2 / base);
  }

  /** 1/√x on [2^lo, 2^hi). */
  rsqrt(op: string, n: number, range: Range): void {
    this.normalize(op, n, 2 ** range.lo, range.hi - range.lo);
    this.truncate(`${op}.init`, n);
    for (let i = 0; i < 3; i++) {
      this.square(`${op}.nr`, n);
      this.truncate(`${op}.nr.trunc`, n);
      this.mul(`${op}.nr`, n);
      this.mulRaw(`${op}.nr`, n);
      this.truncate(`${op}.nr.trunc`, n, this.fracBits + 1);
    }
    this.mulSelected(`${op}.unscale`, n, 1.5 * 2 ** (-range.lo / 2));
  }

  /** GELU: [x < -4] and [x > 4] in one comparison of 2n, v = (x/4)², v², v³, the high half's product, the selection. */
  /** `scale`: the input's fractional bits in units of f (v2: 1 or 2). */
  gelu(op: string, n: number, scale: 1 | 2 = 1): void {
    if (this.protocols === 'v2') {
      // Coarse tests at 22 bits; the cosine series (geluEven): the dealer's 10 terms mod 2^38 as bit planes, d opened
      // whole, one truncation from 2^38; the masked-bit selection.
      const f = this.fracBits;
      this.ltz(`${op}.cmp`, n, LTZ_WIDTHS.geluV2(f), 2);
      this.dealBits(`${op}.even.trig`, 2 * GELU_TERMS * n, GELU_SERIES_RING(f));
      this.open(`${op}.even`, n);
      // The sum has 2f + lift bits (lift 1 at scale 2) and is truncated to the input's scale.
      this.truncate(`${op}.even.trunc`, n, scale === 1 ? f : 1, GELU_SERIES_RING(f));
      // The selection: one opening (inner − α), two products with ρ dealt.
      this.deal(`${op}.sel.c`, 2 * n);
      this.open(`${op}.sel`, n);
      return;
    }
    this.ltz(`${op}.cmp`, 2 * n, LTZ_WIDTHS.gelu(this.fracBits));
    for (let i = 0; i < 2; i++) {
      this.square(`${op}.pow`, n);
      this.truncate(`${op}.pow.trunc`, n);
    }
    this.mul(`${op}.pow`, n);
    this.mulRaw(`${op}.poly`, n);
    this.truncate(`${op}.poly.trunc`, n, 2 * this.fracBits);
    this.mulRaw(`${op}.sel`, 2 * n);
  }

  layerNorm(op: string, rows: number, cols: number, range: Range): void {
    const f = this.fracBits;
    if (this.protocols === 'v1') {
      this.truncate(`${op}.mean`, rows);
      this.square(`${op}.sq`, rows * cols);
      this.truncate(`${op}.sq.trunc`, rows * cols);
      this.truncate(`${op}.var`, rows);
      this.rsqrt(`${op}.rsqrt`, rows, range);
      this.mul(`${op}.norm`, rows * cols);
      this.mulFixedRow(`${op}.gamma`, rows * cols);
      this.truncate(`${op}.gamma.trunc`, rows * cols);
      return;
    }
    // v2: 1/cols with 22 bits; the centred x opened once for the row sums of squares and the normalising
    // product; the normalised product untruncated, one truncation by 2f after gamma.
    this.truncate(`${op}.mean`, rows, 22);
    this.openRowSquares(`${op}.sq`, rows, cols);
    this.truncate(`${op}.sq.trunc`, rows);
    this.truncate(`${op}.var`, rows, 22);
    this.rsqrt(`${op}.rsqrt`, rows, range);
    this.mulRows(`${op}.norm`, [[rows, cols, 'masked']]);
    this.mulFixedRow(`${op}.gamma`, rows * cols);
    this.truncate(`${op}.gamma.trunc`, rows * cols, 2 * f);
  }

  rowMax(op: string, rows: number, cols: number, bits = 64): void {
    for (let c = cols; c > 1; c = Math.floor(c / 2) + (c % 2)) {
      this.ltz(`${op}.cmp`, rows * Math.floor(c / 2), bits);
      this.select(`${op}.sel`, rows * Math.floor(c / 2));
    }
  }

  softmax(op: string, rows: number, cols: number, range: Range): void {
    const bits = LTZ_WIDTHS.softmax(this.fracBits);
    this.rowMax(`${op}.max`, rows, cols, bits);
    this.exp(`${op}.exp`, rows * cols, bits);
    this.reciprocal(`${op}.recip`, rows, 2 ** range.lo, range.hi - range.lo);
    this.mulRows(`${op}.norm`, [[rows, cols]]);
    this.truncate(`${op}.norm.trunc`, rows * cols);
  }

  // --- totals --------------------------------------------------------------------------------------------

  /** Bytes sent by all parties, per party, and S0's rounds. */
  total(): { bytes: number; byParty: Partial<Record<PartyId, number>>; rounds: number } {
    const byParty: Partial<Record<PartyId, number>> = {};
    let rounds = 0;
    for (const t of this.labels.values()) {
      rounds += t.rounds;
      for (const [p, b] of Object.entries(t.bytes) as [PartyId, number][]) byParty[p] = (byParty[p] ?? 0) + b;
    }
    return { bytes: Object.values(byParty).reduce((a, b) => a + b, 0), byParty, rounds };
  }
}

/**
 * The traffic of one MpcEncoder.forward of `candidates` prompts (the data owner's command, the forward's label
 * and the prompts, every layer, the head, the logits revealed to the data owner), mirroring ts/model/mpc.ts and
 * mpc-attention.ts.
 */
export function forwardTraffic(spec: MpcSpec, candidates: number, fracBits = FRAC_BITS): Traffic {
  const s = resolveSpec(spec, fracBits);
  const t = new Traffic(fracBits, s.protocols);
  const { examples: B, length: n, promptLength: P, dh } = s;
  const { hidden: H, intermediate: I, heads, layers } = s.config;
  const seqs = candidates * B;
  const T = seqs * n;
  const S = seqs * heads;
  const ln = s.ranges.layerNorm;
  for (let i = 0; i < 3; i++) {
    t.send('cmd', 'data', 2);
    t.send('forward.label', 'data', 4);
  }
  t.input('prompt', 'data', candidates * P * H);
  for (let l = 0; l < layers; l++) {
    const op = `l${l}`;
    t.matmulFixed(`${op}.qkv`, T, H, 3 * H);
    t.truncate(`${op}.qkv.trunc`, T * 3 * H);
    if (s.rfa !== undefined) {
      const a = `${op}.rfa`;
      const D = s.rfa.features;
      // v2 opens q and k once (masked) for |q|², |k|² and the products with rsqrt.
      if (s.protocols === 'v1') t.square(`${a}.norm.sq`, T * 2 * H);
      else t.openRowSquares(`${a}.norm.sq`, T * 2 * heads, dh);
      t.truncate(`${a}.norm.trunc`, T * 2 * heads);
      t.rsqrt(`${a}.norm.rsqrt`, T * 2 * heads, s.ranges.qkNorm);
      t.mulRows(`${a}.scale`, [s.protocols === 'v1' ? [T * 2 * heads, dh] : [T * 2 * heads, dh, 'masked'], [T, heads * (dh + 1)]]);
      t.cosSin(`${a}.cos`, 2 * heads * T * D, s.protocols === 'v1' ? 64 : 2 * fracBits + 4);
      t.truncate(`${a}.cos.trunc`, 4 * heads * T * D, fracBits, s.protocols === 'v1' ? 64 : 2 * fracBits + 4);
      t.matmulMany(`${a}.kv`, Array.from({ length: S }, () => [2 * D, n, dh + 1] as const));
      t.truncate(`${a}.kv.trunc`, S * 2 * D * (dh + 1));
      t.matmulMany(`${a}.qkv`, Array.from({ length: S }, () => [n, 2 * D, dh + 1] as const));
      t.truncate(`${a}.qkv.trunc`, S * n * (dh + 1));
      const den = rfaDenominator(s);
      t.reciprocal(`${a}.den`, S * n, den.floor, den.octaves);
      t.mulRows(`${a}.div`, [[S * n, dh]]);
      if (s.protocols === 'v1') t.truncate(`${a}.div.trunc`, S * n * dh);
    } else {
      const a = `${op}.attn`;
      t.matmulMany(`${a}.scores`, Array.from({ length: S }, () => [n, dh, n] as const));
      t.truncate(`${a}.scores.trunc`, S * n * n);
      t.softmax(`${a}.softmax`, S * n, n, softmaxSumRange(n));
      t.matmulMany(`${a}.pv`, Array.from({ length: S }, () => [n, n, dh] as const));
    }
    t.matmulFixed(`${op}.o`, T, H, H);
    // The context has 2f fractional bits (f after v1's RFA).
    t.truncate(`${op}.o.trunc`, T * H, s.rfa !== undefined && s.protocols === 'v1' ? fracBits : 2 * fracBits);
    t.layerNorm(`${op}.ln1`, T, H, ln);
    // v2: the pre-activation stays at 2f bits (GELU at scale 2), the second product is truncated by 2f.
    t.matmulFixed(`${op}.ffn1`, T, H, I);
    if (s.protocols === 'v1') t.truncate(`${op}.ffn1.trunc`, T * I);
    t.gelu(`${op}.gelu`, T * I, s.protocols === 'v1' ? 1 : 2);
    t.matmulFixed(`${op}.ffn2`, T, I, H);
    t.truncate(`${op}.ffn2.trunc`, T * H, s.protocols === 'v1' ? fracBits : 2 * fracBits);
    t.layerNorm(`${op}.ln2`, T, H, ln);
  }
  t.matmulMany('head.select', Array.from({ length: seqs }, () => [1, n, H] as const));
  if (s.head.kind === 'mlm') {
    t.matmulFixed('head.dense', seqs, H, H);
    t.truncate('head.dense.trunc', seqs * H);
    t.gelu('head.gelu', seqs * H);
    t.layerNorm('head.ln', seqs, H, ln);
    t.matmulFixed('head.dec', seqs, H, s.labels);
  } else {
    t.truncate('head.mean.trunc', seqs * H);
    t.matmulFixed('head.labels', seqs, H, s.labels);
    if (s.head.metric === 'cosine') {
      t.square('head.norm.sq', seqs * H);
      t.truncate('head.norm.trunc', seqs);
      t.rsqrt('head.norm.rsqrt', seqs, s.ranges.poolNorm);
      t.mulRaw('head.cos', seqs * s.labels);
    }
  }
  t.reveal('logits', seqs * s.labels);
  return t;
}

/**
 * The op group of a meter label: the layer component ('l0.qkv', 'l0.gelu', 'l0.ln1', ...), the attention's
 * steps one level deeper ('l0.rfa.norm', 'l0.attn.softmax', ...), the head's steps ('head.gelu'), or the label.
 */
export function opGroup(label: string): string {
  const parts = label.split('.');
  const depth = /^l\d+$/.test(parts[0]!) && (parts[1] === 'rfa' || parts[1] === 'attn') ? 3 : 2;
  return parts.slice(0, depth).join('.');
}

export interface GroupComparison {
  group: string;
  analyticBytes: number;
  meterBytes: number;
  analyticRounds: number;
  meterRounds: number;
}

/**
 * The analytic traffic against the meters of a run (bytes of all parties, S0's rounds), per op group in the
 * order the meter first saw them (groups only one side has are kept: a label the model misses shows up).
 */
export function compareWithMeter(labels: Iterable<[string, LabelTraffic]>, snaps: Partial<Record<PartyId, MeterSnapshot>>): GroupComparison[] {
  const out = new Map<string, GroupComparison>();
  const row = (label: string): GroupComparison => {
    const g = opGroup(label);
    let r = out.get(g);
    if (r === undefined) out.set(g, (r = { group: g, analyticBytes: 0, meterBytes: 0, analyticRounds: 0, meterRounds: 0 }));
    return r;
  };
  for (const [role, snap] of Object.entries(snaps) as [PartyId, MeterSnapshot][]) {
    for (const [label, o] of Object.entries(snap.ops)) {
      const r = row(label);
      r.meterBytes += o.bytesSent;
      if (role === 's0') r.meterRounds += o.rounds;
    }
  }
  for (const [label, t] of labels) {
    const r = row(label);
    r.analyticBytes += Object.values(t.bytes).reduce((a, b) => a + b, 0);
    r.analyticRounds += t.rounds;
  }
  return [...out.values()];
}
