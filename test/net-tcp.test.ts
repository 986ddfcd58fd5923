/**
 * TCP transport: framing, limits checked before allocation, garbage from strangers and from peers,
 * peers that die, connect retry and timeout, shared-secret authentication, TLS, backpressure.
 * Everything runs on 127.0.0.1 with ephemeral ports.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Unpackr } from 'msgpackr';
import type { SecpError } from '../bindings/errors.js';
import { FrameParser, decodeFrame, encodeDataFrame, encodeFrame, type ReadFrame } from '../ts/net/frame.js';
import { connectTcp, createTcpNetwork, listenTcp, type TcpAddress, type TcpTlsOptions } from '../ts/net/tcp.js';
import { PROTOCOL_VERSION, type Link, type PartyId } from '../ts/net/types.js';

const HOST = '127.0.0.1';

/** A hand-driven TCP peer: raw bytes and frames, no link logic. */
class RawPeer {
  private readonly parser = new FrameParser(1 << 26);
  private frames: unknown[] = [];
  private waiter: ((x: unknown) => void) | undefined;
  readonly closed: Promise<void>;

  private constructor(readonly sock: net.Socket) {
    sock.on('data', (c: Buffer) => {
      try {
        this.parser.push(c, (f: ReadFrame) => {
          const obj = decodeFrame(f.doc);
          if (this.waiter) {
            const w = this.waiter;
            this.waiter = undefined;
            w(obj);
          } else this.frames.push(obj);
        });
      } catch {
        sock.destroy();
      }
    });
    sock.on('error', () => undefined);
    this.closed = new Promise((r) => sock.on('close', () => r()));
  }

