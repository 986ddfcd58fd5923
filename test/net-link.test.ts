/**
 * Link semantics shared by every transport: sequence/op/session checks, timeouts, abort propagation,
 * goodbye, send validation, body snapshots, options, the link model and the meter.
 */
import test from 'ava';
import { SecpError } from '../bindings/errors.js';
import { createLocalNetwork } from '../ts/net/local.js';
import { Meter, mergeSnapshots } from '../ts/net/meter.js';
import { NET_DEFAULTS, PROTOCOL_VERSION, type Link, type PartyId } from '../ts/net/types.js';
import { createWorkerLink, createWorkerMesh } from '../ts/net/worker.js';

const PARTIES: PartyId[] = ['s0', 's1', 'dealer'];

function local(opts = {}): { s0: Link; s1: Link; dealer: Link; all: Link[] } {
  const m = createLocalNetwork('sess', PARTIES, opts);
  const all = PARTIES.map((p) => m.get(p)!);
  return { s0: m.get('s0')!, s1: m.get('s1')!, dealer: m.get('dealer')!, all };
}

const closeAll = (ls: Link[]): Promise<void[]> => Promise.all(ls.map((l) => l.close()));

test('op mismatch is ERR_PROTOCOL_MISMATCH and aborts the session on every party', async (t) => {
  const { s0, s1, dealer, all } = local();
  const waitingDealer = dealer.recv('s1', 'reveal');
  s0.send('s1', 'matmul.open', new Uint8Array(8));
  const e = await t.throwsAsync(s1.recv('s0', 'trunc.open'), { code: 'ERR_PROTOCOL_MISMATCH' });
  t.regex(e!.message, /expected op 'trunc\.open' from s0, got 'matmul\.open'/);
  // The dealer waited on s1, which aborted: it fails too, and says why.
  const d = await t.throwsAsync(waitingDealer, { code: 'ERR_PEER_CLOSED' });
  t.regex(d!.message, /s1 aborted session 'sess': \[ERR_PROTOCOL_MISMATCH\]/);
  await t.throwsAsync(s0.recv('s1', 'x'), { code: 'ERR_PEER_CLOSED' });
  t.throws(() => s1.send('s0', 'x', new Uint8Array(1)), { code: 'ERR_PROTOCOL_MISMATCH' });
  await closeAll(all);
});

test('crafted messages: wrong sequence number, session, version, sender or shape are rejected', async (t) => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ q: 1 }, 'ERR_PROTOCOL_MISMATCH', /expected sequence number 0 from s1, got 1/],
    [{ s: 'other' }, 'ERR_PROTOCOL_MISMATCH', /session 'other', expected 'sess'/],
    [{ v: PROTOCOL_VERSION + 1 }, 'ERR_VERSION_MISMATCH', new RegExp(`version ${PROTOCOL_VERSION + 1}`)],
    [{ f: 'dealer' }, 'ERR_PROTOCOL_MISMATCH', /claims to come from dealer/],
    [{ b: 'not bytes' }, 'ERR_MALFORMED_FRAME', /body/],
    [{ q: -1 }, 'ERR_MALFORMED_FRAME', /sequence/],
    [{ extra: 1 }, 'ERR_MALFORMED_FRAME', /unexpected field/],
  ];
  for (const [patch, code, re] of cases) {
    const mesh = createWorkerMesh(['s0', 's1']);
    const s0 = createWorkerLink('sess', mesh.get('s0')!);
    const raw = mesh.get('s1')!.ports.s0!;
    const pending = s0.recv('s1', 'x');
    raw.postMessage({ v: PROTOCOL_VERSION, s: 'sess', o: 'x', q: 0, f: 's1', b: new Uint8Array(8), t: 0, ...patch });
    const e = await t.throwsAsync(pending, { code }, JSON.stringify(patch));
    t.regex(e!.message, re);
    raw.close();
    await s0.close();
  }
  // Not even an object.
  const mesh = createWorkerMesh(['s0', 's1']);
  const s0 = createWorkerLink('sess', mesh.get('s0')!);
  const pending = s0.recv('s1', 'x');
  mesh.get('s1')!.ports.s0!.postMessage('garbage');
  await t.throwsAsync(pending, { code: 'ERR_MALFORMED_FRAME' });
  await s0.close();
});

