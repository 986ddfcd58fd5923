/**
 * Bad input and unsafe set-ups at the CLI: job files without a (long enough) secret, warnings for exposed
 * listeners, rejected connections in the role's log, a failed split ending the role, --out that would be
 * overwritten, sizes out of range or beyond the machine's memory, negative values, resuming under the other
 * forward, a bad config.json. Loopback only.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { writeTinyModel } from '../ts/model/tiny.js';
import { parseCommand } from '../ts/cli/options.js';
import { writeLocalJob } from '../ts/cli/roles.js';
import { TUNE_COMMAND, prepare } from '../ts/cli/tune.js';

const CLI = join(process.cwd(), 'dist', 'ts', 'cli', 'main.js');
const FIXTURES = join(process.cwd(), 'test', 'fixtures');
const root = mkdtempSync(join(tmpdir(), 'secp-clisec-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));
const MODEL = join(root, 'tiny-bert');
writeTinyModel(MODEL, { arch: 'bert', seed: 2, layers: 1, hidden: 16, heads: 2 });

function cli(args: string[], timeout = 60_000) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const TINY = [
  '--model', MODEL, '--train', join(FIXTURES, 'sentiment.jsonl'),
  '--shots', '4', '--dev-shots', '0', '--seq-len', '20', '--prompt-length', '2', '--dim', '6', '--popsize', '4',
  '--threads', '1', '--progress', 'none', '--attention', 'rfa', '--rfa-features', '8',
]; // prettier-ignore

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A job file for the given per-split hosts/ports of every party (the specs are never reached). */
async function jobFile(name: string, extra: Record<string, unknown>, sessions: Record<string, Record<string, { host: string; port: number }>> | undefined = undefined): Promise<string> {
  const addresses = async (host = '127.0.0.1') => Object.fromEntries(await Promise.all(['s0', 's1', 'dealer', 'data', 'model'].map(async (p) => [p, { host, port: await freePort() }])));
  const s = sessions ?? { train: await addresses() };
  const job = { sessions: Object.fromEntries(Object.entries(s).map(([k, a]) => [k, { spec: {}, addresses: a }])), fracBits: 16, logitScale: 20, timeoutSec: 30, ...extra };
  const file = join(root, `${name}.json`);
  writeFileSync(file, JSON.stringify(job));
  return file;
}

test('a job without a secret is refused unless it says "insecure": true; a short secret is refused before listening', async (t) => {
  const none = cli(['serve', '--role', 'dealer', '--job', await jobFile('nosecret', {})]);
  t.is(none.code, 2);
  t.regex(none.stderr, /has no "secret": add one of at least 16 bytes .* or set "insecure": true/);
  // Before: "option secret must have at least 16 bytes" was printed and the dealer went on listening.
  const short = cli(['serve', '--role', 'dealer', '--job', await jobFile('short', { secret: '12345' })], 30_000);
  t.is(short.signal, null, 'the role did not exit');
  t.is(short.code, 2);
  t.regex(short.stderr, /"secret" must be a string of at least 16 bytes, got 5 bytes/);
});

test('a role whose set-up fails in one split exits at once instead of waiting out the others', async (t) => {
  // The dealer's train port is taken, so that split fails; its dev split would otherwise wait 60 s for peers.
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => blocker.close());
  const taken = (blocker.address() as net.AddressInfo).port;
  const ports = async () => Object.fromEntries(await Promise.all(['s0', 's1', 'dealer', 'data', 'model'].map(async (p) => [p, { host: '127.0.0.1', port: await freePort() }])));
  const train = await ports();
  train['dealer'] = { host: '127.0.0.1', port: taken };
  const file = await jobFile('split-fails', { secret: 'a'.repeat(32) }, { train, dev: await ports() });
  const r = cli(['serve', '--role', 'dealer', '--job', file], 40_000);
  t.is(r.signal, null, `the dealer lingered: ${r.stderr}`);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /cannot listen on 127\.0\.0\.1:\d+/);
});

