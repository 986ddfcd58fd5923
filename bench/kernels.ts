/**
 * Kernel bench: native vs wasm vs plain JS, measured side by side in one run.
 *   npm run bench:kernels [-- --quick]
 * Prints, for a 512×768×768 u64 matmul, a 1M-element PRG fill and a 1M-element encode, the best-of-N
 * time of each backend and the ratios native/wasm and native/JS, plus GMAC/s against the machine's
 * scalar limit (cores × clock × 1 MAC/cycle).
 */
import { cpus } from 'node:os';
import { readFileSync } from 'node:fs';
import { loadBackendByName } from '../bindings/index.js';
import { loadJs } from '../bindings/js.js';
import type { KernelBackend } from '../bindings/types.js';

const quick = process.argv.includes('--quick');
const [M, K, N] = quick ? [128, 256, 256] : [512, 768, 768];
const ELEMS = quick ? 1 << 16 : 1 << 20;

function best(reps: number, f: () => void): number {
  let b = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    f();
    b = Math.min(b, performance.now() - t);
  }
  return b;
}

/** The ikj loop with the row accumulated in a BigUint64Array (stores wrap mod 2^64): the fastest plain JS we know. */
function jsTunedMatmul(a: BigUint64Array, b: BigUint64Array, m: number, k: number, n: number): BigUint64Array {
  const out = new BigUint64Array(m * n);
  for (let i = 0; i < m; i++) {
    const row = out.subarray(i * n, (i + 1) * n);
    for (let t = 0; t < k; t++) {
      const av = a[i * k + t]!;
      const off = t * n;
      for (let j = 0; j < n; j++) row[j]! += av * b[off + j]!;
    }
  }
  return out;
}

function clockGHz(): number {
  const m = /cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return m ? Number(m[1]) / 1000 : cpus()[0]!.speed / 1000;
}

const js = loadJs();
const backends: KernelBackend[] = [loadBackendByName('native'), loadBackendByName('wasm'), js];
const key = new Uint8Array(32).fill(7);
const nonce = new Uint8Array(12);
const a = js.prgFill(key, nonce, 0, new BigUint64Array(M * K));
const b = js.prgFill(key, nonce, 100000, new BigUint64Array(K * N));
const reals = Float64Array.from(js.prgFill(key, nonce, 200000, new BigUint64Array(ELEMS)), (x) => Number(x >> 11n) / 2 ** 40 - 4096);

const macs = M * K * N;
const rows: Array<{ op: string; times: Record<string, number> }> = [];
const ref = js.matmul(a, b, M, K, N);
const mm: Record<string, number> = {};
for (const be of backends) {
  const reps = be.name === 'js' ? 1 : 5;
  let out: BigUint64Array = new BigUint64Array(0);
  mm[be.name] = best(reps, () => { out = be.matmul(a, b, M, K, N); });
  if (!out.every((v, i) => v === ref[i])) throw new Error(`${be.name} matmul disagrees with the reference`);
}
let tuned: BigUint64Array = new BigUint64Array(0);
mm['js-tuned'] = best(2, () => { tuned = jsTunedMatmul(a, b, M, K, N); });
if (!tuned.every((v, i) => v === ref[i])) throw new Error('tuned JS matmul disagrees with the reference');
rows.push({ op: `matmul ${M}x${K}x${N}`, times: mm });

const prg: Record<string, number> = {};
const enc: Record<string, number> = {};
for (const be of backends) {
  const reps = be.name === 'js' ? 2 : 10;
  const buf = new BigUint64Array(ELEMS);
  prg[be.name] = best(reps, () => be.prgFill(key, nonce, 0, buf));
  enc[be.name] = best(reps, () => be.encode(reals, 16));
}
rows.push({ op: `PRG fill ${ELEMS}`, times: prg }, { op: `encode ${ELEMS}`, times: enc });

const ghz = clockGHz();
const cores = cpus().length;
console.log(`machine: ${cpus()[0]!.model}, ${cores} cores at ${ghz.toFixed(2)} GHz; node ${process.version}`);
console.log('js = the plain-JS BigInt reference backend (textbook loops); js-tuned = ikj loop with wrapping BigUint64Array stores\n');
const fmt = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(1));
console.log(['op', 'native ms', 'wasm ms', 'js ms', 'js-tuned ms', 'native/wasm', 'native/js', 'wasm/js', 'native/js-tuned', 'wasm/js-tuned'].join(' | '));
for (const { op, times: t } of rows) {
  const r = (x: number | undefined, y: number | undefined): string => (x && y ? `${(y / x).toFixed(1)}x` : '-');
  console.log([op, fmt(t.native), fmt(t.wasm), fmt(t.js), fmt(t['js-tuned']), r(t.native, t.wasm), r(t.native, t.js), r(t.wasm, t.js),
    r(t.native, t['js-tuned']), r(t.wasm, t['js-tuned'])].join(' | '));
}
const g = (ms: number): string => (macs / (ms * 1e6)).toFixed(2);
console.log(`\nmatmul GMAC/s: native ${g(mm.native!)}, wasm ${g(mm.wasm!)}, js ${g(mm.js!)}, js-tuned ${g(mm['js-tuned']!)}; ` +
  `scalar limit ${cores} cores × ${ghz.toFixed(2)} GHz × 1 MAC/cycle = ${(cores * ghz).toFixed(2)} GMAC/s`);
console.log(`targets: native ≥ 20× js: ${mm.js! / mm.native! >= 20 ? 'met' : 'NOT met'}; wasm ≥ 4× js: ${mm.js! / mm.wasm! >= 4 ? 'met' : 'NOT met'}`);
