/**
 * The browser entry (bindings/browser.ts) in headless Chromium (Debian's /usr/bin/chromium, installed by
 * scripts/setup.sh; driven by playwright-core, which downloads nothing): the page imports dist/bindings/browser.js
 * as served here on 127.0.0.1, loads the wasm module by URL and from bytes, and must give the same words as Node's
 * native and wasm backends for a matmul (straddling the kernel's tile edges) and for the private cosine's local step.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { loadBackendByName } from '../bindings/index.js';
import { loadWasm } from '../bindings/wasm-file.js';
import { cosSinStep } from '../ts/mpc/cosine-step.js';

const CHROMIUM = '/usr/bin/chromium';
const repo = process.cwd();
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };

/** Serves the repo's dist/ and bindings/wasm/ (read-only, nothing else) and a blank page on 127.0.0.1. */
function serve(): Promise<Server> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>secp</title>');
      return;
    }
    const file = normalize(join(repo, path));
    const allowed = [join(repo, 'dist') + sep, join(repo, 'bindings', 'wasm') + sep].some((d) => file.startsWith(d));
    if (!allowed || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Deterministic words covering the whole ring (splitmix64). */
function words(n: number, seed: bigint): BigUint64Array {
  const out = new BigUint64Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = BigInt.asUintN(64, s + 0x9e3779b97f4a7c15n);
    let z = s;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    out[i] = z ^ (z >> 31n);
  }
  return out;
}

const hex = (a: BigUint64Array): string[] => Array.from(a, (v) => v.toString(16));

let server: Server;
let context: BrowserContext;
let profile: string;
test.before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)`);
  server = await serve();
  profile = mkdtempSync(join(tmpdir(), 'secp-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});
test.after.always(async () => {
  await context?.close();
  server?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

test('in Chromium, the browser entry gives the same words as Node for a matmul and the cosine step', async (t) => {
  const page = await context.newPage();
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await page.goto(`${origin}/`);
  const [m, k, n] = [37, 70, 19];
  const a = words(m * k, 1n);
  const b = words(k * n, 2n);
  a[0] = 0xffffffffffffffffn;
  const cells = 300;
  const d = words(cells, 3n);
  const cosT = words(cells, 4n);
  const sinT = words(cells, 5n);
  const publicBits = 16;

  const got = await page.evaluate(async ({ entry, wasmUrl, m, k, n, a, b, d, cosT, sinT, publicBits }) => {
    type Kernels = {
      name: string;
      matmul(a: BigUint64Array, b: BigUint64Array, m: number, k: number, n: number): BigUint64Array;
    };
    type Entry = {
      loadWasmBackend(source?: unknown): Promise<Kernels>;
      cosSinStep(be: Kernels, d: BigUint64Array, c: BigUint64Array, s: BigUint64Array, bits: number): { cos: BigUint64Array; sin: BigUint64Array };
    };
    const lib = (await import(entry)) as Entry;
    const u64 = (xs: string[]): BigUint64Array => BigUint64Array.from(xs, (x) => BigInt(`0x${x}`));
    const out = (xs: BigUint64Array): string[] => Array.from(xs, (v) => v.toString(16));
    const byUrl = await lib.loadWasmBackend();
    const bytes = await (await fetch(wasmUrl)).arrayBuffer();
    const byBytes = await lib.loadWasmBackend(new Uint8Array(bytes));
    let badBytes = '';
    try {
      await lib.loadWasmBackend(new Uint8Array([0, 97, 115, 109, 9]));
    } catch (e) {
      badBytes = String((e as { code?: string }).code);
    }
    const step = lib.cosSinStep(byUrl, u64(d), u64(cosT), u64(sinT), publicBits);
    return {
      name: byUrl.name,
      node: typeof (globalThis as { process?: unknown }).process,
      matmul: out(byUrl.matmul(u64(a), u64(b), m, k, n)),
      matmulFromBytes: out(byBytes.matmul(u64(a), u64(b), m, k, n)),
      cos: out(step.cos),
      sin: out(step.sin),
      badBytes,
    };
  }, { entry: `${origin}/dist/bindings/browser.js`, wasmUrl: `${origin}/bindings/wasm/secp_kernels.wasm`, m, k, n,
    a: hex(a), b: hex(b), d: hex(d), cosT: hex(cosT), sinT: hex(sinT), publicBits });

  t.is(got.name, 'wasm');
  t.is(got.node, 'undefined', 'a real browser page: no Node globals');
  t.is(got.badBytes, 'ERR_BACKEND_UNAVAILABLE');
  for (const be of [loadBackendByName('native'), loadWasm()]) {
    t.deepEqual(got.matmul, hex(be.matmul(a, b, m, k, n)), `matmul: browser vs Node ${be.name}`);
    const step = cosSinStep(be, d, cosT, sinT, publicBits);
    t.deepEqual(got.cos, hex(step.cos), `cos step: browser vs Node ${be.name}`);
    t.deepEqual(got.sin, hex(step.sin), `sin step: browser vs Node ${be.name}`);
  }
  t.deepEqual(got.matmulFromBytes, got.matmul);
  // Not vacuous: the words are not all zero and differ between cos and sin.
  t.true(got.matmul.some((w) => w !== '0'));
  t.notDeepEqual(got.cos, got.sin);
  await page.close();
});
