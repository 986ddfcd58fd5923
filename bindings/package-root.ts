/** Where this package is installed (Node only): found from this file, so it works from the sources and from dist/. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The npm name; the per-platform addon packages are `${PACKAGE_NAME}-<platform>` (napi-rs's naming). */
export const PACKAGE_NAME = 'secp-tuning';

/** The nearest folder at or above this file's that holds a package.json. */
export function packageRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return start;
  }
}