  static connect(addr: TcpAddress): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = net.connect(addr.port, addr.host, () => resolve(new RawPeer(s)));
      s.once('error', reject);
    });
  }

  write(b: Uint8Array): void {
    this.sock.write(b);
  }

  frame(obj: Record<string, unknown>): void {
    this.sock.write(encodeFrame(obj, 1 << 20));
  }

  next(): Promise<Record<string, unknown>> {
    const f = this.frames.shift();
    if (f !== undefined) return Promise.resolve(f as Record<string, unknown>);
    return new Promise((r) => (this.waiter = r as (x: unknown) => void));
  }

  /** Runs the dialer's side of the handshake without a secret. */
  static async handshake(addr: TcpAddress, session: string, from: PartyId, to: PartyId): Promise<RawPeer> {
    const p = await RawPeer.connect(addr);
    p.frame({ magic: 'SECP', v: PROTOCOL_VERSION, k: 'hello', s: session, f: from, t: to, n: randomBytes(32), x: false });
    const w = await p.next();
    if (w['k'] !== 'welcome') throw new Error(`expected welcome, got ${JSON.stringify(w)}`);
    p.frame({ magic: 'SECP', v: PROTOCOL_VERSION, k: 'auth' });
    const ok = await p.next();
    if (ok['k'] !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(ok)}`);
    return p;
  }
}

/** s1 listening and accepting from a (fake) s0, in a two-party session. */
async function s1WithFakeS0(session = 'fake'): Promise<{ s1: Link; s0: RawPeer }> {
  const listener = await listenTcp();
  const s1p = connectTcp({ self: 's1', session, parties: ['s0', 's1'], listener, addresses: {}, connectTimeoutMs: 5000 });
  const s0 = await RawPeer.handshake(listener.address, session, 's0', 's1');
  return { s1: await s1p, s0 };
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

test('data frames are one MessagePack map any reader decodes, body first', (t) => {
  for (const op of ['x', 'matmul.open', 'a-much-longer-op-label.layer11.attn']) {
    const body = randomBytes(37);
    const frame = encodeDataFrame({ v: PROTOCOL_VERSION, s: 'sess', o: op, q: 123456, f: 's1', b: body, t: 0 }, 1 << 20);
    t.is(frame.readUInt32BE(0), frame.length - 4);
    const doc = new Unpackr({ useRecords: false }).unpack(frame.subarray(4)) as Record<string, unknown>;
    t.deepEqual(Object.keys(doc), ['b', 'v', 's', 'o', 'q', 'f', 't']);
    t.like(doc, { v: PROTOCOL_VERSION, s: 'sess', o: op, q: 123456, f: 's1' });
    t.deepEqual(Buffer.from(doc['b'] as Uint8Array), body);
  }
  t.throws(() => encodeDataFrame({ v: 1, s: 's', o: 'o', q: 0, f: 's0', b: new Uint8Array(2000), t: 0 }, 1024), { code: 'ERR_FRAME_TOO_LARGE' });
});

test('the frame parser reassembles frames split anywhere and rejects an oversized length after 4 bytes', (t) => {
  const frames = [randomBytes(1), randomBytes(100), randomBytes(70_000)].map((b, i) => encodeDataFrame({ v: 1, s: 's', o: 'o', q: i, f: 's0', b, t: 0 }, 1 << 20));
  const all = Buffer.concat(frames);
  for (const step of [1, 3, 4096, all.length]) {
    const got: Buffer[] = [];
    const parser = new FrameParser(1 << 20);
    for (let i = 0; i < all.length; i += step) parser.push(all.subarray(i, i + step), (f) => got.push(Buffer.from(f.doc)));
    t.deepEqual(got, frames.map((f) => f.subarray(4)), `step ${step}`);
    t.is(parser.pendingBytes, 0);
  }
  // Message mode: each body lands in an ArrayBuffer of its own, the header fields decode apart.
  for (const step of [1, 5, 4096, all.length]) {
    const bodies: Uint8Array[] = [];
    const parser = new FrameParser(1 << 20, true);
    for (let i = 0; i < all.length; i += step) {
      parser.push(all.subarray(i, i + step), (f) => {
        t.like(decodeFrame(f.doc), { v: 1, s: 's', o: 'o', q: bodies.length, f: 's0' });
        bodies.push(f.body!);
      });
    }
    t.deepEqual(bodies.map((b) => Buffer.from(b)), [0, 1, 2].map((i) => frames[i]!.subarray(12, 12 + [1, 100, 70_000][i]!)));
    t.true(bodies.every((b) => b.byteOffset === 0 && b.buffer.byteLength === b.byteLength));
  }
  const lying = Buffer.from([0, 0, 0, 12, 0x87, 0xa1, 0x62, 0xc6, 0, 0, 0, 9, 1, 2, 3, 4]);
  t.throws(() => new FrameParser(1 << 20, true).push(lying, () => t.fail()), { code: 'ERR_MALFORMED_FRAME', message: /body of 9 bytes in a frame of 12/ });
  const parser = new FrameParser(1 << 30);
  parser.push(Buffer.from([0xff, 0xff, 0xff]), () => t.fail());
  t.throws(() => parser.push(Buffer.from([0xff]), () => t.fail()), { code: 'ERR_FRAME_TOO_LARGE', message: /4294967295 bytes exceeds the limit of 1073741824/ });
  t.throws(() => new FrameParser(100).push(Buffer.from([0, 0, 0, 0]), () => t.fail()), { code: 'ERR_MALFORMED_FRAME' });
});

test('strangers sending garbage are dropped and reported; the session still forms', async (t) => {
  const errors: SecpError[] = [];
  const l1 = await listenTcp();
  const s1p = connectTcp({ self: 's1', session: 'g', parties: ['s0', 's1'], listener: l1, addresses: {}, onConnectionError: (e) => errors.push(e) });
  const garbage: [string, (p: RawPeer) => void, string, RegExp][] = [
    ['4 GiB - 1 length prefix', (p) => p.write(Buffer.from([0xff, 0xff, 0xff, 0xff])), 'ERR_FRAME_TOO_LARGE', /4294967295 bytes/],
    ['an HTTP request', (p) => p.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), 'ERR_FRAME_TOO_LARGE', /incoming frame/],
    ['bad msgpack', (p) => p.write(Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1])), 'ERR_MALFORMED_FRAME', /MessagePack/],
    ['wrong magic', (p) => p.frame({ magic: 'HTTP', v: 1, k: 'hello' }), 'ERR_MALFORMED_FRAME', /bad magic/],
    ['unknown version', (p) => p.frame({ magic: 'SECP', v: 99, k: 'hello' }), 'ERR_VERSION_MISMATCH', /version 99/],
    ['wrong session', (p) => p.frame({ magic: 'SECP', v: PROTOCOL_VERSION, k: 'hello', s: 'other', f: 's0', t: 's1', n: randomBytes(32), x: false }), 'ERR_PROTOCOL_MISMATCH', /session/],
    ['wrong field types', (p) => p.frame({ magic: 'SECP', v: PROTOCOL_VERSION, k: 'hello', s: 'g', f: 's0', t: 's1', n: 'nonce', x: false }), 'ERR_MALFORMED_FRAME', /nonce/],
  ];
  for (const [what, send, code, re] of garbage) {
    const p = await RawPeer.connect(l1.address);
    send(p);
    await p.closed; // the listener hangs up
    const e = errors.shift();
    t.is(e?.code, code, what);
    t.regex(e?.message ?? '', re, what);
  }
  // A version mismatch is answered before hanging up, so an honest but old peer learns why.
  const old = await RawPeer.connect(l1.address);
  old.frame({ magic: 'SECP', v: 99, k: 'hello' });
  t.like(await old.next(), { k: 'reject', e: 'ERR_VERSION_MISMATCH' });
  await old.closed;
  const s0 = await connectTcp({ self: 's0', session: 'g', parties: ['s0', 's1'], addresses: { s1: l1.address } });
  const s1 = await s1p;
  s0.send('s1', 'hi', new Uint8Array([7]));
  t.deepEqual([...(await s1.recv('s0', 'hi'))], [7]);
  await Promise.all([s0.close(), s1.close()]);
});

test('a connected peer that sends an oversized length, garbage or a mismatched frame fails the session', async (t) => {
  {
    const { s1, s0 } = await s1WithFakeS0();
    const pending = s1.recv('s0', 'x');
    s0.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    const e = await t.throwsAsync(pending, { code: 'ERR_FRAME_TOO_LARGE' });
    t.regex(e!.message, /4294967295 bytes exceeds the limit of 1073741824/);
    await s0.closed;
    await s1.close();
  }
  {
    const { s1, s0 } = await s1WithFakeS0();
    const pending = s1.recv('s0', 'x');
    s0.write(Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]));
    await t.throwsAsync(pending, { code: 'ERR_MALFORMED_FRAME' });
    await s1.close();
  }
  const cases: [Record<string, unknown>, string][] = [
    [{ s: 'other' }, 'ERR_PROTOCOL_MISMATCH'],
    [{ q: 5 }, 'ERR_PROTOCOL_MISMATCH'],
    [{ o: 'y' }, 'ERR_PROTOCOL_MISMATCH'],
    [{ v: PROTOCOL_VERSION + 1 }, 'ERR_VERSION_MISMATCH'],
    [{ b: 'text' }, 'ERR_MALFORMED_FRAME'],
  ];
  for (const [patch, code] of cases) {
    const { s1, s0 } = await s1WithFakeS0();
    // A correct frame first: the fake peer speaks the real format.
    s0.write(encodeDataFrame({ v: PROTOCOL_VERSION, s: 'fake', o: 'x', q: 0, f: 's0', b: new Uint8Array([1, 2]), t: 0 }, 1 << 20));
    t.deepEqual([...(await s1.recv('s0', 'x'))], [1, 2]);
    s0.frame({ v: PROTOCOL_VERSION, s: 'fake', o: 'x', q: 1, f: 's0', b: new Uint8Array(8), t: 0, ...patch });
    await t.throwsAsync(s1.recv('s0', 'x'), { code }, JSON.stringify(patch));
    await s0.closed;
    await s1.close();
  }
});

test('a peer whose connection drops mid-protocol fails every party fast', async (t) => {
  const { s1, s0 } = await s1WithFakeS0();
  const pending = s1.recv('s0', 'x');
  s0.sock.destroy();
  const e = await t.throwsAsync(pending, { code: 'ERR_PEER_CLOSED' });
  t.regex(e!.message, /s0/);
  await s1.close();
});

test('a killed peer process fails the others with ERR_PEER_CLOSED, no hang', async (t) => {
  const session = 'kill';
  const parties: PartyId[] = ['s0', 's1', 'dealer'];
  const dealerListener = await listenTcp();
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    const { listenTcp, connectTcp } = await import(process.env.TCP_URL);
    const listener = await listenTcp();
    console.log(JSON.stringify(listener.address));
    await connectTcp({ self: 's1', session: '${session}', parties: ['s0', 's1', 'dealer'], listener,
      addresses: { dealer: JSON.parse(process.env.DEALER) } });
    console.log('ready');
    setInterval(() => {}, 1000);
  `], { env: { ...process.env, TCP_URL: new URL('../ts/net/tcp.js', import.meta.url).href, DEALER: JSON.stringify(dealerListener.address) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const lineWaiters: (() => void)[] = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      lineWaiters.shift()?.();
    }
  });
  const line = async (): Promise<string> => {
    if (lines.length === 0) await new Promise<void>((r) => lineWaiters.push(r));
    return lines.shift()!;
  };
  const s1Address = JSON.parse(await line()) as TcpAddress;
  const [s0, dealer] = await Promise.all([
    connectTcp({ self: 's0', session, parties, addresses: { s1: s1Address, dealer: dealerListener.address } }),
    connectTcp({ self: 'dealer', session, parties, listener: dealerListener, addresses: {} }),
  ]);
  t.is(await line(), 'ready');
  const fromS1 = s0.recv('s1', 'matmul.open');
  const fromS0 = dealer.recv('s0', 'reveal');
  const started = Date.now();
  child.kill('SIGKILL');
  await t.throwsAsync(fromS1, { code: 'ERR_PEER_CLOSED' });
  await t.throwsAsync(fromS0, { code: 'ERR_PEER_CLOSED' });
  t.true(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  await Promise.all([s0.close(), dealer.close()]);
});

