/**
 * Picks the kernel backend: native addon first, then wasm. `SECP_BACKEND=native|wasm|js` (or the
 * `backend` option) forces one; the plain-JS reference is used only when asked for by name.
 * If nothing loads, the error names every backend tried and chains each failure as `cause`.
 */
import { SecpError } from './errors.js';
import { loadJs } from './js.js';
import { loadNative } from './native.js';
import type { BackendName, KernelBackend } from './types.js';
import { loadWasm } from './wasm-file.js';

export { SecpError } from './errors.js';
export type { ErrorCode } from './errors.js';
export type { BackendName, KernelBackend } from './types.js';
export { instantiateWasm } from './wasm.js';

const loaders: Record<BackendName, () => KernelBackend> = { native: loadNative, wasm: loadWasm, js: loadJs };
const cache = new Map<BackendName, KernelBackend>();

export interface LoadOptions {
  /** 'auto' (default): native, then wasm. A name forces that backend. */
  backend?: BackendName | 'auto';
}

/** Loads (once) and returns the named backend; throws ERR_BACKEND_UNAVAILABLE with the cause. */
export function loadBackendByName(name: BackendName): KernelBackend {
  const hit = cache.get(name);
  if (hit) return hit;
  const loader = loaders[name];
  if (!loader) throw new SecpError('ERR_INVALID_ARGUMENT', `unknown backend "${String(name)}"; use native, wasm or js`);
  try {
    const b = loader();
    cache.set(name, b);
    return b;
  } catch (e) {
    throw new SecpError('ERR_BACKEND_UNAVAILABLE', `the ${name} kernel backend did not load: ${(e as Error).message}`, { cause: e });
  }
}

/** The backend chosen by option, then SECP_BACKEND, then auto (native, falling back to wasm). */
export function loadBackend(opts: LoadOptions = {}): KernelBackend {
  const choice = opts.backend ?? (process.env.SECP_BACKEND as BackendName | 'auto' | undefined) ?? 'auto';
  if (choice !== 'auto') {
    if (!(choice in loaders)) {
      throw new SecpError('ERR_INVALID_ARGUMENT', `unknown backend "${choice}" (from ${opts.backend ? 'the backend option' : 'SECP_BACKEND'}); use native, wasm, js or auto`);
    }
    return loadBackendByName(choice);
  }
  const failures: Error[] = [];
  for (const name of ['native', 'wasm'] as const) {
    try {
      return loadBackendByName(name);
    } catch (e) {
      failures.push(e as Error);
    }
  }
  throw new SecpError(
    'ERR_BACKEND_UNAVAILABLE',
    `no kernel backend could be loaded (tried native, then wasm): ${failures.map((f) => f.message).join('; ')}. ` +
      'Run `npm run build` (or scripts/setup.sh) to build them.',
    { cause: new AggregateError(failures) },
  );
}
