/**
 * TCP transport (optionally TLS): one connection per pair of parties, length-prefixed msgpackr frames
 * (see frame.ts), a handshake that binds each connection to a session and a party, and optional
 * shared-secret authentication.
 *
 * Mesh rule: of each pair, the party that comes first in PARTY_IDS dials the other; every party that
 * has a lower-ranked peer listens. Each party first calls `listenTcp` (port 0 picks an ephemeral port),
 * the addresses are exchanged out of band, then every party calls `connectTcp`, which resolves once the
 * whole mesh is up. The listener stops accepting as soon as the mesh is complete.
 *
 * Handshake (dialer D, acceptor A), every frame a msgpackr map with magic 'SECP' and version v:
 *   D -> A  hello   {s: session, f: D, t: A, n: nonceD (32 B), x: whether D uses a secret}
 *   A -> D  welcome {s, f: A, t: D, n: nonceA (32 B), a: HMAC(secret, "acceptor"|s|D|A|nonceD|nonceA)}
 *   D -> A  auth    {a: HMAC(secret, "dialer"|s|D|A|nonceD|nonceA)}
 *   A -> D  ok
 * Either side may answer `reject {e: code, m: message}` and close instead. The secret never travels;
 * both MACs cover both fresh nonces, so a recorded handshake cannot be replayed. Until a peer has
 * authenticated, frames are limited to NET_DEFAULTS.handshakeMaxFrameBytes. Over TLS the same
 * handshake runs inside the TLS channel (give `ca` to verify the peer's certificate; the listener then
 * also asks the dialer for one).
 *
 * Connections that fail the handshake (garbage, wrong magic/version/session, wrong secret, oversized
 * frame) are closed and reported to `onConnectionError`; they do not end the set-up, so a stray
 * connection cannot stop a session from forming. A dialer that is rejected fails at once with the
 * reason; a peer that never shows up fails the set-up with ERR_PEER_UNREACHABLE after connectTimeoutMs.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { SecpError } from '../../bindings/errors.js';
import { checkVersion, isControl, parseEnvelope, type Envelope } from './envelope.js';
import { FrameParser, decodeFrame, encodeDataFrame, encodeFrame, type ReadFrame } from './frame.js';
import { BaseLink } from './link.js';
import {
  NET_DEFAULTS,
  MAX_FRAME_BYTES_LIMIT,
  PROTOCOL_VERSION,
  checkIntOption,
  checkLabel,
  checkParties,
  isPartyId,
  partyRank,
  resolveLinkOptions,
  type Link,
  type LinkOptions,
  type PartyId,
  type ResolvedLinkOptions,
} from './types.js';

export const HANDSHAKE_MAGIC = 'SECP';
const NONCE_BYTES = 32;
const MIN_SECRET_BYTES = 16;
/** Unattached connections a listener holds before `connectTcp` takes it over. */
const MAX_PENDING_CONNECTIONS = 16;
/** How long `close` waits for a peer to acknowledge the end of a connection before destroying it. */
const CLOSE_GRACE_MS = 2000;

export interface TcpAddress {
  host: string;
  port: number;
}

/** TLS material; the same object serves the listener and the dialer of one party. */
export interface TcpTlsOptions {
  key: string | Buffer;
  cert: string | Buffer;
  /** Trusted CA certificate(s). When given, the listener also requires and verifies client certificates. */
  ca?: string | Buffer | (string | Buffer)[];
  /** Default true. */
  rejectUnauthorized?: boolean;
  /** Name to verify in the peer's certificate when it differs from the host dialled. */
  servername?: string;
}

export interface TcpListenOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (an ephemeral port). */
  port?: number;
  tls?: TcpTlsOptions;
}

export interface TcpConnectOptions extends LinkOptions {
  self: PartyId;
  session: string;
  /** Every party of the session, self included. */
  parties: readonly PartyId[];
  /** This party's listener; required when a party ranked below self takes part. */
  listener?: TcpListener;
  /** Listen address of every party ranked above self (others are not dialled). */
  addresses: Partial<Record<PartyId, TcpAddress>>;
  /** Shared secret for mutual challenge/response authentication, at least 16 bytes; all parties or none. */
  secret?: string | Uint8Array;
  /** Dial with TLS; must match how the peers listen. */
  tls?: TcpTlsOptions;
  /** Default NET_DEFAULTS.connectTimeoutMs: limit for the whole mesh to form. */
  connectTimeoutMs?: number;
  /** Default NET_DEFAULTS.handshakeTimeoutMs: limit for one incoming connection's handshake. */
  handshakeTimeoutMs?: number;
  /** Default NET_DEFAULTS.retryDelayMs: pause between attempts to dial a peer that is not up yet. */
  retryDelayMs?: number;
  /** Called for every incoming connection that is rejected (the set-up goes on). */
  onConnectionError?: (err: SecpError) => void;
  /** Default NET_DEFAULTS.earlyBytesPerPeer: bytes held per peer for messages that arrive before the mesh is up. */
  earlyBytesPerPeer?: number;
  /** Default NET_DEFAULTS.earlyBytesTotal: the same over every peer of this set-up. */
  earlyBytesTotal?: number;
  /** Default NET_DEFAULTS.maxUnauthenticatedConnections: incoming connections in their handshake at once. */
  maxUnauthenticatedConnections?: number;
  /** Aborting it fails the set-up (ERR_ABORTED) and closes the listener. */
  signal?: AbortSignal;
}

