/** Runs an MPC program on S0, S1 and the dealer (plus the data owner) over an in-process network. */
import type { KernelBackend } from '../bindings/types.js';
import { InputParty, input, reveal } from '../ts/mpc/io.js';
import { Party, type Role } from '../ts/mpc/party.js';
import { Shared as SharedTensor, type Shared } from '../ts/mpc/shared.js';
import { createLocalNetwork } from '../ts/net/local.js';
import type { Link } from '../ts/net/types.js';
import { Ring } from '../ts/ring/tensor.js';
import { backend } from './helpers.js';

export interface Run<T> {
  /** What the data owner received (the revealed outputs, decoded). */
  outputs: Float64Array[];
  /** Each server's return value. */
  results: Record<'s0' | 's1', T>;
  links: Map<string, Link>;
  /** Words each server received in openings, by op label (for uniformity checks). */
  opened: Record<'s0' | 's1', Map<string, BigUint64Array[]>>;
}

export interface Program<T> {
  /** Plaintext inputs the data owner shares, in order (each with its shape). */
  inputs: Array<{ values: Float64Array; shape: number[] }>;
  /** The servers' and the dealer's program; returns what to reveal to the data owner. */
  run: (p: Party, xs: Shared[]) => Promise<{ reveal: Shared[]; result?: T }>;
  /** Output sizes revealed (element counts), in order. */
  outputSizes: number[];
  /** Output fractional bits (default: the ring's). */
  outputBits?: number[];
  backendName?: 'native' | 'wasm' | 'js';
  fracBits?: number;
  onMask?: (op: string, role: Role, position: number, words: number) => void;
}

export async function runMpc<T = void>(prog: Program<T>): Promise<Run<T>> {
  const be: KernelBackend = backend(prog.backendName ?? 'native');
  const ring = new Ring({ backend: be, fracBits: prog.fracBits ?? 16 });
  const links = createLocalNetwork('test', ['s0', 's1', 'dealer', 'data']);
  const opened = { s0: new Map<string, BigUint64Array[]>(), s1: new Map<string, BigUint64Array[]>() };
  for (const role of ['s0', 's1'] as const) {
    const link = links.get(role)!;
    const recv = link.recv.bind(link);
    link.recv = async (from, op) => {
      const b = await recv(from, op);
      if (from === 's0' || from === 's1') {
        const list = opened[role].get(op) ?? [];
        list.push(new BigUint64Array(b.slice().buffer));
        opened[role].set(op, list);
      }
      return b;
    };
  }
  const server = async (role: Role): Promise<T | undefined> => {
    const p = await Party.join(role, { ring, link: links.get(role)!, onMask: prog.onMask });
    const xs: Shared[] = [];
    for (const [i, x] of prog.inputs.entries()) xs.push(await input(p, 'data', `in${i}`, x.shape));
    const { reveal: outs, result } = await prog.run(p, xs);
    outs.forEach((o, i) => reveal(p, 'data', `out${i}`, o));
    return result;
  };
  const owner = async (): Promise<Float64Array[]> => {
    const d = new InputParty(links.get('data')!, be);
    prog.inputs.forEach((x, i) => d.share(`in${i}`, be.encode(x.values, ring.fracBits)));
    const outs: Float64Array[] = [];
    for (const [i, n] of prog.outputSizes.entries()) {
      outs.push(be.decode(await d.receive(`out${i}`, n), prog.outputBits?.[i] ?? ring.fracBits));
    }
    return outs;
  };
  const [r0, r1, , outputs] = await Promise.all([server('s0'), server('s1'), server('dealer'), owner()]);
  return { outputs, results: { s0: r0 as T, s1: r1 as T }, links, opened };
}

/** Raw ring values split into two shares (S0: x − 77, S1: 77; any split works); the dealer gets none. */
export function splitRaw(p: Party, xs: BigUint64Array): Shared {
  const other = new BigUint64Array(xs.length).fill(77n);
  const share = p.isDealer ? null : p.index === 0 ? p.ring.backend.sub(xs, other) : other;
  return new SharedTensor([xs.length], share);
}

/** Chi-square statistic of the top `bits` bits of words against the uniform distribution. */
export function chiSquareTopBits(words: BigUint64Array, bits = 4): number {
  const bins = 1 << bits;
  const counts = new Array<number>(bins).fill(0);
  for (const w of words) counts[Number(w >> BigInt(64 - bits))]!++;
  const expect = words.length / bins;
  return counts.reduce((s, c) => s + (c - expect) ** 2 / expect, 0);
}
