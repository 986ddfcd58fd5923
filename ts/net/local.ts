/**
 * In-process transport for tests: every party's link lives in one thread and messages are handed over
 * through the microtask queue. Bodies are copied on send, so parties never share memory, exactly as
 * over a real wire.
 */
import { isControl, type Envelope } from './envelope.js';
import { BaseLink, copyBytes } from './link.js';
import { checkLabel, checkParties, resolveLinkOptions, type Link, type LinkOptions, type PartyId, type ResolvedLinkOptions } from './types.js';

class LocalLink extends BaseLink {
  constructor(self: PartyId, session: string, parties: readonly PartyId[], opts: ResolvedLinkOptions, private readonly net: Map<PartyId, LocalLink>) {
    super(self, session, parties, opts);
  }

  protected transmit(to: PartyId, env: Envelope): void {
    const target = this.net.get(to)!;
    const copy: Envelope = isControl(env) ? { ...env } : { ...env, b: copyBytes(env.b) };
    queueMicrotask(() => target.receive(this.self, copy));
  }

  private receive(from: PartyId, env: Envelope): void {
    this.deliver(from, env);
  }

  protected shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Creates the links of all `parties` of one session, connected in a full mesh inside this thread. */
export function createLocalNetwork(session: string, parties: readonly PartyId[], opts?: LinkOptions): Map<PartyId, Link> {
  checkLabel('session', session);
  const ids = checkParties(parties);
  const resolved = resolveLinkOptions(opts);
  const net = new Map<PartyId, LocalLink>();
  for (const p of ids) net.set(p, new LocalLink(p, session, ids, resolved, net));
  return net;
}