type Sock = net.Socket;

/** The bound on messages held before the link exists, shared by the channels of one set-up. */
interface EarlyBudget {
  perPeer: number;
  total: number;
  /** Bytes held now over every channel of the set-up. */
  used: number;
}

/** A socket carrying frames: parser, write queue with backpressure, handshake and message modes. */
class FramedSocket {
  private readonly parser: FrameParser;
  private mode: 'handshake' | 'link' = 'handshake';
  // Handshake mode: decoded frames and the one waiting reader.
  private hsFrames: unknown[] = [];
  private hsWaiter: { resolve: (x: unknown) => void; reject: (e: Error) => void } | undefined;
  /** Dialer: switch to message mode on the 'ok' frame itself, before the parser reads what follows. */
  switchOnOk: number | undefined;
  // Message mode: envelopes that arrived before the link existed, then the link's callbacks.
  private pending: [Envelope, number][] = [];
  /** Wire bytes of `pending`, counted in `budget` as well. */
  private pendingBytes = 0;
  /** Reading stopped because the early messages reached the budget; resumed by `attach`. */
  private paused = false;
  private sink: ((env: Envelope, wireBytes: number) => void) | undefined;
  private onGone: ((reason: SecpError) => void) | undefined;
  sawGoodbye = false;
  // Writing.
  private queue: Uint8Array[] = [];
  private blocked = false;
  private idle: (() => void)[] = [];
  // Closing.
  private failure: SecpError | undefined;
  private socketError: Error | undefined;
  closed = false;
  readonly whenClosed: Promise<void>;

  constructor(readonly socket: Sock, public label: string, private readonly budget?: EarlyBudget) {
    this.parser = new FrameParser(NET_DEFAULTS.handshakeMaxFrameBytes);
    socket.setNoDelay(true);
    let onClosed!: () => void;
    this.whenClosed = new Promise((r) => (onClosed = r));
    socket.on('data', (chunk: Buffer) => {
      if (this.failure !== undefined) return;
      try {
        this.parser.push(chunk, (f) => this.onFrame(f));
      } catch (e) {
        const code = e instanceof SecpError ? e.code : 'ERR_MALFORMED_FRAME';
        this.fail(new SecpError(code, `${this.label}: ${(e as Error).message}`, { cause: e }));
        return;
      }
      this.holdBack();
    });
    socket.on('error', (e) => {
      this.socketError ??= e;
    });
    socket.on('close', () => {
      this.closed = true;
      this.releaseEarly();
      this.releaseIdle();
      const reason = this.closeReason();
      if (this.hsWaiter !== undefined) {
        this.hsWaiter.reject(reason);
        this.hsWaiter = undefined;
      }
      this.onGone?.(reason);
      onClosed();
    });
  }

  closeReason(): SecpError {
    return this.failure ?? new SecpError('ERR_PEER_CLOSED', `${this.label} closed${this.socketError ? ` (${this.socketError.message})` : ''}`, { cause: this.socketError });
  }

  /** Drops the connection because of what the peer sent. */
  fail(err: SecpError): void {
    this.failure ??= err;
    this.socket.destroy();
  }

