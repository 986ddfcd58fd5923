/**
 * The pure half of `npm run bench:crypten` (bench/crypten.ts): reading what bench/crypten/layer.py printed,
 * and the CrypTen / ours ratios. No I/O here, so the unit test (test/bench-crypten.test.ts) runs without CrypTen.
 */

/** One BERT-base layer in CrypTen, as bench/crypten/layer.py reports it. */
export interface CryptenLayer {
  crypten: string;
  torch: string;
  provider: string;
  gelu: 'erf' | 'tanh';
  shape: { hidden: number; heads: number; intermediate: number; batch: number; seq: number };
  /** The slower party's wall-clock seconds. */
  seconds: number;
  /** Both parties' CPU seconds. */
  cpu: number;
  /** Bytes the two parties sent (CrypTen's per-party sent + received counts, summed and halved). */
  bytes: number;
  /** Party 0's rounds (collective calls). */
  rounds: number;
  /** Largest |CrypTen - float64| over the layer's output, and the output's largest |value|. */
  maxAbsError: number;
  refMaxAbs: number;
}

/** One layer of ours (layer 0 of a one-layer forward), from the meters of all parties. */
export interface OurLayer {
  seconds: number;
  /** This process's CPU seconds over the layer (every party and thread). */
  cpu: number;
  /** Bytes S0 and S1 sent. */
  online: number;
  /** Bytes the dealer sent. */
  dealer: number;
  /** S0's rounds. */
  rounds: number;
}

/** How many times more CrypTen spends than we do. */
export interface Ratios {
  time: number;
  cpu: number;
  /** CrypTen's bytes over our S0 + S1 bytes (CrypTen's default provider has no dealer traffic). */
  online: number;
  /** CrypTen's bytes over our S0 + S1 + dealer bytes. */
  withDealer: number;
  rounds: number;
}

const num = (o: Record<string, unknown>, k: string, where: string): number => {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`${where}: '${k}' is ${JSON.stringify(v)}, expected a number >= 0`);
  return v;
};
const str = (o: Record<string, unknown>, k: string, where: string): string => {
  const v = o[k];
  if (typeof v !== 'string' || v === '') throw new Error(`${where}: '${k}' is ${JSON.stringify(v)}, expected a string`);
  return v;
};

/**
 * The result in layer.py's output: its last line that is a JSON object (CrypTen and torch may print warnings
 * before it). Throws, naming the field, when the result is missing or a field is absent or not a number.
 */
export function parseCryptenResult(stdout: string): CryptenLayer {
  const where = 'crypten result';
  const line = stdout
    .split('\n')
    .map((l) => l.trim())
    .reverse()
    .find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`${where}: no JSON line in the output of bench/crypten/layer.py`);
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch (err) {
    throw new Error(`${where}: its last JSON line does not parse (${(err as Error).message})`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new Error(`${where}: not a JSON object`);
  const r = o as Record<string, unknown>;
  const s = r.shape;
  if (typeof s !== 'object' || s === null) throw new Error(`${where}: 'shape' is missing`);
  const sh = s as Record<string, unknown>;
  const gelu = str(r, 'gelu', where);
  if (gelu !== 'erf' && gelu !== 'tanh') throw new Error(`${where}: 'gelu' is ${JSON.stringify(gelu)}, expected erf or tanh`);
  return {
    crypten: str(r, 'crypten', where),
    torch: str(r, 'torch', where),
    provider: str(r, 'provider', where),
    gelu,
    shape: {
      hidden: num(sh, 'hidden', `${where} shape`),
      heads: num(sh, 'heads', `${where} shape`),
      intermediate: num(sh, 'intermediate', `${where} shape`),
      batch: num(sh, 'batch', `${where} shape`),
      seq: num(sh, 'seq', `${where} shape`),
    },
    seconds: num(r, 'seconds', where),
    cpu: num(r, 'cpu', where),
    bytes: num(r, 'bytes', where),
    rounds: num(r, 'rounds', where),
    maxAbsError: num(r, 'maxAbsError', where),
    refMaxAbs: num(r, 'refMaxAbs', where),
  };
}

/** CrypTen's cost over ours; a zero of ours gives Infinity (e.g. 0 dealer bytes would not divide). */
export function ratios(c: CryptenLayer, o: OurLayer): Ratios {
  return {
    time: c.seconds / o.seconds,
    cpu: c.cpu / o.cpu,
    online: c.bytes / o.online,
    withDealer: c.bytes / (o.online + o.dealer),
    rounds: c.rounds / o.rounds,
  };
}

/** Left-aligned first column, right-aligned others, two spaces apart. */
export function table(rows: readonly (readonly string[])[]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')).join('\n');
}
