/**
 * TCP limits against unauthenticated or early peers: what a peer sends before the mesh is up is bounded (the
 * socket is paused, nothing is dropped), connections in their handshake are capped, a wrong-session reject
 * does not reveal the session, and a set-up can be aborted. Loopback only.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import test from 'ava';
import type { SecpError } from '../bindings/errors.js';
import { FrameParser, decodeFrame, encodeDataFrame, encodeFrame } from '../ts/net/frame.js';
import { connectTcp, listenTcp, type TcpAddress } from '../ts/net/tcp.js';
import { PROTOCOL_VERSION, type PartyId } from '../ts/net/types.js';

const MiB = 2 ** 20;

/** A raw socket that runs the dialer's handshake without a secret and then writes what it is told. */
async function fakeDialer(addr: TcpAddress, session: string, from: PartyId, to: PartyId): Promise<net.Socket> {
  const sock = net.connect(addr.port, addr.host);
  sock.on('error', () => undefined);
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const parser = new FrameParser(1 << 20);
  const frames: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  const onData = (c: Buffer): void => {
    parser.push(c, (f) => frames.push(decodeFrame(f.doc) as Record<string, unknown>));
    wake?.();
  };
  sock.on('data', onData);
  const next = async (): Promise<Record<string, unknown>> => {
    while (frames.length === 0) await new Promise<void>((r) => (wake = r));
    return frames.shift()!;
  };
  sock.write(encodeFrame({ magic: 'SECP', v: PROTOCOL_VERSION, k: 'hello', s: session, f: from, t: to, n: randomBytes(32), x: false }, 4096));
  if ((await next())['k'] !== 'welcome') throw new Error('no welcome');
  sock.write(encodeFrame({ magic: 'SECP', v: PROTOCOL_VERSION, k: 'auth' }, 4096));
  if ((await next())['k'] !== 'ok') throw new Error('no ok');
  sock.off('data', onData);
  return sock;
}

/**
 * Writes `count` data frames of `bytes` each as s0, one at a time as the socket drains; resolves with how many
 * went out, early if writing stalls for `stallMs`.
 */
async function flood(sock: net.Socket, session: string, count: number, bytes: number, stallMs: number, progress = { written: 0 }): Promise<number> {
  const body = new Uint8Array(bytes).fill(7);
  let written = 0;
  for (let q = 0; q < count; q++) {
    const ok = sock.write(encodeDataFrame({ v: PROTOCOL_VERSION, s: session, o: 'flood', q, f: 's0', b: body, t: 0 }, 2 ** 30));
    written++;
    progress.written = written;
    if (!ok) {
      const drained = await new Promise<boolean>((r) => {
        const timer = setTimeout(() => r(false), stallMs);
        sock.once('drain', () => {
          clearTimeout(timer);
          r(true);
        });
      });
      if (!drained) break;
    }
  }
  return written;
}

