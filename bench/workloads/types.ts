/**
 * What a bench workload is: one program that every party of a session runs (SPMD, as in ts/mpc), split into
 * an untimed set-up (input and weight sharing, fixing weights), a timed part, and an untimed check (reveal to
 * the data owner, compare with a plaintext reference). The harness (bench/harness) runs it with each party in
 * its own worker thread (link model) or its own process in its own network namespace (bench/netns), so a
 * workload must be found again by id inside a worker or a child process: register it in bench/workloads/index.ts.
 */
import type { KernelBackend } from '../../bindings/types.js';
import type { Party } from '../../ts/mpc/party.js';
import type { Link, PartyId } from '../../ts/net/index.js';
import type { Ring } from '../../ts/ring/tensor.js';

export interface PartyContext {
  role: PartyId;
  link: Link;
  ring: Ring;
  backend: KernelBackend;
  /** The MPC party for s0, s1 and the dealer of an MPC workload (after Party.join); null otherwise. */
  party: Party | null;
}

/** A point of a scaling curve: the report draws one line per (series, variant, setting). */
export interface SeriesPoint {
  /** Curve family, e.g. 'attention-seq'. */
  name: string;
  /** Line within the family, e.g. 'rfa' or 'softmax'. */
  variant: string;
  x: number;
  xLabel: string;
}

export interface Workload<S = unknown> {
  /** Unique; a worker or child process looks the workload up by it. */
  id: string;
  /** Table the report puts it in, e.g. 'net', 'micro', 'attention', 'transformer'. */
  group: string;
  title: string;
  /** Only with `--full`. */
  heavy?: boolean;
  /** Whether s0, s1 and the dealer join as MPC parties (Party.join) before set-up. */
  mpc: boolean;
  /** Every party of the session. */
  roles: readonly PartyId[];
  /** Shape parameters, printed in the report. */
  params?: Record<string, number | string>;
  series?: SeriesPoint;
  /** Untimed, every role. */
  setup(ctx: PartyContext): Promise<S>;
  /** Timed, every role; the run's time is the slowest role's. */
  run(ctx: PartyContext, state: S): Promise<void>;
  /** Untimed, after the timed part: e.g. reveal to the data owner, who returns error metrics. */
  check?(ctx: PartyContext, state: S): Promise<Record<string, number> | undefined>;
  /** The same computation in plaintext float32 on one thread, for the MPC/plaintext time ratio. */
  plain?: (be: KernelBackend) => PlainBaseline;
  /** For network patterns: the link model's prediction of the timed part on a setting, in ms. */
  predictMs?: (setting: import('../netem.js').NetworkSetting) => number;
  /**
   * The network settings it runs under besides none (default: all). The report estimates the others from the
   * run without emulation (its compute time plus the link model's network time of its receive trace).
   */
  settings?: readonly import('../netem.js').SettingName[];
  /** Estimated peak memory of a run, bytes: run-all skips (and reports) a workload this machine cannot hold. */
  memoryBytes?: number;
  /** What the timed part sends, by op counts (bench/analytic.ts), for the report's comparison with the meter. */
  analytic?: () => import('../analytic.js').Traffic;
}

export interface PlainBaseline {
  /** Called once per repetition; the bench keeps the best time. */
  run(): void;
}
