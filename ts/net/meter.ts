/**
 * Traffic metering of one party. Bytes are payload bytes (body.byteLength) so that every transport
 * reports the same numbers for the same protocol; framing overhead of a real wire (TCP) is kept apart
 * in `wire()`. Rounds are counted by the protocol layer (`round(op)` once per communication round), not
 * inferred from messages, because one round may carry several messages to several peers.
 *
 * Op and peer entries appear in the order a program first touches them (send, recv call or round),
 * which does not depend on network timing, so snapshots of the same run compare equal across transports.
 */
import type { PartyId } from './types.js';

export interface TrafficStats {
  msgsSent: number;
  msgsReceived: number;
  bytesSent: number;
  bytesReceived: number;
}

export interface OpStats extends TrafficStats {
  rounds: number;
}

export interface MeterSnapshot {
  /** Sum over all op labels. */
  total: OpStats;
  /** Per op label, in order of first use. */
  ops: Record<string, OpStats>;
  /** Per peer, in order of first use. */
  peers: Partial<Record<PartyId, TrafficStats>>;
}

/** What a real wire carried: whole frames including prefix, header and control frames (TCP only). */
export interface WireStats {
  framesSent: number;
  framesReceived: number;
  bytesSent: number;
  bytesReceived: number;
}

const zeroTraffic = (): TrafficStats => ({ msgsSent: 0, msgsReceived: 0, bytesSent: 0, bytesReceived: 0 });
const zeroOp = (): OpStats => ({ rounds: 0, ...zeroTraffic() });
const zeroWire = (): WireStats => ({ framesSent: 0, framesReceived: 0, bytesSent: 0, bytesReceived: 0 });

export class Meter {
  private ops = new Map<string, OpStats>();
  private peers = new Map<PartyId, TrafficStats>();
  private wireStats = zeroWire();

  /** Counts `n` communication rounds of `op`; called by the protocol layer. */
  round(op: string, n = 1): void {
    this.op(op).rounds += n;
  }

  /** Called by a link when it sends a message. */
  countSent(to: PartyId, op: string, bytes: number): void {
    const o = this.op(op);
    const p = this.peer(to);
    o.msgsSent++;
    o.bytesSent += bytes;
    p.msgsSent++;
    p.bytesSent += bytes;
  }

  /** Called by a link when `recv` is called, so that the entry order follows the program. */
  touchReceive(from: PartyId, op: string): void {
    this.op(op);
    this.peer(from);
  }

  /** Called by a link when a message is handed to `recv`. */
  countReceived(from: PartyId, op: string, bytes: number): void {
    const o = this.op(op);
    const p = this.peer(from);
    o.msgsReceived++;
    o.bytesReceived += bytes;
    p.msgsReceived++;
    p.bytesReceived += bytes;
  }

  /** Called by a wire transport for every frame it writes. */
  countWireSent(bytes: number): void {
    this.wireStats.framesSent++;
    this.wireStats.bytesSent += bytes;
  }

  /** Called by a wire transport for every frame it reads. */
  countWireReceived(bytes: number): void {
    this.wireStats.framesReceived++;
    this.wireStats.bytesReceived += bytes;
  }

  /** A deep copy of the payload counters. */
  snapshot(): MeterSnapshot {
    const total = zeroOp();
    const ops: Record<string, OpStats> = {};
    for (const [k, v] of this.ops) {
      ops[k] = { ...v };
      addOp(total, v);
    }
    const peers: MeterSnapshot['peers'] = {};
    for (const [k, v] of this.peers) peers[k] = { ...v };
    return { total, ops, peers };
  }

  /** Wire-level counters; all zero for in-process and worker transports. */
  wire(): WireStats {
    return { ...this.wireStats };
  }

  reset(): void {
    this.ops.clear();
    this.peers.clear();
    this.wireStats = zeroWire();
  }

  /** A printable per-op table of this party's traffic. */
  table(): string {
    return formatMeterTable(this.snapshot(), this.wire());
  }

  private op(op: string): OpStats {
    let o = this.ops.get(op);
    if (o === undefined) this.ops.set(op, (o = zeroOp()));
    return o;
  }

  private peer(p: PartyId): TrafficStats {
    let s = this.peers.get(p);
    if (s === undefined) this.peers.set(p, (s = zeroTraffic()));
    return s;
  }
}

function addOp(into: OpStats, v: OpStats): void {
  into.rounds += v.rounds;
  into.msgsSent += v.msgsSent;
  into.msgsReceived += v.msgsReceived;
  into.bytesSent += v.bytesSent;
  into.bytesReceived += v.bytesReceived;
}

/**
 * Sums snapshots of several parties (e.g. all parties of a run) into one. Rounds are summed too; for a
 * run-level round count take one server's snapshot instead, since both servers count the same rounds.
 */
export function mergeSnapshots(...snaps: MeterSnapshot[]): MeterSnapshot {
  const total = zeroOp();
  const ops: Record<string, OpStats> = {};
  const peers: MeterSnapshot['peers'] = {};
  for (const s of snaps) {
    addOp(total, s.total);
    for (const [k, v] of Object.entries(s.ops)) addOp((ops[k] ??= zeroOp()), v);
    for (const [k, v] of Object.entries(s.peers) as [PartyId, TrafficStats][]) {
      const p = (peers[k] ??= zeroTraffic());
      p.msgsSent += v.msgsSent;
      p.msgsReceived += v.msgsReceived;
      p.bytesSent += v.bytesSent;
      p.bytesReceived += v.bytesReceived;
    }
  }
  return { total, ops, peers };
}

/** Formats a snapshot as a fixed-width table: op, rounds, msgs out/in, bytes sent/received. */
export function formatMeterTable(snap: MeterSnapshot, wire?: WireStats): string {
  const head = ['op', 'rounds', 'msgs out', 'msgs in', 'bytes sent', 'bytes received'];
  const row = (name: string, s: OpStats): string[] => [name, fmt(s.rounds), fmt(s.msgsSent), fmt(s.msgsReceived), fmt(s.bytesSent), fmt(s.bytesReceived)];
  const rows = Object.entries(snap.ops).map(([k, v]) => row(k, v));
  const total = row('total', snap.total);
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length), total[i]!.length));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join('  ');
  const rule = width.map((w) => '-'.repeat(w)).join('  ');
  const out = [line(head), rule, ...rows.map(line), rule, line(total)];
  if (wire !== undefined && (wire.framesSent > 0 || wire.framesReceived > 0)) {
    out.push(`wire: ${fmt(wire.framesSent)} frames / ${fmt(wire.bytesSent)} bytes sent, ${fmt(wire.framesReceived)} frames / ${fmt(wire.bytesReceived)} bytes received (framing included)`);
  }
  return out.join('\n');
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}