test('an insecure job is warned about, a non-loopback listener without TLS too, and rejected connections are logged', async (t) => {
  const file = await jobFile('insecure', { insecure: true });
  const job = JSON.parse(readFileSync(file, 'utf8')) as { sessions: { train: { addresses: Record<string, { port: number }> } } };
  const port = job.sessions.train.addresses['dealer']!.port;
  const child = spawn(process.execPath, [CLI, 'serve', '--role', 'dealer', '--job', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const until = async (re: RegExp): Promise<boolean> => {
    for (let i = 0; i < 300 && !re.test(stderr); i++) await new Promise((r) => setTimeout(r, 50));
    return re.test(stderr);
  };
  t.true(await until(/WARNING: .*"insecure": true: connections are not authenticated/), stderr);
  // A stranger sends an HTTP request: the dealer closes it and says so.
  let connected = false;
  for (let i = 0; i < 100 && !connected; i++) {
    connected = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (!connected) await new Promise((r) => setTimeout(r, 50));
  }
  t.true(await until(/serve dealer: train session: rejected a connection: .*incoming connection from 127\.0\.0\.1:\d+.* \[ERR_FRAME_TOO_LARGE\]/), stderr);
  child.kill('SIGKILL');

  // Listening beyond loopback: warned (the train port is taken so that the role stops at once).
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => blocker.close());
  const wide = JSON.parse(readFileSync(file, 'utf8')) as { sessions: { train: { addresses: Record<string, { host: string; port: number }> } }; secret?: string; insecure?: boolean };
  wide.sessions.train.addresses['dealer'] = { host: '0.0.0.0', port: (blocker.address() as net.AddressInfo).port };
  writeFileSync(file, JSON.stringify(wide));
  const r = cli(['serve', '--role', 'dealer', '--job', file], 30_000);
  t.regex(r.stderr, /WARNING: .*anyone who can reach 0\.0\.0\.0 can take the place of a party/);
  t.regex(r.stderr, /WARNING: listening on 0\.0\.0\.0 without TLS/);
  // TLS files without "tls": true in the job, and the reverse, are usage errors.
  const tlsOff = cli(['serve', '--role', 'dealer', '--job', file, '--tls-key', file, '--tls-cert', file]);
  t.regex(tlsOff.stderr, /does not say "tls": true/);
  writeFileSync(file, JSON.stringify({ ...wide, tls: true }));
  t.regex(cli(['serve', '--role', 'dealer', '--job', file]).stderr, /says "tls": true: give this process its --tls-key and --tls-cert/);
});

test('tune --processes writes a job with a fresh secret, readable by its owner only', (t) => {
  const r = cli(['tune', '--mpc', '--processes', ...TINY, '--budget', '4', '--progress', 'lines', '--dealer-key', join(root, 'dealer.key')], 180_000);
  t.is(r.code, 0, r.stderr);
  const file = /job (\S+job\.json)/.exec(r.stderr)?.[1];
  t.truthy(file, r.stderr);
  if (!file) return;
  t.true(existsSync(file));
  const job = JSON.parse(readFileSync(file, 'utf8')) as { secret?: string; insecure?: boolean };
  t.regex(job.secret ?? '', /^[0-9a-f]{64}$/);
  t.is(job.insecure, undefined);
  t.is(statSync(file).mode & 0o777, 0o600);
});

test('tune --out refuses to replace a file without --overwrite, like --checkpoint', (t) => {
  const out = join(root, 'exists.json');
  writeFileSync(out, 'keep me\n');
  const r = cli(['tune', '--plaintext', ...TINY, '--budget', '4', '--out', out]);
  t.is(r.code, 2);
  t.regex(r.stderr, /--out .*exists\.json already exists; add --overwrite to replace it/);
  t.is(readFileSync(out, 'utf8'), 'keep me\n');
  const ok = cli(['tune', '--plaintext', ...TINY, '--budget', '4', '--out', out, '--overwrite']);
  t.is(ok.code, 0, ok.stderr);
  t.not(readFileSync(out, 'utf8'), 'keep me\n');
});

test('sizes: out-of-range values are refused up front with the range; in-range sizes beyond the memory with what they need', (t) => {
  const huge = cli(['tune', '--plaintext', ...TINY, '--popsize', '100000000'], 20_000);
  t.is(huge.signal, null);
  t.is(huge.code, 2);
  t.regex(huge.stderr, /--popsize must be an integer in 2\.\.10000, got "100000000" \(with the other sizes at their defaults, a BERT-base run would need about [\d.e+]+ GiB for the MPC forward/);
  const wide = cli(['tune', '--plaintext', ...TINY, '--dim', '20000'], 20_000);
  t.regex(wide.stderr, /--dim must be an integer in 1\.\.10000, got "20000" \(.* about [\d.]+ GiB for the CMA-ES state \(--dim 20000/);
  const big = cli(['tune', '--mpc', ...TINY, '--dim', '10000', '--popsize', '10000', '--shots', '10000', '--seq-len', '4096'], 20_000);
  t.is(big.signal, null);
  t.is(big.code, 2, big.stderr);
  t.regex(big.stderr, /these sizes need about [\d.]+ GiB, more than the [\d.]+ GiB this machine can give/);
  t.regex(big.stderr, /MPC forward \(--popsize 10000 × 20000 examples \(--shots 10000 × 2 labels\) × --seq-len 4096\) [\d.]+ GiB/);
  t.regex(big.stderr, /--popsize 2\.\.10000/);
});

test('negative values say what is wrong with them, not that the value is missing', (t) => {
  for (const [opt, want] of [
    ['--shots', /--shots must be an integer in 1\.\.10000, got "-1"/],
    ['--seq-len', /--seq-len must be an integer in 8\.\.4096, got "-5"/],
    ['--sigma0', /--sigma0 must be a number >= 1e-12, got "-1"/],
  ] as const) {
    const r = cli(['tune', '--plaintext', ...TINY, opt, opt === '--seq-len' ? '-5' : '-1']);
    t.is(r.code, 2);
    t.regex(r.stderr, want);
    t.notRegex(r.stderr, /needs a value/);
  }
});

test('resuming an MPC checkpoint with --plaintext is refused up front, naming the mode to use', (t) => {
  const cp = join(root, 'mpc-cp.json');
  const first = cli(['tune', '--mpc', ...TINY, '--budget', '4', '--checkpoint', cp, '--dealer-key', join(root, 'dealer.key')], 180_000);
  t.is(first.code, 0, first.stderr);
  const r = cli(['tune', '--plaintext', '--checkpoint', cp, '--resume']);
  t.is(r.code, 2);
  t.regex(r.stderr, /mpc-cp\.json is a checkpoint of an --mpc run; resume it with --mpc/);
  t.notRegex(r.stderr, /continue with/);
});

test('a bad config.json is reported with its path', (t) => {
  const dir = join(root, 'gpt2');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', architectures: ['GPT2LMHeadModel'] }));
  const r = cli(['tune', '--plaintext', '--model', dir, '--train', join(FIXTURES, 'sentiment.jsonl')]);
  t.is(r.code, 1);
  t.regex(r.stderr, /gpt2\/config\.json: .*gpt2/);
});

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

(hasOpenssl ? test : test.skip)('a job with "tls": true runs every connection over mutual TLS with the --tls-* files (skipped without openssl)', async (t) => {
  const dir = join(root, 'tls');
  mkdirSync(dir, { recursive: true });
  const key = join(dir, 'party.key');
  const cert = join(dir, 'party.crt');
  const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=party', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { encoding: 'utf8' });
  t.is(gen.status, 0, gen.stderr);
  const args = ['--mpc', ...TINY, '--budget', '4', '--timeout-sec', '60'];
  const values = parseCommand(TUNE_COMMAND, args).values;
  const prep = prepare(values, () => undefined);
  const { job, file } = await writeLocalJob(prep, {
    attention: 'rfa',
    rfa: { features: values['rfa-features'] as number, seed: values['rfa-seed'] as number, tau: values['rfa-tau'] as number },
    logitScale: values['logit-scale'] as number,
    timeoutSec: 60,
  });
  writeFileSync(file, JSON.stringify({ ...job, tls: true }));
  const tls = ['--tls-key', key, '--tls-cert', cert, '--tls-ca', cert];
  const roles = [
    ['serve', '--role', 's0', '--job', file, ...tls],
    ['serve', '--role', 's1', '--job', file, ...tls],
    ['serve', '--role', 'dealer', '--job', file, ...tls],
    ['share-model', '--model', MODEL, '--job', file, ...tls],
  ].map((a) => {
    const child = spawn(process.execPath, [CLI, ...a], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    return { child, err: () => err, exit: new Promise<number | null>((r) => child.on('exit', (c) => r(c))) };
  });
  t.teardown(() => roles.forEach((r) => r.child.kill('SIGKILL')));
  // A stranger without TLS (dropped at the TLS layer) does not disturb the run.
  const plain = net.connect(job.sessions.train!.addresses.dealer.port, '127.0.0.1');
  plain.on('error', () => undefined);
  plain.on('connect', () => plain.write(Buffer.from([0, 0, 0, 4, 1, 2, 3, 4])));
  const data = cli(['tune', ...args, '--job', file, ...tls], 180_000);
  t.is(data.code, 0, data.stderr);
  const codes = await Promise.all(roles.map((r) => r.exit));
  t.deepEqual(codes, [0, 0, 0, 0], roles.map((r) => r.err()).join('\n'));
  plain.destroy();
});