  private onFrame(f: ReadFrame): void {
    if (this.mode === 'handshake') {
      const obj = decodeFrame(f.doc);
      if (this.switchOnOk !== undefined && isRecord(obj) && obj['k'] === 'ok') this.toLinkMode(this.switchOnOk);
      if (this.hsWaiter !== undefined) {
        const w = this.hsWaiter;
        this.hsWaiter = undefined;
        w.resolve(obj);
      } else {
        if (this.hsFrames.length > 4) throw new SecpError('ERR_PROTOCOL_MISMATCH', `${this.label}: unexpected handshake frames`);
        this.hsFrames.push(obj);
      }
      return;
    }
    const obj = decodeFrame(f.doc);
    if (f.body !== undefined) {
      if (!isRecord(obj) || 'b' in obj) throw new SecpError('ERR_MALFORMED_FRAME', `${this.label}: data frame header is not a map of its own fields`);
      obj['b'] = f.body;
    }
    const env = parseEnvelope(obj);
    if (isControl(env)) this.sawGoodbye = true;
    if (this.sink !== undefined) return this.sink(env, f.wireBytes);
    this.pending.push([env, f.wireBytes]);
    this.pendingBytes += f.wireBytes;
    if (this.budget !== undefined) this.budget.used += f.wireBytes;
  }

  /**
   * Before the link exists: stops reading once what this peer sent (complete messages and the frame being
   * read) reaches the per-peer bound, or everything held in the set-up reaches the total. The peer's own
   * writes then wait in its socket buffers, so a peer that floods before the mesh is up holds at most the
   * bound (plus one read chunk) here.
   */
  private holdBack(): void {
    const b = this.budget;
    if (b === undefined || this.sink !== undefined || this.mode !== 'link' || this.paused || this.closed) return;
    const partial = this.parser.pendingBytes;
    if (this.pendingBytes + partial >= b.perPeer || b.used + partial >= b.total) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private releaseEarly(): void {
    if (this.budget !== undefined) this.budget.used -= this.pendingBytes;
    this.pendingBytes = 0;
  }

  /** Next handshake frame, or the reason the connection ended, or a timeout. */
  nextFrame(deadline: number, what: string): Promise<unknown> {
    const queued = this.hsFrames.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closed) return Promise.reject(this.closeReason());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.hsWaiter = undefined;
        reject(new SecpError('ERR_PEER_TIMEOUT', `${this.label}: no ${what} within the time allowed`));
      }, Math.max(0, deadline - Date.now()));
      this.hsWaiter = {
        resolve: (x) => {
          clearTimeout(timer);
          resolve(x);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** After a successful handshake: raise the frame limit and parse messages from now on. */
  toLinkMode(maxFrameBytes: number): void {
    this.mode = 'link';
    this.parser.maxFrameBytes = maxFrameBytes;
    this.parser.splitBodies = true;
    this.switchOnOk = undefined;
  }

  /** Hands the connection to a link: delivers what arrived so far, then everything else. */
  attach(sink: (env: Envelope, wireBytes: number) => void, onGone: (reason: SecpError) => void): void {
    this.sink = sink;
    this.onGone = onGone;
    const early = this.pending;
    this.pending = [];
    this.releaseEarly();
    for (const [env, wire] of early) sink(env, wire);
    if (this.closed) onGone(this.closeReason());
    else if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /** Set-up only: what to do if the connection ends before a link takes it over. */
  onEarlyClose(cb: (reason: SecpError) => void): void {
    this.onGone = cb;
  }

  /** Queues a frame; stops writing while the socket's buffer is full and resumes on 'drain'. */
  write(frame: Uint8Array): void {
    if (this.closed || this.socket.destroyed) return;
    if (this.blocked) {
      this.queue.push(frame);
      return;
    }
    if (!this.socket.write(frame)) this.block();
  }

  private block(): void {
    this.blocked = true;
    this.socket.once('drain', () => this.drain());
  }

  private drain(): void {
    this.blocked = false;
    let i = 0;
    while (i < this.queue.length) {
      if (!this.socket.write(this.queue[i++]!)) {
        this.queue = this.queue.slice(i);
        this.block();
        return;
      }
    }
    this.queue = [];
    this.releaseIdle();
  }

  private releaseIdle(): void {
    const ws = this.idle;
    this.idle = [];
    for (const w of ws) w();
  }

  /**
   * Flushes queued frames (for at most CLOSE_GRACE_MS when `hurry`), ends the connection and waits
   * briefly for the peer to close its side.
   */
  async end(hurry = false): Promise<void> {
    if (this.closed) return;
    let timer: NodeJS.Timeout | undefined;
    const grace = (): Promise<void> => new Promise<void>((r) => (timer = setTimeout(r, CLOSE_GRACE_MS)));
    if (this.blocked) {
      const drained = new Promise<void>((r) => this.idle.push(r));
      await (hurry ? Promise.race([drained, grace()]) : drained);
      clearTimeout(timer);
    }
    if (!this.closed && !this.blocked) this.socket.end();
    await Promise.race([this.whenClosed, grace()]);
    clearTimeout(timer);
    if (!this.closed) this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !ArrayBuffer.isView(x);
}

/** A listening socket that holds incoming connections until `connectTcp` takes them over. */
export class TcpListener {
  /** Held connections and the listeners we put on them (removed again when they are handed over). */
  private pending = new Map<Sock, { onError: () => void; onClose: () => void }>();
  private consumer: ((s: Sock) => void) | undefined;
  private onError: ((e: SecpError) => void) | undefined;
  private closed = false;

  private constructor(private readonly server: net.Server, readonly address: TcpAddress, readonly tls: boolean) {
    const accept = (s: Sock): void => {
      if (this.consumer !== undefined) return this.consumer(s);
      if (this.closed || this.pending.size >= MAX_PENDING_CONNECTIONS) {
        s.destroy();
        return;
      }
      const hooks = { onError: (): void => undefined, onClose: (): void => void this.pending.delete(s) };
      this.pending.set(s, hooks);
      s.on('error', hooks.onError);
      s.on('close', hooks.onClose);
    };
    if (tls) {
      server.on('secureConnection', accept);
      server.on('tlsClientError', (e: Error) => this.onError?.(new SecpError('ERR_AUTH', `TLS handshake with an incoming connection failed: ${e.message}`, { cause: e })));
    } else {
      server.on('connection', accept);
    }
    server.on('error', () => undefined);
  }

  /** Starts listening; see `listenTcp`. */
  static async open(opts: TcpListenOptions = {}): Promise<TcpListener> {
    const host = opts.host ?? '127.0.0.1';
    const port = checkIntOption('port', opts.port ?? 0, 0, 65535);
    const server: net.Server = opts.tls
      ? tls.createServer({
          key: opts.tls.key,
          cert: opts.tls.cert,
          ca: opts.tls.ca,
          requestCert: opts.tls.ca !== undefined,
          rejectUnauthorized: opts.tls.rejectUnauthorized ?? true,
        })
      : net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new SecpError('ERR_INVALID_ARGUMENT', `cannot listen on ${host}:${port}: ${e.message}`, { cause: e })));
      server.listen({ host, port }, () => resolve());
    });
    const a = server.address() as net.AddressInfo;
    return new TcpListener(server, { host: a.address, port: a.port }, opts.tls !== undefined);
  }

  /** Set-up: takes over incoming connections (once per listener). */
  attach(consumer: (s: Sock) => void, onError: (e: SecpError) => void): void {
    if (this.consumer !== undefined || this.closed) throw new SecpError('ERR_INVALID_ARGUMENT', 'a TcpListener serves one connectTcp call');
    this.consumer = consumer;
    this.onError = onError;
    const held = [...this.pending];
    this.pending.clear();
    for (const [s, hooks] of held) {
      s.off('error', hooks.onError);
      s.off('close', hooks.onClose);
      if (s.destroyed) continue;
      consumer(s);
    }
  }

  /** Stops accepting; connections already handed to a link stay open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.consumer = (s) => s.destroy();
    for (const s of this.pending.keys()) s.destroy();
    this.pending.clear();
    this.server.close();
  }
}

/** Listens for the peers of one session on host:port (port 0: ephemeral; read `listener.address`). */
export function listenTcp(opts?: TcpListenOptions): Promise<TcpListener> {
  return TcpListener.open(opts);
}

