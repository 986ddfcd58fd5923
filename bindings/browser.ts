/**
 * The kernels in browsers, web workers and edge runtimes: the package's `browser` export of
 * `secp-tuning/bindings` (also importable by name as `secp-tuning/bindings/browser`). No Node APIs: the
 * wasm module's bytes are fetched (default: the module shipped in the package, located from this file's URL,
 * which bundlers understand) or handed in, and go to the same loader Node uses (wasm.ts `instantiateWasm`),
 * so every kernel of KernelBackend exists here too, bit-identical to Node's.
 *
 *   import { loadWasmBackend } from 'secp-tuning/bindings';
 *   const be = await loadWasmBackend();                      // or: await loadWasmBackend(bytesOrUrlOrResponse)
 *   const c = be.matmul(a, b, m, k, n);
 */
import { SecpError } from './errors.js';
import type { KernelBackend } from './types.js';
import { instantiateWasm } from './wasm.js';

export { SecpError, type ErrorCode } from './errors.js';
export type { BackendName, KernelBackend } from './types.js';
export { instantiateWasm } from './wasm.js';
export { cosSinStep } from '../ts/mpc/cosine-step.js';

/** Something with the module's bytes: the bytes themselves, a fetch Response, or a URL to fetch. */
export type WasmSource = Uint8Array | ArrayBuffer | { arrayBuffer(): Promise<ArrayBuffer> } | URL | string;

/** The fetch of browsers and edge runtimes (tsconfig's lib has no DOM types). */
type Fetch = (url: string) => Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer> }>;

/** The module shipped in the package, next to this file's dist/bindings/ folder. */
export const WASM_URL = new URL('../../bindings/wasm/secp_kernels.wasm', import.meta.url);

/** Loads the wasm kernel backend from `source` (default WASM_URL); ERR_BACKEND_UNAVAILABLE if it cannot. */
export async function loadWasmBackend(source: WasmSource = WASM_URL): Promise<KernelBackend> {
  if (source instanceof Uint8Array) return instantiateWasm(source);
  if (source instanceof ArrayBuffer) return instantiateWasm(new Uint8Array(source));
  if (typeof source === 'string' || source instanceof URL) {
    const url = String(source);
    const fetch = (globalThis as unknown as { fetch?: Fetch }).fetch;
    if (!fetch) throw new SecpError('ERR_BACKEND_UNAVAILABLE', `no fetch in this runtime to get ${url}; pass the module's bytes instead`);
    let res: Awaited<ReturnType<Fetch>>;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new SecpError('ERR_BACKEND_UNAVAILABLE', `cannot fetch the wasm module ${url}: ${(e as Error).message}`, { cause: e });
    }
    if (!res.ok) throw new SecpError('ERR_BACKEND_UNAVAILABLE', `cannot fetch the wasm module ${url}: HTTP ${res.status}`);
    return instantiateWasm(new Uint8Array(await res.arrayBuffer()));
  }
  if (source && typeof (source as { arrayBuffer?: unknown }).arrayBuffer === 'function') {
    return instantiateWasm(new Uint8Array(await source.arrayBuffer()));
  }
  throw new SecpError('ERR_INVALID_ARGUMENT', 'the wasm source must be bytes (Uint8Array, ArrayBuffer), a Response or a URL');
}