test('recv timeout over TCP', async (t) => {
  const links = await createTcpNetwork('t', ['s0', 's1'], { recvTimeoutMs: 100 });
  const e = await t.throwsAsync(links.get('s0')!.recv('s1', 'slow'), { code: 'ERR_PEER_TIMEOUT' });
  t.regex(e!.message, /no message from s1 for op 'slow' within 100 ms/);
  await t.throwsAsync(links.get('s1')!.recv('s0', 'any'), { code: 'ERR_PEER_CLOSED' });
  await Promise.all([...links.values()].map((l) => l.close()));
});

test('dialling retries until the peer listens, and gives up with ERR_PEER_UNREACHABLE', async (t) => {
  // Reserve a port, free it, and only listen on it a little later.
  const probe = await listenTcp();
  const port = probe.address.port;
  await probe.close();
  await new Promise((r) => setTimeout(r, 50));
  // A generous budget: on a loaded machine (CI's test files run side by side) the 300 ms below can take seconds.
  const s0p = connectTcp({ self: 's0', session: 'r', parties: ['s0', 's1'], addresses: { s1: { host: HOST, port } }, connectTimeoutMs: 30_000, retryDelayMs: 20 });
  s0p.catch(() => undefined); // awaited below; a failure before that must not be an unhandled rejection
  await new Promise((r) => setTimeout(r, 300));
  const listener = await listenTcp({ port });
  const s1 = await connectTcp({ self: 's1', session: 'r', parties: ['s0', 's1'], listener, addresses: {} });
  const s0 = await s0p;
  s1.send('s0', 'late', new Uint8Array(3));
  t.is((await s0.recv('s1', 'late')).byteLength, 3);
  await Promise.all([s0.close(), s1.close()]);

  const started = Date.now();
  const e = await t.throwsAsync(connectTcp({ self: 's0', session: 'r', parties: ['s0', 's1'], addresses: { s1: { host: HOST, port } }, connectTimeoutMs: 300 }), { code: 'ERR_PEER_UNREACHABLE' });
  t.regex(e!.message, /no connection to s1 within 300 ms/);
  t.true(Date.now() - started < 2000);
  // A listener whose peers never come also gives up.
  const lonely = await listenTcp();
  await t.throwsAsync(connectTcp({ self: 's1', session: 'r', parties: ['s0', 's1'], listener: lonely, addresses: {}, connectTimeoutMs: 200 }), { code: 'ERR_PEER_UNREACHABLE', message: /s0/ });
});

