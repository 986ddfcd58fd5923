/**
 * Worker-thread transport: one MessageChannel per pair of parties. A body is copied once into its own
 * ArrayBuffer, which is then transferred (not cloned), so the sender keeps its buffer untouched and the
 * receiver gets memory nobody else holds. A port that closes without a goodbye (its worker terminated
 * or crashed) counts as a lost peer and aborts the session on every party that had a port to it.
 *
 *   const mesh = createWorkerMesh(['s0', 's1', 'dealer']);
 *   const ep = mesh.get('s1')!;
 *   new Worker(file, { workerData: { ep }, transferList: transferListOf(ep) });
 *   // in the worker: const link = createWorkerLink('session-id', workerData.ep);
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { SecpError } from '../../bindings/errors.js';
import { isControl, parseEnvelope, type Envelope } from './envelope.js';
import { BaseLink, copyBytes } from './link.js';
import { checkLabel, checkParties, isPartyId, resolveLinkOptions, type Link, type LinkOptions, type PartyId, type ResolvedLinkOptions } from './types.js';

/** What one party needs to join a worker mesh: its ports to every other party. Transfer it whole. */
export interface WorkerEndpoint {
  self: PartyId;
  parties: PartyId[];
  ports: Partial<Record<PartyId, MessagePort>>;
}

/** Creates a full mesh of MessageChannels and returns each party's endpoint. */
export function createWorkerMesh(parties: readonly PartyId[]): Map<PartyId, WorkerEndpoint> {
  const ids = checkParties(parties);
  const out = new Map<PartyId, WorkerEndpoint>();
  for (const p of ids) out.set(p, { self: p, parties: ids, ports: {} });
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) {
      const { port1, port2 } = new MessageChannel();
      out.get(ids[i]!)!.ports[ids[j]!] = port1;
      out.get(ids[j]!)!.ports[ids[i]!] = port2;
    }
  }
  return out;
}

/** The ports of an endpoint, for a Worker's `transferList`. */
export function transferListOf(ep: WorkerEndpoint): MessagePort[] {
  return Object.values(ep.ports).filter((p): p is MessagePort => p !== undefined);
}

class WorkerLink extends BaseLink {
  constructor(session: string, ep: WorkerEndpoint, opts: ResolvedLinkOptions, private readonly ports: Map<PartyId, MessagePort>) {
    super(ep.self, session, ep.parties, opts);
    for (const [peer, port] of ports) {
      port.on('message', (m: unknown) => this.onMessage(peer, port, m));
      port.on('messageerror', (e: Error) => {
        port.close();
        this.peerLost(peer, new SecpError('ERR_MALFORMED_FRAME', `${this.self}: undecodable message from ${peer}`, { cause: e }));
      });
      port.on('close', () => this.peerLost(peer, new SecpError('ERR_PEER_CLOSED', `${this.self}: the port to ${peer} closed without a goodbye (worker terminated?)`)));
    }
  }

  private onMessage(peer: PartyId, port: MessagePort, m: unknown): void {
    let env: Envelope;
    try {
      env = parseEnvelope(m);
    } catch (e) {
      port.close();
      this.peerLost(peer, e as SecpError);
      return;
    }
    this.deliver(peer, env);
  }

  protected transmit(to: PartyId, env: Envelope): void {
    const port = this.ports.get(to)!;
    if (isControl(env)) {
      port.postMessage(env);
      return;
    }
    const b = copyBytes(env.b);
    port.postMessage({ ...env, b }, [b.buffer as ArrayBuffer]);
  }

  protected async shutdown(): Promise<void> {
    // Messages posted before close() are still delivered; the peer then sees 'close' after our goodbye.
    for (const port of this.ports.values()) port.close();
  }
}

/** Joins a worker mesh as `ep.self`. */
export function createWorkerLink(session: string, ep: WorkerEndpoint, opts?: LinkOptions): Link {
  checkLabel('session', session);
  if (typeof ep !== 'object' || ep === null || !isPartyId(ep.self)) throw new SecpError('ERR_INVALID_ARGUMENT', 'endpoint must come from createWorkerMesh');
  const ids = checkParties(ep.parties, ep.self);
  const ports = new Map<PartyId, MessagePort>();
  for (const p of ids) {
    if (p === ep.self) continue;
    const port = ep.ports[p];
    if (port === undefined) throw new SecpError('ERR_INVALID_ARGUMENT', `endpoint of ${ep.self} has no port to ${p}`);
    ports.set(p, port);
  }
  return new WorkerLink(session, ep, resolveLinkOptions(opts), ports);
}
