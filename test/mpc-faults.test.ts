/**
 * Faults during an MPC session. Every party runs with a 30 s recv timeout; each failure below must
 * reach every other party well before that (under FAIL_FAST_MS), as a named error, with no hang:
 * - a party killed mid-protocol (worker terminated, child process SIGKILLed) or whose link is aborted:
 *   the others fail with ERR_PEER_CLOSED, naming the lost party;
 * - a malformed frame injected into a live TCP connection between the servers: the receiving server
 *   fails with ERR_MALFORMED_FRAME / ERR_FRAME_TOO_LARGE / ERR_PROTOCOL_MISMATCH, the others with
 *   ERR_PEER_CLOSED, and this process carries on;
 * - a message of the wrong length (or under the wrong label) where a share is expected: the receiver
 *   fails with ERR_PROTOCOL_MISMATCH and returns no result, instead of crashing or computing garbage.
 */
import net from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { SecpError } from '../bindings/errors.js';
import { encodeDataFrame } from '../ts/net/frame.js';
import { createLocalNetwork } from '../ts/net/local.js';
import { connectTcp, createTcpNetwork, listenTcp, type TcpAddress } from '../ts/net/tcp.js';
import { PROTOCOL_VERSION, type Link, type PartyId } from '../ts/net/types.js';
import {
  LINK_OPTS,
  LOOP_N,
  PARTIES,
  SESSION,
  runInProcess,
  startChildParties,
  startWorkerParties,
  type PartyHandle,
  type PartyResult,
  type PartyRole,
} from './mpc-party-script.js';

/** Far below LINK_OPTS.recvTimeoutMs (30 s): a failure must spread, not time out. */
const FAIL_FAST_MS = 5000;
/** Loop iterations before the fault: well inside the protocol, after set-up and inputs. */
const BEFORE_FAULT = 20;

test.before(() => {
  if (LINK_OPTS.recvTimeoutMs! < 5 * FAIL_FAST_MS) throw new Error('the recv timeout must dwarf FAIL_FAST_MS');
});

/** Kills `victim` once S0 (or S1) is BEFORE_FAULT iterations in; checks how the survivors end. */
async function killMidProtocol(t: ExecutionContext, handles: Map<PartyRole, PartyHandle>, victim: PartyRole): Promise<void> {
  const watcher = handles.get(victim === 's0' ? 's1' : 's0')!;
  await watcher.progressed(BEFORE_FAULT);
  const killedAt = performance.now();
  await handles.get(victim)!.kill();
  await t.throwsAsync(handles.get(victim)!.result, { message: /exited without a result/ });
  for (const role of PARTIES) {
    if (role === victim) continue;
    const h = handles.get(role)!;
    const r = await h.result;
    t.is(r.error?.code, 'ERR_PEER_CLOSED', `${role}: ${r.error?.code} ${r.error?.message}`);
    t.regex(r.error?.message ?? '', new RegExp(`\\b${victim}\\b`), `${role}'s error names the lost party`);
    t.true(h.doneAt - killedAt < FAIL_FAST_MS, `${role} failed ${(h.doneAt - killedAt).toFixed(0)} ms after the kill`);
    // The data owner only receives the revealed outputs, so it may trail the servers by a few iterations.
    const least = role === 'data' ? 1 : BEFORE_FAULT - 1;
    t.true(r.iterations >= least, `${role} was mid-protocol (${r.iterations} iterations)`);
    t.deepEqual(r.words, [], `${role} returns no result`);
  }
}

for (const victim of ['s1', 'dealer'] as const) {
  test.serial(`worker transport: terminating ${victim}'s worker mid-protocol fails every other party fast with ERR_PEER_CLOSED`, async (t) => {
    await killMidProtocol(t, startWorkerParties({ name: 'loop' }), victim);
  });
}

for (const victim of ['s1', 'data'] as const) {
  test.serial(`TCP transport: SIGKILL of ${victim}'s process mid-protocol fails every other process fast with ERR_PEER_CLOSED`, async (t) => {
    await killMidProtocol(t, await startChildParties({ name: 'loop' }), victim);
  });
}