class TcpLink extends BaseLink {
  constructor(self: PartyId, session: string, parties: readonly PartyId[], opts: ResolvedLinkOptions, private readonly channels: Map<PartyId, FramedSocket>) {
    super(self, session, parties, opts);
    for (const [peer, ch] of channels) {
      ch.attach(
        (env, wire) => {
          this.meter.countWireReceived(wire);
          this.deliver(peer, env);
        },
        (reason) => this.peerLost(peer, reason),
      );
    }
  }

  protected transmit(to: PartyId, env: Envelope): void {
    const ch = this.channels.get(to)!;
    const frame = isControl(env) ? encodeFrame({ ...env }, this.opts.maxFrameBytes) : encodeDataFrame(env, this.opts.maxFrameBytes);
    ch.write(frame);
    this.meter.countWireSent(frame.byteLength);
  }

  protected async shutdown(aborted: boolean): Promise<void> {
    await Promise.all([...this.channels.values()].map((c) => c.end(aborted)));
  }
}

interface HandshakeContext {
  self: PartyId;
  session: string;
  secret: Buffer | undefined;
  maxFrameBytes: number;
}

function hsFrame(k: string, fields: Record<string, unknown>): Buffer {
  return encodeFrame({ magic: HANDSHAKE_MAGIC, v: PROTOCOL_VERSION, k, ...fields }, NET_DEFAULTS.handshakeMaxFrameBytes);
}

