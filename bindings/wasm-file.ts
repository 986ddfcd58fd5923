/** The wasm backend in Node: reads the module shipped in the package and hands its bytes to THE loader (wasm.ts). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SecpError } from './errors.js';
import { packageRoot } from './package-root.js';
import type { KernelBackend } from './types.js';
import { instantiateWasm } from './wasm.js';

/** Where scripts/build-wasm.sh puts the module, relative to the package root (shipped in the npm package). */
export const WASM_FILE = 'bindings/wasm/secp_kernels.wasm';

/** Loads the wasm backend from `path` (default: WASM_FILE under the package root). */
export function loadWasm(path?: string): KernelBackend {
  const file = path ?? join(packageRoot(), WASM_FILE);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new SecpError('ERR_BACKEND_UNAVAILABLE', `cannot read the wasm module ${file} (run npm run build:wasm): ${(e as Error).message}`, { cause: e });
  }
  return instantiateWasm(bytes);
}