test.serial('in-process: aborting one party\'s link mid-protocol fails the others fast, carrying its error code', async (t) => {
  const links = createLocalNetwork(SESSION, PARTIES, LINK_OPTS);
  let abortedAt = NaN;
  const rs = await runInProcess({ name: 'loop' }, links, {
    s0: {
      onProgress: (i) => {
        if (i !== BEFORE_FAULT) return;
        abortedAt = performance.now();
        links.get('s1')!.abort(new SecpError('ERR_OPERATOR_STOP', 'stopped by the operator'));
      },
    },
  });
  t.is(rs.s1.error?.code, 'ERR_OPERATOR_STOP');
  for (const role of ['s0', 'dealer', 'data'] as const) {
    t.is(rs[role].error?.code, 'ERR_PEER_CLOSED', `${role}: ${rs[role].error?.message}`);
    t.regex(rs[role].error!.message, /ERR_OPERATOR_STOP|s1/);
  }
  t.true(performance.now() - abortedAt < FAIL_FAST_MS);
});

/**
 * A TCP relay between S0 (dialler) and S1 that forwards whole frames and, after `after` frames from
 * S0, sends S1 `frame` instead of S0's next one (and drops what S0 sends from then on).
 */
class InjectingRelay {
  injectedAt = NaN;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  private constructor(target: TcpAddress, after: number, frame: Uint8Array) {
    this.server = net.createServer((down) => {
      const up = net.connect(target);
      this.sockets.add(down).add(up);
      let buf = Buffer.alloc(0);
      let frames = 0;
      let dropping = false;
      down.on('data', (chunk: Buffer) => {
        if (dropping) return;
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
          const n = 4 + buf.readUInt32BE(0);
          up.write(buf.subarray(0, n));
          buf = buf.subarray(n);
          if (++frames === after) {
            up.write(frame);
            this.injectedAt = performance.now();
            dropping = true;
            return;
          }
        }
      });
      up.on('data', (d: Buffer) => down.write(d));
      for (const [a, b] of [[down, up], [up, down]] as const) {
        a.on('error', () => undefined);
        a.on('close', () => b.destroy());
      }
    });
  }

  static async open(target: TcpAddress, after: number, frame: Uint8Array): Promise<InjectingRelay> {
    const r = new InjectingRelay(target, after, frame);
    await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
    return r;
  }

  get address(): TcpAddress {
    const a = this.server.address() as net.AddressInfo;
    return { host: a.address, port: a.port };
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

/** All four parties on this thread over loopback TCP, S0's connection to S1 through `relay`. */
async function tcpMeshThroughRelay(frameAfter: number, frame: Uint8Array): Promise<{ links: Map<PartyId, Link>; relay: InjectingRelay }> {
  const listeners = await Promise.all(PARTIES.map(() => listenTcp()));
  const addresses = Object.fromEntries(PARTIES.map((p, i) => [p, listeners[i]!.address])) as Record<PartyRole, TcpAddress>;
  const relay = await InjectingRelay.open(addresses.s1, frameAfter, frame);
  const links = await Promise.all(PARTIES.map((self, i) => connectTcp({
    ...LINK_OPTS,
    self,
    session: SESSION,
    parties: PARTIES,
    listener: listeners[i],
    addresses: self === 's0' ? { ...addresses, s1: relay.address } : addresses,
    connectTimeoutMs: 10_000,
  })));
  return { links: new Map(PARTIES.map((p, i) => [p, links[i]!])), relay };
}

const frameOf = (bytes: number[]): Uint8Array => Uint8Array.from(bytes);
/** The S0 → S1 handshake frames (hello, auth) pass first. */
const HANDSHAKE_FRAMES = 2;
const MALFORMED: Array<[string, Uint8Array, string]> = [
  ['a frame that is not MessagePack', frameOf([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]), 'ERR_MALFORMED_FRAME'],
  ['a length prefix of 4 GiB', frameOf([0xff, 0xff, 0xff, 0xff]), 'ERR_FRAME_TOO_LARGE'],
  ['a data frame whose body is longer than the frame', frameOf([0, 0, 0, 12, 0x87, 0xa1, 0x62, 0xc6, 0, 0, 0x10, 0, 1, 2, 3, 4]), 'ERR_MALFORMED_FRAME'],
  ['a map that is not a message', (() => {
    const doc = Buffer.from([0x81, 0xa1, 0x78, 0x01]); // {x: 1}
    return Buffer.concat([Buffer.from([0, 0, 0, doc.length]), doc]);
  })(), 'ERR_MALFORMED_FRAME'],
  ['a well-formed message of another session', encodeDataFrame({ v: PROTOCOL_VERSION, s: 'another-session', o: 'loop.mul', q: 0, f: 's0', b: new Uint8Array(8 * LOOP_N), t: 0 }, 1 << 20), 'ERR_PROTOCOL_MISMATCH'],
];

for (const [what, frame, code] of MALFORMED) {
  test.serial(`TCP: ${what}, injected between the servers mid-protocol, is rejected with ${code}; everyone else stops fast; the process lives on`, async (t) => {
    const { links, relay } = await tcpMeshThroughRelay(HANDSHAKE_FRAMES + 2 * BEFORE_FAULT, frame);
    try {
      const rs = await runInProcess({ name: 'loop' }, links);
      const done = performance.now();
      t.true(relay.injectedAt > 0, 'the frame was injected');
      t.is(rs.s1.error?.code, code, `s1: ${rs.s1.error?.message}`);
      for (const role of ['s0', 'dealer', 'data'] as const) {
        t.is(rs[role].error?.code, 'ERR_PEER_CLOSED', `${role}: ${rs[role].error?.message}`);
      }
      for (const role of PARTIES) t.true(rs[role].iterations >= BEFORE_FAULT - 1 && rs[role].words.length === 0, `${role} stopped mid-protocol (${rs[role].iterations} iterations, ${rs[role].words.length} words)`);
      t.true(done - relay.injectedAt < FAIL_FAST_MS, `all parties stopped ${(done - relay.injectedAt).toFixed(0)} ms after the injection`);
    } finally {
      relay.close();
    }
  });
}

/** Makes `link` send the first message to `to` under `op` with 7 bytes (or under another label). */
function tamper(link: Link, to: PartyId, op: string, how: 'length' | 'label'): { hit: boolean; at: number } {
  const send = link.send.bind(link);
  const state = { hit: false, at: NaN };
  link.send = (dest, o, body) => {
    if (!state.hit && dest === to && o === op) {
      state.hit = true;
      state.at = performance.now();
      return how === 'length' ? send(dest, o, body.subarray(0, 7)) : send(dest, `${o}.bogus`, body);
    }
    send(dest, o, body);
  };
  return state;
}

const TAMPER: Array<[PartyRole, PartyRole, string, 'length' | 'label', RegExp]> = [
  ['s1', 's0', 'mm', 'length', /mm: s1 sent 7 bytes, expected 2560/],
  // v2 cosine: 48 angles' top 32 bits as 32 bit planes of one 64-element word each.
  ['s0', 's1', 'cos', 'length', /cos: s0 sent 7 bytes, expected 256/],
  ['dealer', 's1', 'mm.c', 'length', /mm\.c: dealer sent 7 bytes, expected 768/],
  ['dealer', 's0', 'setup.seed', 'length', /dealer seed has 7 bytes, expected 32/],
  ['data', 's1', 'in0', 'length', /in0: data sent 7 bytes, expected 1024/],
  ['s1', 'data', 'out0', 'length', /out0: s1 sent 7 bytes, expected 768/],
  ['s1', 's0', 'mm', 'label', /expected op 'mm' from s1, got 'mm\.bogus'/],
];

for (const transport of ['in-process', 'tcp'] as const) {
  for (const [from, to, op, how, message] of TAMPER) {
    test.serial(`${transport}: ${how === 'length' ? 'a 7-byte message' : 'a message under the wrong label'} from ${from} where ${to} expects the share '${op}' is ERR_PROTOCOL_MISMATCH, no result and no hang`, async (t) => {
      const links = transport === 'tcp'
        ? await createTcpNetwork(SESSION, PARTIES, { ...LINK_OPTS, connectTimeoutMs: 10_000 })
        : createLocalNetwork(SESSION, PARTIES, LINK_OPTS);
      const hit = tamper(links.get(from)!, to, op, how);
      const rs: Record<PartyRole, PartyResult> = await runInProcess({ name: 'pipeline' }, links);
      t.true(hit.hit, 'the message was tampered with');
      t.is(rs[to].error?.code, 'ERR_PROTOCOL_MISMATCH', `${to}: ${rs[to].error?.message}`);
      t.regex(rs[to].error!.message, message);
      t.deepEqual(rs[to].words, [], `${to} returns no result`);
      // Everyone else either finished its part before the fault or stopped with it; nobody hangs.
      for (const role of PARTIES) {
        if (role !== to && rs[role].error !== undefined) t.is(rs[role].error!.code, 'ERR_PEER_CLOSED', `${role}: ${rs[role].error!.message}`);
      }
      t.not(rs.data.error, undefined, 'the data owner does not receive a result');
      t.true(performance.now() - hit.at < FAIL_FAST_MS, `all parties stopped ${(performance.now() - hit.at).toFixed(0)} ms after the tampered message`);
    });
  }
}
