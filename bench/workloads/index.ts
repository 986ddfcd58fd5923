/**
 * The registry of bench workloads. A worker thread or a child process finds its workload here by id, so every
 * workload the bench runs must be listed by `allWorkloads()`; heavy ones carry `heavy: true` and run only with
 * `--full`.
 *
 * Where the transformer workloads go (ts/model/mpc.ts, bench/transformer.ts): add a function returning them
 * to TRANSFORMER_WORKLOADS below. The report already has tables and curves for them; the planned ids are in
 * PLANNED_WORKLOADS, which the report lists as "not yet registered" until a workload with that id exists:
 *   - BERT-base forward, batch 32, seq 128, RFA vs softmax  (group 'transformer', series none)
 *   - one CMA-ES generation of a MiniLM-shaped model        (group 'transformer')
 *   - RoBERTa-large, one layer measured, ×24 extrapolated   (group 'transformer'; params.extrapolatedLayers = 24)
 *   - scaling vs sequence length 32…512 and batch 1…64      (series 'bert-seq' / 'bert-batch', variants 'rfa', 'softmax')
 */
import { microWorkloads } from './micro.js';
import { netWorkloads } from './net.js';
import type { Workload } from './types.js';

export type { PartyContext, PlainBaseline, SeriesPoint, Workload } from './types.js';

/**
 * Functions returning the transformer workloads (each a Workload of types.ts). Import the function at the top
 * of this file and list it here: workers and child processes import only this module.
 */
export const TRANSFORMER_WORKLOADS: Array<() => Workload[]> = [];

/** Workloads the report expects and names as missing until registered. */
export const PLANNED_WORKLOADS: ReadonlyArray<{ id: string; title: string }> = [
  { id: 'bert-base.forward.rfa.b32.n128', title: 'BERT-base forward, batch 32, seq 128, RFA' },
  { id: 'bert-base.forward.softmax.b32.n128', title: 'BERT-base forward, batch 32, seq 128, softmax' },
  { id: 'minilm.cmaes-generation', title: 'one CMA-ES generation (popsize 20 × batch), MiniLM-shaped model' },
  { id: 'roberta-large.layer.rfa', title: 'RoBERTa-large, one layer, RFA (×24 extrapolated)' },
  { id: 'bert.seq-scaling', title: 'scaling vs sequence length 32…512 (RFA vs softmax)' },
  { id: 'bert.batch-scaling', title: 'scaling vs batch 1…64 (RFA vs softmax)' },
];

let cache: Workload[] | undefined;

/** Every registered workload, heavy ones included. */
export function allWorkloads(): Workload[] {
  if (cache !== undefined) return cache;
  const list = [...netWorkloads(), ...microWorkloads(), ...TRANSFORMER_WORKLOADS.flatMap((f) => f())];
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