test('recv timeout names peer and op, and the others fail fast', async (t) => {
  const { s0, s1, dealer, all } = local({ recvTimeoutMs: 60 });
  const started = Date.now();
  const first = s0.recv('s1', 'cos.open');
  const other = s1.recv('dealer', 'triples').catch((e: unknown) => e);
  const e = await t.throwsAsync(first, { code: 'ERR_PEER_TIMEOUT' });
  t.regex(e!.message, /s0: no message from s1 for op 'cos\.open' within 60 ms/);
  // s1's own timer would fire at the same time; s0's abort reaches it first.
  const oe = await other;
  t.true(oe instanceof SecpError && oe.code === 'ERR_PEER_CLOSED', String(oe));
  t.regex((oe as Error).message, /s0 aborted session 'sess': \[ERR_PEER_TIMEOUT\]/);
  t.true(Date.now() - started < 1000);
  await t.throwsAsync(dealer.recv('s0', 'y'), { code: 'ERR_PEER_CLOSED' });
  await closeAll(all);
});

test('abort(err) rejects everything pending with err and tells every peer', async (t) => {
  const { s0, s1, dealer, all } = local();
  const a = s0.recv('s1', 'a');
  const b = s0.recv('dealer', 'b');
  const c = dealer.recv('s1', 'c');
  const reason = new SecpError('ERR_KERNEL', 'native kernel failed');
  s0.abort(reason);
  t.is(await t.throwsAsync(a), reason);
  t.is(await t.throwsAsync(b), reason);
  await t.throwsAsync(s0.recv('s1', 'later'), { is: reason });
  t.throws(() => s0.send('s1', 'x', new Uint8Array(1)), { is: reason });
  // The dealer waits on s1, not s0, and still fails at once.
  const ce = await t.throwsAsync(c, { code: 'ERR_PEER_CLOSED' });
  t.regex(ce!.message, /s0 aborted session 'sess': \[ERR_KERNEL\] native kernel failed/);
  await t.throwsAsync(s1.recv('dealer', 'z'), { code: 'ERR_PEER_CLOSED' });
  await closeAll(all);
});

test('goodbye: queued messages stay readable, then recv from the closed peer fails', async (t) => {
  const { s0, s1, dealer, all } = local();
  s0.send('s1', 'last', new Uint8Array([1, 2, 3]));
  await s0.close();
  await new Promise((r) => setImmediate(r));
  t.deepEqual([...(await s1.recv('s0', 'last'))], [1, 2, 3]);
  // Other pairs are unaffected by a graceful close.
  dealer.send('s1', 'more', new Uint8Array(4));
  t.is((await s1.recv('dealer', 'more')).byteLength, 4);
  t.throws(() => s0.send('s1', 'x', new Uint8Array(1)), { code: 'ERR_PEER_CLOSED' });
  const e = await t.throwsAsync(s1.recv('s0', 'next'), { code: 'ERR_PEER_CLOSED' });
  t.regex(e!.message, /s0 is gone, waiting for op 'next'/);
  await closeAll(all);
});

test('close() while a peer waits on us fails that peer immediately', async (t) => {
  const { s0, s1, all } = local();
  const p = s1.recv('s0', 'never-sent');
  await s0.close();
  const e = await t.throwsAsync(p, { code: 'ERR_PEER_CLOSED' });
  t.regex(e!.message, /s0 closed its link while s1 waits for op 'never-sent'/);
  await closeAll(all);
});

test('send validates its arguments and snapshots the body', async (t) => {
  const { s0, s1, all } = local({ maxFrameBytes: 4096 });
  t.throws(() => s0.send('model', 'x', new Uint8Array(1)), { code: 'ERR_INVALID_ARGUMENT', message: /model is not a peer/ });
  t.throws(() => s0.send('s0', 'x', new Uint8Array(1)), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => s0.send('s1', '', new Uint8Array(1)), { code: 'ERR_INVALID_ARGUMENT', message: /op/ });
  t.throws(() => s0.send('s1', 'x', [1, 2] as unknown as Uint8Array), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => s0.send('s1', 'x', new Uint8Array(4097)), { code: 'ERR_FRAME_TOO_LARGE', message: /4097 bytes.*maxFrameBytes \(4096\)/ });
  await t.throwsAsync(s0.recv('s0', 'x'), { code: 'ERR_INVALID_ARGUMENT' });
  // The caller may overwrite its buffer right after send; the receiver owns what it gets.
  const words = new BigUint64Array([1n, 2n, 3n, 4n]);
  s0.send('s1', 'w', new Uint8Array(words.buffer, 8, 16));
  words.fill(0n);
  const got = await s1.recv('s0', 'w');
  t.is(got.byteOffset % 8, 0);
  t.deepEqual([...new BigUint64Array(got.buffer, got.byteOffset, 2)], [2n, 3n]);
  t.not(got.buffer, words.buffer);
  // Two receives from the same peer queued at once resolve in order.
  s0.send('s1', 'a', new Uint8Array([1]));
  s0.send('s1', 'b', new Uint8Array([2]));
  const [a, b] = await Promise.all([s1.recv('s0', 'a'), s1.recv('s0', 'b')]);
  t.deepEqual([a[0], b[0]], [1, 2]);
  await closeAll(all);
});

