/**
 * Child-process entry of the netns runner (bench/netns/run.ts): one party of one run, started inside its own
 * network namespace by `ip netns exec`, meshed with the others by connectTcp over the emulated links.
 * Talks to the runner by lines: stdout "@ready", then waits for "go" on stdin; then "@result {json}" or
 * "@error {json}".
 */
import { createInterface } from 'node:readline';
import { loadBackend } from '../../bindings/index.js';
import { connectTcp, listenTcp, type PartyId, type TcpAddress } from '../../ts/net/index.js';
import { Ring } from '../../ts/ring/tensor.js';
import { runParty } from '../harness/party.js';
import { findWorkload } from '../workloads/index.js';

export interface NetnsPartyInput {
  workload: string;
  role: PartyId;
  roles: PartyId[];
  session: string;
  addresses: Partial<Record<PartyId, TcpAddress>>;
  fracBits: number;
}

const input = JSON.parse(process.argv[2] ?? '{}') as NetnsPartyInput;
const lines = createInterface({ input: process.stdin });
const waiting: (() => void)[] = [];
lines.on('line', (l) => {
  if (l.trim() === 'go') waiting.shift()?.();
});

function say(tag: string, body?: unknown): void {
  process.stdout.write(body === undefined ? `@${tag}\n` : `@${tag} ${JSON.stringify(body)}\n`);
}

async function main(): Promise<void> {
  const w = findWorkload(input.workload);
  const me = input.addresses[input.role]!;
  const listener = await listenTcp({ host: me.host, port: me.port });
  const link = await connectTcp({
    self: input.role,
    session: input.session,
    parties: input.roles,
    listener,
    addresses: input.addresses,
    connectTimeoutMs: 60_000,
    recvTimeoutMs: 30 * 60_000,
  });
  const ring = new Ring({ backend: loadBackend(), fracBits: input.fracBits });
  const barrier = (): Promise<void> =>
    new Promise((resolve) => {
      waiting.push(resolve);
      say('ready');
    });
  const result = await runParty(w, input.role, link, ring, barrier);
  say('result', result);
  lines.close();
}

main().catch((e: unknown) => {
  const err = e as Error;
  say('error', { message: `${input.role}: ${err.message}`, stack: err.stack });
  process.exitCode = 1;
  lines.close();
});
