/**
 * Run checkpoints: one JSON file, rewritten after every generation by writing a temporary file next to it,
 * fsync-ing it and renaming it over the old one, so a crash at any moment leaves either the previous or the
 * new checkpoint, never a torn one. JSON keeps every float64 exactly (V8 prints the shortest string that
 * parses back to the same double), which is what makes a resumed run bit-identical.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { SecpError } from '../../bindings/errors.js';

export const CHECKPOINT_FORMAT = 'secp-tuning/run' as const;
export const CHECKPOINT_VERSION = 1 as const;

/** Writes `value` as JSON to `path` atomically (temp file + fsync + rename). */
export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const text = `${JSON.stringify(value)}\n`;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w');
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw new SecpError('ERR_CHECKPOINT', `cannot write checkpoint ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads a checkpoint file and checks its format and version. */
export function readCheckpointFile(path: string): Record<string, unknown> {
  if (!existsSync(path)) {
    throw new SecpError('ERR_CHECKPOINT', `no checkpoint at ${path} to resume; start a new run without resume`);
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new SecpError('ERR_CHECKPOINT', `checkpoint ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const v = value as Record<string, unknown>;
  if (v === null || typeof v !== 'object' || v['format'] !== CHECKPOINT_FORMAT) {
    throw new SecpError('ERR_CHECKPOINT', `${path} is not a secp-tuning run checkpoint (format '${CHECKPOINT_FORMAT}')`);
  }
  if (v['version'] !== CHECKPOINT_VERSION) {
    throw new SecpError(
      'ERR_CHECKPOINT',
      `${path} has checkpoint version ${String(v['version'])}; this build reads version ${CHECKPOINT_VERSION}`,
    );
  }
  return v;
}

/**
 * The first place where two JSON values differ, as `path: a vs b`, or null when equal. Used to tell a user
 * exactly which setting differs from the checkpoint's.
 */
export function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  const show = (v: unknown) => {
    const s = JSON.stringify(v);
    return s === undefined ? 'absent' : s.length > 80 ? `${s.slice(0, 77)}...` : s;
  };
  if (a === b) return null;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object' || Array.isArray(a) !== Array.isArray(b)) {
    return `${path || '(root)'}: ${show(a)} vs ${show(b)}`;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path}: ${a.length} entries vs ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(ao), ...Object.keys(bo)])].sort();
  for (const k of keys) {
    const d = firstDifference(ao[k], bo[k], path ? `${path}.${k}` : k);
    if (d) return d;
  }
  return null;
}