test('options are validated at construction and name the option', (t) => {
  t.throws(() => createLocalNetwork('s', ['s0', 's1'], { recvTimeoutMs: 0 }), { code: 'ERR_INVALID_ARGUMENT', message: /recvTimeoutMs must be an integer in \[1, / });
  t.throws(() => createLocalNetwork('s', ['s0', 's1'], { maxFrameBytes: 2 ** 32 }), { code: 'ERR_INVALID_ARGUMENT', message: /maxFrameBytes/ });
  t.throws(() => createLocalNetwork('s', ['s0', 's0']), { code: 'ERR_INVALID_ARGUMENT', message: /twice/ });
  t.throws(() => createLocalNetwork('s', ['s0', 'x' as PartyId]), { code: 'ERR_INVALID_ARGUMENT', message: /unknown party/ });
  t.throws(() => createLocalNetwork('', ['s0', 's1']), { code: 'ERR_INVALID_ARGUMENT', message: /session/ });
  t.throws(() => createLocalNetwork('s', ['s0', 's1'], { linkModel: { bandwidthBitsPerSec: 0, latencyMs: 1 } }), { code: 'ERR_INVALID_ARGUMENT', message: /bandwidthBitsPerSec/ });
  t.is(NET_DEFAULTS.recvTimeoutMs, 60_000);
  t.is(NET_DEFAULTS.maxFrameBytes, 2 ** 30);
});

test('link model: messages are delayed by serialisation at the bandwidth plus latency, in order', async (t) => {
  // 8 Mbit/s = 1000 bytes per ms; 20 ms one-way latency.
  const { s0, s1, all } = local({ linkModel: { bandwidthBitsPerSec: 8e6, latencyMs: 20 } });
  const started = performance.now();
  for (let i = 0; i < 5; i++) s0.send('s1', 'm', new Uint8Array(20_000).fill(i));
  const got: number[] = [];
  for (let i = 0; i < 5; i++) got.push((await s1.recv('s0', 'm'))[0]!);
  const elapsed = performance.now() - started;
  t.deepEqual(got, [0, 1, 2, 3, 4]);
  // 5 × 20 ms on the wire + 20 ms latency.
  t.true(elapsed >= 115, `elapsed ${elapsed}`);
  t.true(elapsed < 1000, `elapsed ${elapsed}`);
  // close() flushes what is still on the emulated wire.
  s0.send('s1', 'tail', new Uint8Array(10_000));
  await s0.close();
  t.is((await s1.recv('s0', 'tail')).byteLength, 10_000);
  await closeAll(all);
});

test('meter: per-op and per-peer counts, rounds, table, reset and merge', async (t) => {
  const { s0, s1, all } = local();
  s0.send('s1', 'open', new Uint8Array(80));
  s0.send('s1', 'open', new Uint8Array(16));
  s0.meter.round('open');
  s0.send('s1', 'reveal', new Uint8Array(0));
  await s1.recv('s0', 'open');
  await s1.recv('s0', 'open');
  await s1.recv('s0', 'reveal');
  const a = s0.meter.snapshot();
  t.deepEqual(a.ops['open'], { rounds: 1, msgsSent: 2, msgsReceived: 0, bytesSent: 96, bytesReceived: 0 });
  t.deepEqual(a.total, { rounds: 1, msgsSent: 3, msgsReceived: 0, bytesSent: 96, bytesReceived: 0 });
  t.deepEqual(a.peers.s1, { msgsSent: 3, msgsReceived: 0, bytesSent: 96, bytesReceived: 0 });
  const b = s1.meter.snapshot();
  t.deepEqual(b.ops['open'], { rounds: 0, msgsSent: 0, msgsReceived: 2, bytesSent: 0, bytesReceived: 96 });
  const m = mergeSnapshots(a, b);
  t.deepEqual(m.total, { rounds: 1, msgsSent: 3, msgsReceived: 3, bytesSent: 96, bytesReceived: 96 });
  const table = s0.meter.table();
  t.regex(table, /^op\s+rounds\s+msgs out\s+msgs in\s+bytes sent\s+bytes received$/m);
  t.regex(table, /^open\s+1\s+2\s+0\s+96\s+0$/m);
  t.regex(table, /^total\s+1\s+3\s+0\s+96\s+0$/m);
  t.deepEqual(s0.meter.wire(), { framesSent: 0, framesReceived: 0, bytesSent: 0, bytesReceived: 0 });
  s0.meter.reset();
  t.deepEqual(s0.meter.snapshot(), new Meter().snapshot());
  await closeAll(all);
});