test('a peer that floods before the mesh is up holds a bounded amount of memory in the listener (child process RSS)', async (t) => {
  // The dealer of {s0, s1, dealer} in a process of its own; s1 never comes, so the mesh never completes.
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    const { listenTcp, connectTcp } = await import(process.env.TCP_URL);
    const listener = await listenTcp();
    console.log(JSON.stringify(listener.address));
    connectTcp({ self: 'dealer', session: 'flood', parties: ['s0', 's1', 'dealer'], listener, addresses: {}, connectTimeoutMs: 60000 }).catch(() => undefined);
    process.stdin.on('data', () => console.log(String(process.memoryUsage().rss)));
  `], { env: { ...process.env, TCP_URL: new URL('../ts/net/tcp.js', import.meta.url).href }, stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    wake?.();
  });
  const line = async (): Promise<string> => {
    while (lines.length === 0) await new Promise<void>((r) => (wake = r));
    return lines.shift()!;
  };
  const rss = async (): Promise<number> => {
    child.stdin.write('\n');
    return Number(await line());
  };
  const addr = JSON.parse(await line()) as TcpAddress;
  const before = await rss();
  const sock = await fakeDialer(addr, 'flood', 's0', 'dealer');
  // 24 frames of 32 MiB (768 MiB) took the dealer from 70 MB to 892 MB before the bound.
  const written = await flood(sock, 'flood', 24, 32 * MiB, 1500);
  const after = await rss();
  sock.destroy();
  const growth = after - before;
  t.log(`frames written before the listener stopped reading: ${written} of 24; RSS ${(before / MiB).toFixed(0)} -> ${(after / MiB).toFixed(0)} MiB`);
  t.true(written < 24, 'the listener stopped reading');
  // Bound: 64 MiB of held messages, one 32 MiB frame being read, socket buffers and allocator slack.
  t.true(growth < 200 * MiB, `RSS grew by ${(growth / MiB).toFixed(0)} MiB`);
});

test('messages sent before the mesh is up wait in the sockets and all arrive, in order, once it is', async (t) => {
  const session = 'early';
  const parties: PartyId[] = ['s0', 's1', 'dealer'];
  const [l1, l2] = await Promise.all([listenTcp(), listenTcp()]);
  const opts = { session, parties, earlyBytesPerPeer: 256 * 1024, earlyBytesTotal: 384 * 1024 };
  // s1 and the dealer mesh first; s1 then sends 4 MiB to the dealer, whose mesh still lacks s0.
  const s1p = connectTcp({ ...opts, self: 's1', listener: l1, addresses: { dealer: l2.address } });
  const dealerP = connectTcp({ ...opts, self: 'dealer', listener: l2, addresses: {} });
  const late = connectTcp({ ...opts, self: 's0', addresses: { s1: l1.address, dealer: l2.address } });
  const [s0, s1, dealer] = await Promise.all([late, s1p, dealerP]);
  const n = 64;
  for (let i = 0; i < n; i++) s1.send('dealer', 'chunk', new Uint8Array(64 * 1024).fill(i));
  for (let i = 0; i < n; i++) {
    const b = await dealer.recv('s1', 'chunk');
    t.is(b.byteLength, 64 * 1024);
    if (b[0] !== i || b[b.length - 1] !== i) t.fail(`chunk ${i} holds ${b[0]}`);
  }
  await Promise.all([s0.close(), s1.close(), dealer.close()]);
});

test('the early bound pauses a flooding peer; once the mesh is up, everything it sent arrives in order', async (t) => {
  const session = 'paused';
  const parties: PartyId[] = ['s0', 's1', 'dealer'];
  const [l1, l2] = await Promise.all([listenTcp(), listenTcp()]);
  const s1p = connectTcp({ self: 's1', session, parties, listener: l1, addresses: { dealer: l2.address }, earlyBytesPerPeer: 64 * 1024 });
  const sock = await fakeDialer(l1.address, session, 's0', 's1');
  // 32 MiB offered while s1 still waits for the dealer: s1 reads about 64 KiB (plus socket buffers), then stops.
  const n = 512;
  const progress = { written: 0 };
  const sent = flood(sock, session, n, 64 * 1024, 60_000, progress);
  await new Promise((r) => setTimeout(r, 800));
  t.true(progress.written < n, `all ${progress.written} frames were taken before the mesh was up`);
  const stalledAt = progress.written;
  // The dealer comes: the fake s0 completes its side too, s1's mesh is up, the socket is read again.
  const dealerP = connectTcp({ self: 'dealer', session, parties, listener: l2, addresses: {} });
  const toDealer = await fakeDialer(l2.address, session, 's0', 'dealer');
  const [s1, dealer] = await Promise.all([s1p, dealerP]);
  for (let q = 0; q < n; q++) {
    const b = await s1.recv('s0', 'flood');
    if (b.byteLength !== 64 * 1024 || b[0] !== 7) t.fail(`message ${q}`);
  }
  t.is(await sent, n);
  t.log(`${stalledAt} of ${n} frames written before the mesh was up, all ${n} received after`);
  sock.destroy();
  toDealer.destroy();
  await Promise.allSettled([s1.close(), dealer.close()]);
});

test('connections in their handshake are capped; the others are closed at once and reported', async (t) => {
  const errors: SecpError[] = [];
  const listener = await listenTcp();
  const s1p = connectTcp({ self: 's1', session: 'cap', parties: ['s0', 's1'], listener, addresses: {}, maxUnauthenticatedConnections: 8, onConnectionError: (e) => errors.push(e), connectTimeoutMs: 10_000 });
  const idle: net.Socket[] = [];
  let closed = 0;
  for (let i = 0; i < 40; i++) {
    const s = net.connect(listener.address.port, listener.address.host);
    s.on('error', () => undefined);
    s.on('close', () => closed++);
    idle.push(s);
  }
  while (errors.length < 32) await new Promise((r) => setTimeout(r, 20));
  t.true(errors.every((e) => e.code === 'ERR_TOO_MANY_CONNECTIONS'), errors.map((e) => e.code).join());
  t.regex(errors[0]!.message, /8 connections are in their handshake already/);
  await new Promise((r) => setTimeout(r, 100));
  t.is(40 - closed, 8);
  for (const s of idle) s.destroy();
  // A legitimate peer still gets in.
  const s0 = await connectTcp({ self: 's0', session: 'cap', parties: ['s0', 's1'], addresses: { s1: listener.address } });
  const s1 = await s1p;
  s0.send('s1', 'hi', new Uint8Array([1]));
  t.is((await s1.recv('s0', 'hi'))[0], 1);
  await Promise.all([s0.close(), s1.close()]);
});

test('a wrong-session reject tells the dialer nothing of the real session', async (t) => {
  const errors: SecpError[] = [];
  const listener = await listenTcp();
  const session = 'train-0123456789abcdef';
  const s1p = connectTcp({ self: 's1', session, parties: ['s0', 's1'], listener, addresses: {}, onConnectionError: (e) => errors.push(e), connectTimeoutMs: 2000 });
  const sock = net.connect(listener.address.port, listener.address.host);
  sock.on('error', () => undefined);
  const got: Buffer[] = [];
  sock.on('data', (d: Buffer) => got.push(d));
  const closed = new Promise<void>((r) => sock.on('close', () => r()));
  sock.write(encodeFrame({ magic: 'SECP', v: PROTOCOL_VERSION, k: 'hello', s: 'train-guess', f: 's0', t: 's1', n: randomBytes(32), x: false }, 4096));
  await closed;
  const all = Buffer.concat(got);
  const reject = decodeFrame(all.subarray(4)) as Record<string, unknown>;
  t.like(reject, { k: 'reject', e: 'ERR_PROTOCOL_MISMATCH' });
  t.regex(String(reject['m']), /another session/);
  t.false(all.includes(Buffer.from('0123456789abcdef')), 'the reject carries the session id');
  // The role's own log has the detail.
  t.regex(errors[0]!.message, /wants session "train-guess", this is "train-0123456789abcdef"/);
  await t.throwsAsync(s1p, { code: 'ERR_PEER_UNREACHABLE' });
});

test('aborting the signal stops a set-up and closes its listener', async (t) => {
  const listener = await listenTcp();
  const stop = new AbortController();
  const p = connectTcp({ self: 's1', session: 'stop', parties: ['s0', 's1'], listener, addresses: {}, signal: stop.signal });
  stop.abort(new Error('another split failed'));
  const e = await t.throwsAsync(p, { code: 'ERR_ABORTED' });
  t.regex(e!.message, /another split failed/);
  const refused = await new Promise<boolean>((r) => {
    const s = net.connect(listener.address.port, listener.address.host);
    s.once('error', () => r(true));
    s.once('connect', () => {
      s.destroy();
      r(false);
    });
  });
  t.true(refused, 'the listener still accepts');
});
