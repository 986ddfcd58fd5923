/**
 * Network patterns between S0 and S1 with no computation, to check the link model (ts/net, bench/netem.ts)
 * against a real kernel link (bench/netns):
 *   exchange:  both send `bytes` at once, then each waits for the other's (what Party.open does);
 *              the model predicts rounds · (oneWay + 8·bytes/bw).
 *   ping-pong: S0 sends `bytes`, S1 answers with `bytes`; the model predicts rounds · 2 · (oneWay + 8·bytes/bw).
 * S0 keeps the time of every round; the check reports the first round and the mean of the others (the first
 * round of a fresh TCP connection pays for slow start, which the model leaves out). Rounds are metered as the
 * MPC layer does (one per exchange; two per ping-pong, whose messages travel one after the other), so
 * estimateTime gives the same figure as predictMs, up to the serialisation of the ping (S1's meter sees the
 * bytes it sends only).
 */
import { exchangeMs, pingPongMs } from '../netem.js';
import type { PartyContext, Workload } from './types.js';

interface State {
  body: Uint8Array;
  times: number[];
}

function fmtBytes(n: number): string {
  return n >= 1 << 20 ? `${n / (1 << 20)} MiB` : n >= 1024 ? `${n / 1024} KiB` : `${n} B`;
}

function roundMetrics(ctx: PartyContext, s: State): Promise<Record<string, number> | undefined> {
  if (ctx.role !== 's0' || s.times.length === 0) return Promise.resolve(undefined);
  const rest = s.times.slice(1);
  const restMs = rest.reduce((a, b) => a + b, 0);
  return Promise.resolve({ firstRoundMs: s.times[0]!, restMs, meanRestRoundMs: rest.length > 0 ? restMs / rest.length : s.times[0]! });
}

export function exchangeWorkload(bytes: number, rounds: number): Workload<State> {
  return {
    id: `net.exchange.${bytes}x${rounds}`,
    group: 'net',
    title: `exchange ${fmtBytes(bytes)} each way × ${rounds}`,
    mpc: false,
    roles: ['s0', 's1'],
    params: { bytes, rounds, pattern: 'exchange' },
    async setup() {
      return { body: new Uint8Array(bytes).fill(0x5a), times: [] };
    },
    async run(ctx, s) {
      const peer = ctx.role === 's0' ? 's1' : 's0';
      for (let r = 0; r < rounds; r++) {
        const t = performance.now();
        ctx.link.send(peer, 'x', s.body);
        ctx.link.meter.round('x');
        const got = await ctx.link.recv(peer, 'x');
        if (got.byteLength !== bytes) throw new Error(`exchange: got ${got.byteLength} bytes, expected ${bytes}`);
        s.times.push(performance.now() - t);
      }
    },
    check: roundMetrics,
    predictMs: (setting) => exchangeMs(rounds, bytes, setting),
  };
}

export function pingPongWorkload(bytes: number, rounds: number): Workload<State> {
  return {
    id: `net.pingpong.${bytes}x${rounds}`,
    group: 'net',
    title: `ping-pong ${fmtBytes(bytes)} × ${rounds}`,
    mpc: false,
    roles: ['s0', 's1'],
    params: { bytes, rounds, pattern: 'ping-pong' },
    async setup() {
      return { body: new Uint8Array(bytes).fill(0xa5), times: [] };
    },
    async run(ctx, s) {
      for (let r = 0; r < rounds; r++) {
        if (ctx.role === 's0') {
          const t = performance.now();
          ctx.link.send('s1', 'ping', s.body);
          await ctx.link.recv('s1', 'pong');
          s.times.push(performance.now() - t);
        } else {
          await ctx.link.recv('s0', 'ping');
          ctx.link.send('s0', 'pong', s.body);
        }
        ctx.link.meter.round('ping');
        ctx.link.meter.round('pong');
      }
    },
    check: roundMetrics,
    predictMs: (setting) => pingPongMs(rounds, bytes, setting),
  };
}

/** The patterns of the link-model check (docs/benchmarks.md). */
export function netWorkloads(): Workload[] {
  return [exchangeWorkload(1 << 20, 20), exchangeWorkload(8, 100), pingPongWorkload(8, 100)] as Workload[];
}
