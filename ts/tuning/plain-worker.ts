/**
 * Worker thread of the plaintext evaluator: loads its own copy of the model, then answers
 * {id, split, prompts, from, to} with the logits of pairs [from, to) (see evaluatePairs).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadModel } from '../model/config.js';
import { PlainEncoder } from '../model/plain.js';
import { evaluatePairs, type WorkerSetup } from './plain-evaluator.js';
import type { Split } from './evaluator.js';

const port = parentPort!;
const setup = workerData as WorkerSetup;

try {
  const model = loadModel(setup.modelDir);
  const fwd = new PlainEncoder(model, { attention: setup.attention, rfa: setup.rfa });
  port.on('message', (m: { id: number; split: Split; prompts: Float64Array[]; from: number; to: number }) => {
    try {
      const batch = setup.batches[m.split]!;
      const logits = evaluatePairs(fwd, setup.head, batch, m.prompts, setup.promptMode, m.from, m.to);
      port.postMessage({ id: m.id, logits }, [logits.buffer as ArrayBuffer]);
    } catch (err) {
      port.postMessage({ id: m.id, error: (err as Error).message, code: (err as { code?: string }).code });
    }
  });
  port.postMessage({ ready: true });
} catch (err) {
  port.postMessage({ fatal: (err as Error).message, code: (err as { code?: string }).code });
}