const PASS_THROUGH_CODES = new Set(['ERR_AUTH', 'ERR_VERSION_MISMATCH', 'ERR_PROTOCOL_MISMATCH', 'ERR_MALFORMED_FRAME', 'ERR_FRAME_TOO_LARGE', 'ERR_PEER_TIMEOUT']);

/** Checks a handshake frame's magic, version and kind; turns a peer's `reject` into its error. */
function expectHandshake(obj: unknown, kind: string, from: string): Record<string, unknown> {
  if (!isRecord(obj)) throw new SecpError('ERR_MALFORMED_FRAME', `${from}: handshake frame is not a map`);
  if (obj['magic'] !== HANDSHAKE_MAGIC) throw new SecpError('ERR_MALFORMED_FRAME', `${from}: not a secp-tuning peer (bad magic)`);
  checkVersion(obj['v']);
  if (obj['k'] === 'reject') {
    const e = typeof obj['e'] === 'string' && PASS_THROUGH_CODES.has(obj['e']) ? obj['e'] : 'ERR_PROTOCOL_MISMATCH';
    const m = typeof obj['m'] === 'string' ? obj['m'].slice(0, 500) : '';
    throw new SecpError(e, `${from} rejected the connection: ${m}`);
  }
  if (obj['k'] !== kind) throw new SecpError('ERR_MALFORMED_FRAME', `${from}: expected handshake '${kind}', got ${JSON.stringify(String(obj['k']).slice(0, 20))}`);
  return obj;
}

function nonceOf(obj: Record<string, unknown>, from: string): Buffer {
  const n = obj['n'];
  if (!(n instanceof Uint8Array) || n.byteLength !== NONCE_BYTES) throw new SecpError('ERR_MALFORMED_FRAME', `${from}: handshake nonce must be ${NONCE_BYTES} bytes`);
  return Buffer.from(n);
}

