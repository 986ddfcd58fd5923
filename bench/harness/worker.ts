/** Worker-thread entry of the bench harness (bench/harness/threads.ts): one party of one run. */
import { parentPort, workerData } from 'node:worker_threads';
import { loadBackend } from '../../bindings/index.js';
import { createWorkerLink, type WorkerEndpoint } from '../../ts/net/index.js';
import { Ring } from '../../ts/ring/tensor.js';
import { settingFor, linkOptionsOf, type LatencyReading, type SettingName } from '../netem.js';
import { findWorkload } from '../workloads/index.js';
import { runParty } from './party.js';

export interface WorkerInput {
  workload: string;
  session: string;
  ep: WorkerEndpoint;
  /** null: no link model (compute and in-process transport only). */
  setting: SettingName | null;
  reading: LatencyReading;
  fracBits: number;
}

const input = workerData as WorkerInput;
const port = parentPort!;

async function main(): Promise<void> {
  const w = findWorkload(input.workload);
  const opts = input.setting === null ? { recvTimeoutMs: 30 * 60_000 } : linkOptionsOf(settingFor(input.setting, input.reading));
  const link = createWorkerLink(input.session, input.ep, opts);
  const ring = new Ring({ backend: loadBackend(), fracBits: input.fracBits });
  const barrier = (): Promise<void> =>
    new Promise((resolve) => {
      port.once('message', () => resolve());
      port.postMessage({ type: 'ready' });
    });
  const result = await runParty(w, input.ep.self, link, ring, barrier);
  port.postMessage({ type: 'result', result });
}

main().catch((e: unknown) => {
  const err = e as Error;
  port.postMessage({ type: 'error', message: `${input.ep.self}: ${err.message}`, stack: err.stack });
});