test('shared secret: matching secrets connect; a wrong or missing secret is ERR_AUTH; the secret never travels', async (t) => {
  const secret = 'correct horse battery staple';
  const links = await createTcpNetwork('auth', ['s0', 's1', 'dealer'], { secret });
  links.get('dealer')!.send('s0', 'seed', new Uint8Array(32).fill(9));
  t.is((await links.get('s0')!.recv('dealer', 'seed'))[31], 9);
  await Promise.all([...links.values()].map((l) => l.close()));

  const errors: SecpError[] = [];
  const listener = await listenTcp();
  const s1p = connectTcp({ self: 's1', session: 'auth', parties: ['s0', 's1'], listener, addresses: {}, secret, connectTimeoutMs: 1500, onConnectionError: (e) => errors.push(e) });
  const wrong = await t.throwsAsync(connectTcp({ self: 's0', session: 'auth', parties: ['s0', 's1'], addresses: { s1: listener.address }, secret: 'Tr0ub4dor&3 is not it' }), { code: 'ERR_AUTH' });
  t.regex(wrong!.message, /s1 failed shared-secret authentication/);
  await t.throwsAsync(connectTcp({ self: 's0', session: 'auth', parties: ['s0', 's1'], addresses: { s1: listener.address } }), { code: 'ERR_AUTH', message: /requires a shared secret/ });
  // A hand-made dialer sees a MAC, not the secret, and a bad answer is refused.
  const raw = await RawPeer.connect(listener.address);
  raw.frame({ magic: 'SECP', v: PROTOCOL_VERSION, k: 'hello', s: 'auth', f: 's0', t: 's1', n: randomBytes(32), x: true });
  const welcome = await raw.next();
  t.is((welcome['a'] as Uint8Array).byteLength, 32);
  t.false(encodeFrame(welcome, 1 << 20).includes(Buffer.from(secret)));
  raw.frame({ magic: 'SECP', v: PROTOCOL_VERSION, k: 'auth', a: randomBytes(32) });
  t.like(await raw.next(), { k: 'reject', e: 'ERR_AUTH' });
  const e = await t.throwsAsync(s1p, { code: 'ERR_PEER_UNREACHABLE' });
  t.is((e!.cause as SecpError).code, 'ERR_AUTH');
  t.true(errors.length >= 3 && errors.every((x) => x.code === 'ERR_AUTH'), errors.map((x) => x.code).join());
  await t.throwsAsync(connectTcp({ self: 's0', session: 'a', parties: ['s0', 's1'], addresses: { s1: listener.address }, secret: 'short' }), { code: 'ERR_INVALID_ARGUMENT', message: /secret/ });
});

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