function authMac(secret: Buffer, role: 'acceptor' | 'dialer', session: string, dialer: PartyId, acceptor: PartyId, nD: Buffer, nA: Buffer): Buffer {
  const h = createHmac('sha256', secret);
  for (const part of ['secp-tuning tcp auth v1', role, session, dialer, acceptor]) {
    const b = Buffer.from(part, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    h.update(len).update(b);
  }
  return h.update(nD).update(nA).digest();
}

function macMatches(got: unknown, want: Buffer): boolean {
  return got instanceof Uint8Array && got.byteLength === want.byteLength && timingSafeEqual(got, want);
}

/** Dialer side of the handshake; resolves when the acceptor said 'ok'. */
async function dialerHandshake(ch: FramedSocket, ctx: HandshakeContext, peer: PartyId, deadline: number): Promise<void> {
  const nD = randomBytes(NONCE_BYTES);
  ch.write(hsFrame('hello', { s: ctx.session, f: ctx.self, t: peer, n: nD, x: ctx.secret !== undefined }));
  const w = expectHandshake(await ch.nextFrame(deadline, 'welcome'), 'welcome', peer);
  if (w['s'] !== ctx.session || w['f'] !== peer || w['t'] !== ctx.self) {
    throw new SecpError('ERR_PROTOCOL_MISMATCH', `${ctx.self}: the listener at ${ch.label} answered as ${String(w['f'])} of session ${JSON.stringify(w['s'])}, expected ${peer} of ${JSON.stringify(ctx.session)}`);
  }
  const nA = nonceOf(w, peer);
  let a: Buffer | undefined;
  if (ctx.secret !== undefined) {
    if (!macMatches(w['a'], authMac(ctx.secret, 'acceptor', ctx.session, ctx.self, peer, nD, nA))) {
      ch.write(hsFrame('reject', { e: 'ERR_AUTH', m: `${ctx.self} could not authenticate ${peer}` }));
      throw new SecpError('ERR_AUTH', `${ctx.self}: ${peer} failed shared-secret authentication (wrong secret?)`);
    }
    a = authMac(ctx.secret, 'dialer', ctx.session, ctx.self, peer, nD, nA);
  }
  ch.switchOnOk = ctx.maxFrameBytes;
  ch.write(hsFrame('auth', a === undefined ? {} : { a }));
  expectHandshake(await ch.nextFrame(deadline, 'ok'), 'ok', peer);
}

/** Acceptor side of the handshake; returns the authenticated peer. */
async function acceptorHandshake(ch: FramedSocket, ctx: HandshakeContext, expected: ReadonlySet<PartyId>, deadline: number): Promise<PartyId> {
  const h = expectHandshake(await ch.nextFrame(deadline, 'hello'), 'hello', ch.label);
  const from = h['f'];
  if (h['s'] !== ctx.session) {
    // The peer has not authenticated: it learns that its session is wrong, not which one this is.
    throw Object.assign(new SecpError('ERR_PROTOCOL_MISMATCH', `${ctx.self}: a peer wants session ${JSON.stringify(String(h['s']).slice(0, 64))}, this is ${JSON.stringify(ctx.session)}`), {
      peerMessage: `${ctx.self} serves another session (a different job file?)`,
    });
  }
  if (h['t'] !== ctx.self) throw new SecpError('ERR_PROTOCOL_MISMATCH', `${ctx.self}: a peer dialled ${String(h['t'])}, this is ${ctx.self}`);
  if (!isPartyId(from) || !expected.has(from)) throw new SecpError('ERR_PROTOCOL_MISMATCH', `${ctx.self}: ${String(from).slice(0, 20)} is not a party that dials ${ctx.self} in this session`);
  if (typeof h['x'] !== 'boolean') throw new SecpError('ERR_MALFORMED_FRAME', `${ctx.self}: hello from ${from} lacks the auth flag`);
  if (h['x'] !== (ctx.secret !== undefined)) {
    throw new SecpError('ERR_AUTH', ctx.secret !== undefined ? `${ctx.self} requires a shared secret and ${from} has none` : `${from} uses a shared secret and ${ctx.self} has none`);
  }
  const nD = nonceOf(h, from);
  const nA = randomBytes(NONCE_BYTES);
  const welcome: Record<string, unknown> = { s: ctx.session, f: ctx.self, t: from, n: nA };
  if (ctx.secret !== undefined) welcome['a'] = authMac(ctx.secret, 'acceptor', ctx.session, from, ctx.self, nD, nA);
  ch.write(hsFrame('welcome', welcome));
  const auth = expectHandshake(await ch.nextFrame(deadline, 'auth'), 'auth', from);
  if (ctx.secret !== undefined && !macMatches(auth['a'], authMac(ctx.secret, 'dialer', ctx.session, from, ctx.self, nD, nA))) {
    throw new SecpError('ERR_AUTH', `${ctx.self}: ${from} failed shared-secret authentication (wrong secret?)`);
  }
  return from;
}

const RETRYABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE', 'ERR_PEER_CLOSED']);

function openSocket(addr: TcpAddress, tlsOpts: TcpTlsOptions | undefined, timeoutMs: number): Promise<Sock> {
  return new Promise((resolve, reject) => {
    const s: Sock = tlsOpts
      ? tls.connect({ host: addr.host, port: addr.port, key: tlsOpts.key, cert: tlsOpts.cert, ca: tlsOpts.ca, rejectUnauthorized: tlsOpts.rejectUnauthorized ?? true, servername: tlsOpts.servername })
      : net.connect({ host: addr.host, port: addr.port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(Object.assign(new Error(`connection attempt to ${addr.host}:${addr.port} timed out`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    const onError = (e: Error): void => {
      clearTimeout(timer);
      s.destroy();
      reject(e);
    };
    s.once('error', onError);
    s.once(tlsOpts ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      s.off('error', onError);
      resolve(s);
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Joins the TCP mesh of a session as `opts.self`; resolves when every peer is connected and authenticated. */
export async function connectTcp(opts: TcpConnectOptions): Promise<Link> {
  if (!isPartyId(opts.self)) throw new SecpError('ERR_INVALID_ARGUMENT', `option self must be a party id, got ${JSON.stringify(opts.self)}`);
  const self = opts.self;
  const session = checkLabel('session', opts.session);
  const parties = checkParties(opts.parties, self);
  const linkOpts = resolveLinkOptions(opts);
  const connectTimeoutMs = checkIntOption('connectTimeoutMs', opts.connectTimeoutMs ?? NET_DEFAULTS.connectTimeoutMs, 1, 2 ** 31 - 1);
  const handshakeTimeoutMs = checkIntOption('handshakeTimeoutMs', opts.handshakeTimeoutMs ?? NET_DEFAULTS.handshakeTimeoutMs, 1, 2 ** 31 - 1);
  const retryDelayMs = checkIntOption('retryDelayMs', opts.retryDelayMs ?? NET_DEFAULTS.retryDelayMs, 1, 60_000);
  const budget: EarlyBudget = {
    perPeer: checkIntOption('earlyBytesPerPeer', opts.earlyBytesPerPeer ?? NET_DEFAULTS.earlyBytesPerPeer, 1, MAX_FRAME_BYTES_LIMIT),
    total: checkIntOption('earlyBytesTotal', opts.earlyBytesTotal ?? NET_DEFAULTS.earlyBytesTotal, 1, 2 ** 40),
    used: 0,
  };
  const maxUnauthenticated = checkIntOption('maxUnauthenticatedConnections', opts.maxUnauthenticatedConnections ?? NET_DEFAULTS.maxUnauthenticatedConnections, 1, 4096);
  let secret: Buffer | undefined;
  if (opts.secret !== undefined) {
    secret = typeof opts.secret === 'string' ? Buffer.from(opts.secret, 'utf8') : Buffer.from(opts.secret);
    if (secret.length < MIN_SECRET_BYTES) throw new SecpError('ERR_INVALID_ARGUMENT', `option secret must have at least ${MIN_SECRET_BYTES} bytes, got ${secret.length}`);
  }
  const dial = parties.filter((p) => partyRank(p) > partyRank(self));
  const acceptFrom = new Set(parties.filter((p) => partyRank(p) < partyRank(self)));
  for (const p of dial) {
    const a = opts.addresses?.[p];
    if (a === undefined || typeof a.host !== 'string') throw new SecpError('ERR_INVALID_ARGUMENT', `${self} dials ${p}, so addresses.${p} must be given`);
    checkIntOption(`addresses.${p}.port`, a.port, 1, 65535);
  }
  const listener = opts.listener;
  if (acceptFrom.size > 0 && listener === undefined) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `${self} accepts connections from ${[...acceptFrom].join(', ')}, so option listener is required`);
  }
  if (listener !== undefined && listener.tls !== (opts.tls !== undefined)) {
    throw new SecpError('ERR_INVALID_ARGUMENT', `listener ${listener.tls ? 'uses' : 'does not use'} TLS but option tls is ${opts.tls ? 'set' : 'not set'}; use TLS on every connection or none`);
  }
  const ctx: HandshakeContext = { self, session, secret, maxFrameBytes: linkOpts.maxFrameBytes };
  const deadline = Date.now() + connectTimeoutMs;
  const channels = new Map<PartyId, FramedSocket>();
  const live = new Set<FramedSocket>();
  /** Incoming connections in their handshake. */
  let unauthenticated = 0;
  const lastError = new Map<string, Error>();
  let settled = false;

  return new Promise<Link>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;

    function fail(err: Error): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      for (const ch of live) ch.destroy();
      for (const ch of channels.values()) ch.destroy();
      void listener?.close();
      reject(err);
    }

    function commit(peer: PartyId, ch: FramedSocket): void {
      if (settled) return ch.destroy();
      if (channels.has(peer)) {
        ch.write(hsFrame('reject', { e: 'ERR_PROTOCOL_MISMATCH', m: `${peer} is already connected to ${self}` }));
        void ch.end();
        return;
      }
      channels.set(peer, ch);
      ch.onEarlyClose((reason) => {
        if (!ch.sawGoodbye) fail(new SecpError('ERR_PEER_CLOSED', `${self}: ${peer} disconnected during set-up: ${reason.message}`, { cause: reason }));
      });
      if (channels.size < parties.length - 1) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      void listener?.close();
      resolve(new TcpLink(self, session, parties, linkOpts, channels));
    }

    async function dialPeer(peer: PartyId): Promise<void> {
      const addr = opts.addresses[peer]!;
      const label = `${self}: connection to ${peer} (${addr.host}:${addr.port})`;
      while (!settled) {
        const left = deadline - Date.now();
        if (left <= 0) return; // the set-up timer reports it
        let sock: Sock;
        try {
          sock = await openSocket(addr, opts.tls, left);
        } catch (e) {
          const code = (e as { code?: string }).code ?? '';
          if (!RETRYABLE.has(code)) {
            return fail(new SecpError(opts.tls ? 'ERR_AUTH' : 'ERR_PEER_UNREACHABLE', `${label}: ${(e as Error).message}`, { cause: e }));
          }
          lastError.set(peer, e as Error);
          await sleep(Math.min(retryDelayMs, Math.max(0, deadline - Date.now())));
          continue;
        }
        if (settled) {
          sock.destroy();
          return;
        }
        const ch = new FramedSocket(sock, label, budget);
        live.add(ch);
        try {
          await dialerHandshake(ch, ctx, peer, deadline);
        } catch (e) {
          const err = e as SecpError;
          live.delete(ch);
          if (err.code === 'ERR_PEER_CLOSED') {
            // Dropped before a verdict (e.g. the listener was full): try again.
            ch.destroy();
            lastError.set(peer, err);
            await sleep(Math.min(retryDelayMs, Math.max(0, deadline - Date.now())));
            continue;
          }
          void ch.end();
          if (err.code === 'ERR_PEER_TIMEOUT') return; // out of time: the set-up timer reports it
          return fail(err);
        }
        live.delete(ch);
        return commit(peer, ch);
      }
    }

    async function acceptOne(sock: Sock): Promise<void> {
      if (settled) {
        sock.destroy();
        return;
      }
      const from = `${sock.remoteAddress ?? '?'}:${sock.remotePort ?? '?'}`;
      if (unauthenticated >= maxUnauthenticated) {
        sock.destroy();
        const err = new SecpError('ERR_TOO_MANY_CONNECTIONS', `${self}: closed an incoming connection from ${from}: ${maxUnauthenticated} connections are in their handshake already`);
        lastError.set('incoming', err);
        opts.onConnectionError?.(err);
        return;
      }
      const ch = new FramedSocket(sock, `${self}: incoming connection from ${from}`, budget);
      live.add(ch);
      unauthenticated++;
      let peer: PartyId;
      try {
        peer = await acceptorHandshake(ch, ctx, acceptFrom, Math.min(deadline, Date.now() + handshakeTimeoutMs));
      } catch (e) {
        live.delete(ch);
        unauthenticated--;
        const err = e instanceof SecpError ? e : new SecpError('ERR_MALFORMED_FRAME', String(e), { cause: e });
        if (!ch.closed && err.code !== 'ERR_PEER_CLOSED' && err.code !== 'ERR_FRAME_TOO_LARGE' && err.code !== 'ERR_MALFORMED_FRAME') {
          // What the peer is told: the code and a message that reveals nothing of this session it did not send.
          const m = (err as SecpError & { peerMessage?: string }).peerMessage ?? err.message;
          ch.write(hsFrame('reject', { e: err.code, m: m.slice(0, 500) }));
          void ch.end();
        } else {
          ch.destroy();
        }
        lastError.set('incoming', err);
        opts.onConnectionError?.(err);
        return;
      }
      live.delete(ch);
      unauthenticated--;
      if (settled) return ch.destroy();
      ch.label = `${self}: connection from ${peer} (${from})`;
      // Message mode before 'ok' goes out: the dialer may send its first message right after reading it.
      ch.toLinkMode(linkOpts.maxFrameBytes);
      ch.write(hsFrame('ok', {}));
      commit(peer, ch);
    }

    if (listener !== undefined) {
      listener.attach(
        (s) => void acceptOne(s),
        (e) => {
          lastError.set('incoming', e);
          opts.onConnectionError?.(e);
        },
      );
    }
    function onAbort(): void {
      const r: unknown = opts.signal!.reason;
      fail(new SecpError('ERR_ABORTED', `${self}: set-up of session ${session} stopped${r instanceof Error ? `: ${r.message}` : ''}`, { cause: r }));
    }
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    // After attach, which throws for a listener that already served a session.
    timer = setTimeout(() => {
      const missing = parties.filter((p) => p !== self && !channels.has(p));
      const cause = missing.map((p) => lastError.get(p)).find((e) => e !== undefined) ?? lastError.get('incoming');
      fail(new SecpError('ERR_PEER_UNREACHABLE', `${self}: no connection to ${missing.join(', ')} within ${connectTimeoutMs} ms${cause ? ` (last error: ${cause.message})` : ''}`, { cause }));
    }, connectTimeoutMs);
    for (const p of dial) void dialPeer(p);
  });
}

/** Options of `createTcpNetwork`: everything of connectTcp that is the same for every party. */
export type TcpNetworkOptions = Omit<TcpConnectOptions, 'self' | 'session' | 'parties' | 'listener' | 'addresses'> & { host?: string };

/** Test and bench helper: all `parties` of a session in this process, meshed over loopback TCP. */
export async function createTcpNetwork(session: string, parties: readonly PartyId[], opts: TcpNetworkOptions = {}): Promise<Map<PartyId, Link>> {
  const ids = checkParties(parties);
  const listeners = await Promise.all(ids.map(() => listenTcp({ host: opts.host ?? '127.0.0.1', port: 0, tls: opts.tls })));
  const addresses: Partial<Record<PartyId, TcpAddress>> = {};
  ids.forEach((p, i) => (addresses[p] = listeners[i]!.address));
  const results = await Promise.allSettled(ids.map((self, i) => connectTcp({ ...opts, self, session, parties: ids, listener: listeners[i], addresses })));
  await Promise.all(listeners.map((l) => l.close()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(results.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
    throw failed.reason;
  }
  return new Map(ids.map((p, i) => [p, (results[i] as PromiseFulfilledResult<Link>).value]));
}
