/**
 * The registry of bench workloads. A worker thread or a child process finds its workload here by id, so every
 * workload the bench runs must be listed by `allWorkloads()`; heavy ones carry `heavy: true` and run only with
 * `--full`.
 */
import { microWorkloads } from './micro.js';
import { netWorkloads } from './net.js';
import { transformerWorkloads } from './transformer.js';
import type { Workload } from './types.js';

export type { PartyContext, PlainBaseline, SeriesPoint, Workload } from './types.js';

let cache: Workload[] | undefined;

/** Every registered workload, heavy ones included. */
export function allWorkloads(): Workload[] {
  if (cache !== undefined) return cache;
  const list = [...netWorkloads(), ...microWorkloads(), ...transformerWorkloads()];
  const seen = new Set<string>();
  for (const w of list) {
    if (seen.has(w.id)) throw new Error(`two bench workloads share the id ${w.id}`);
    seen.add(w.id);
  }
  return (cache = list);
}

export function findWorkload(id: string): Workload {
  const w = allWorkloads().find((x) => x.id === id);
  if (w === undefined) throw new Error(`no bench workload with id ${JSON.stringify(id)} (registered: ${allWorkloads().map((x) => x.id).join(', ')})`);
  return w;
}