(hasOpenssl ? test : test.skip)('TLS with a self-signed certificate (skipped when the openssl CLI is missing)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'secp-tls-'));
  try {
    const gen = (name: string): TcpTlsOptions => {
      const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
      return { key: readFileSync(join(dir, `${name}.key`)), cert: readFileSync(join(dir, `${name}.crt`)) };
    };
    const a = gen('a');
    const other = gen('other');
    const tls: TcpTlsOptions = { ...a, ca: a.cert };
    const links = await createTcpNetwork('tls', ['s0', 's1', 'dealer'], { tls, secret: 'and a shared secret on top' });
    const big = randomBytes(1 << 20);
    links.get('s0')!.send('s1', 'open', big);
    t.is(sha(await links.get('s1')!.recv('s0', 'open')), sha(big));
    t.true(links.get('s0')!.meter.wire().bytesSent > big.length);
    await Promise.all([...links.values()].map((l) => l.close()));
    // A dialer that does not trust the listener's certificate is refused.
    const listener = await listenTcp({ tls });
    const s1p = connectTcp({ self: 's1', session: 'tls', parties: ['s0', 's1'], listener, addresses: {}, tls, connectTimeoutMs: 1000 });
    await t.throwsAsync(connectTcp({ self: 's0', session: 'tls', parties: ['s0', 's1'], addresses: { s1: listener.address }, tls: { ...other, ca: other.cert }, connectTimeoutMs: 1000 }), { code: 'ERR_AUTH' });
    await t.throwsAsync(s1p, { code: 'ERR_PEER_UNREACHABLE' });
    await t.throwsAsync(connectTcp({ self: 's1', session: 'tls', parties: ['s0', 's1'], listener, addresses: {} }), { code: 'ERR_INVALID_ARGUMENT', message: /TLS/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('large bodies both ways and many queued messages arrive intact (backpressure)', async (t) => {
  const links = await createTcpNetwork('big', ['s0', 's1']);
  const s0 = links.get('s0')!;
  const s1 = links.get('s1')!;
  const a = randomBytes(64 << 20);
  const b = randomBytes(48 << 20);
  s0.send('s1', 'big', a);
  s1.send('s0', 'big', b);
  const small: Buffer[] = [];
  for (let i = 0; i < 200; i++) {
    small.push(randomBytes(256 << 10));
    s0.send('s1', 'many', small[i]!);
  }
  const [ra, rb] = await Promise.all([s1.recv('s0', 'big'), s0.recv('s1', 'big')]);
  t.is(sha(ra), sha(a));
  t.is(sha(rb), sha(b));
  t.true(ra.byteOffset === 0 && ra.buffer.byteLength === ra.byteLength);
  for (let i = 0; i < 200; i++) {
    const m = await s1.recv('s0', 'many');
    if (sha(m) !== sha(small[i]!)) t.fail(`message ${i} differs`);
  }
  const snap = s0.meter.snapshot();
  const wire = s0.meter.wire();
  t.is(snap.total.bytesSent, a.length + 200 * (256 << 10));
  t.is(wire.framesSent, 201);
  t.true(wire.bytesSent > snap.total.bytesSent && wire.bytesSent < snap.total.bytesSent + 201 * 64);
  await Promise.all([s0.close(), s1.close()]);
});

test('maxFrameBytes bounds the whole frame at the sender as well', async (t) => {
  const links = await createTcpNetwork('lim', ['s0', 's1'], { maxFrameBytes: 4096 });
  const s0 = links.get('s0')!;
  s0.send('s1', 'fits', new Uint8Array(4000));
  t.is((await links.get('s1')!.recv('s0', 'fits')).byteLength, 4000);
  t.throws(() => s0.send('s1', 'x', new Uint8Array(4097)), { code: 'ERR_FRAME_TOO_LARGE', message: /body of 4097 bytes/ });
  // A body under the limit whose frame (header included) is over it: refused too, and fatal.
  const links2 = await createTcpNetwork('lim', ['s0', 's1'], { maxFrameBytes: 4096 });
  t.throws(() => links2.get('s0')!.send('s1', 'x', new Uint8Array(4096)), { code: 'ERR_FRAME_TOO_LARGE', message: /frame for op 'x'/ });
  await t.throwsAsync(links2.get('s1')!.recv('s0', 'x'), { code: 'ERR_PEER_CLOSED' });
  await Promise.all([...links.values(), ...links2.values()].map((l) => l.close()));
});
