/**
 * One party's side of a bench run, the same in a worker thread and in a child process: join (MPC workloads),
 * untimed set-up, a barrier through the harness (so every party starts the timed part together), the timed
 * part with a fresh meter, then the untimed check and a graceful close.
 */
import { Party } from '../../ts/mpc/party.js';
import type { Link, MeterSnapshot, PartyId, WireStats } from '../../ts/net/index.js';
import type { Ring } from '../../ts/ring/tensor.js';
import type { PartyContext, Workload } from '../workloads/index.js';

/** What S1 received during the timed part, in the order its program asked for it: [from, payload bytes, op label]. */
export type RecvTrace = [PartyId, number, string][];

export interface PartyResult {
  role: PartyId;
  /** S1 only: its receive trace, for the analytic estimate (bench/netem.ts estimateTime). */
  trace?: RecvTrace;
  setupMs: number;
  runMs: number;
  snapshot: MeterSnapshot;
  wire: WireStats;
  metrics?: Record<string, number>;
}

const MPC_ROLES = new Set<PartyId>(['s0', 's1', 'dealer']);

/** Runs `w` as `role`; `barrier` resolves when the harness says go (every party is set up). */
export async function runParty(w: Workload, role: PartyId, link: Link, ring: Ring, barrier: () => Promise<void>): Promise<PartyResult> {
  const t0 = performance.now();
  const party = w.mpc && MPC_ROLES.has(role) ? await Party.join(role as 's0' | 's1' | 'dealer', { ring, link }) : null;
  const ctx: PartyContext = { role, link, ring, backend: ring.backend, party };
  const state = await w.setup(ctx);
  const setupMs = performance.now() - t0;
  await barrier();
  link.meter.reset();
  const trace = role === 's1' ? traceReceives(link) : undefined;
  const t = performance.now();
  await w.run(ctx, state);
  const runMs = performance.now() - t;
  trace?.stop();
  const snapshot = link.meter.snapshot();
  const wire = link.meter.wire();
  const metrics = w.check ? await w.check(ctx, state) : undefined;
  await link.close();
  return { role, setupMs, runMs, snapshot, wire, ...(trace ? { trace: trace.events } : {}), ...(metrics ? { metrics } : {}) };
}

/**
 * Records every recv of `link` (slot taken at call time, bytes filled in on arrival) until stop(). On stop,
 * consecutive messages from the same party other than S0 are merged under the first one's label: they queue on
 * one link, so the estimate (bench/netem.ts) is the same, and the trace stays short.
 */
function traceReceives(link: Link): { events: RecvTrace; stop(): void } {
  const events: RecvTrace = [];
  const recv = link.recv;
  link.recv = (from, op) => {
    const slot: [PartyId, number, string] = [from, 0, op];
    events.push(slot);
    return recv.call(link, from, op).then((b) => {
      slot[1] = b.byteLength;
      return b;
    });
  };
  const stop = (): void => {
    link.recv = recv;
    const merged: RecvTrace = [];
    for (const e of events) {
      const last = merged[merged.length - 1];
      if (last !== undefined && last[0] === e[0] && e[0] !== 's0') last[1] += e[1];
      else merged.push([e[0], e[1], e[2]]);
    }
    events.splice(0, events.length, ...merged);
  };
  return { events, stop };
}
