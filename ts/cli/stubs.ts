/**
 * Subcommands whose options are fixed and validated now but whose work is wired later: `demo`, `serve` and
 * `share-model`. Each parses and checks its options completely, says what it would do, and exits with code 3
 * ("not available in this build yet").
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FRAC_BITS } from '../ring/tensor.js';
import { NotAvailableError, UsageError, parseCommand, parseHostPort, type CommandSpec } from './options.js';

const ROLES = ['s0', 's1', 'dealer'] as const;
/** Every party of a session (ts/net's rank order). */
const PARTIES = ['s0', 's1', 'dealer', 'data', 'model'] as const;

export const DEMO_COMMAND: CommandSpec = {
  name: 'demo',
  summary:
    'End-to-end private tuning demo on one machine: dealer, S0 and S1 as worker threads, the data owner tuning a\n' +
    'prompt for all-MiniLM-L6-v2 (pooled kind) on rotten-tomatoes snippets. Not wired in this build yet: it\n' +
    'prints the plan and exits with code 3.',
  usage: 'secp-tune demo [options]',
  options: [
    { name: 'model', kind: 'path', arg: 'DIR', default: '.cache/models/all-MiniLM-L6-v2', group: 'Demo', help: 'model folder (scripts/fetch-assets.sh puts it there)' },
    { name: 'data', kind: 'path', arg: 'DIR', default: '.cache/data/rotten_tomatoes', group: 'Demo', help: 'folder with train.jsonl and test.jsonl' },
    { name: 'plaintext', kind: 'flag', group: 'Demo', help: 'run the same settings with the plaintext forward instead of MPC' },
    { name: 'json', kind: 'flag', group: 'Output', help: 'print events as JSON lines on stdout' },
  ],
};

export const SERVE_COMMAND: CommandSpec = {
  name: 'serve',
  summary:
    'Run one compute party of an MPC session: server S0 or S1, or the dealer T. Not available in this build\n' +
    'yet: the options are checked, then it exits with code 3.',
  usage: 'secp-tune serve --role s0|s1|dealer --listen HOST:PORT --peer ROLE=HOST:PORT ... [options]',
  options: [
    { name: 'role', kind: 'enum', values: ROLES, required: true, group: 'Session', help: 'which party this process is' },
    { name: 'listen', kind: 'hostport', required: true, group: 'Session', help: 'address to accept connections on' },
    { name: 'peer', kind: 'string', arg: 'ROLE=HOST:PORT', multiple: true, group: 'Session', help: `address of another party (${PARTIES.join(', ')}); repeat for each` },
    { name: 'secret-file', kind: 'path', arg: 'FILE', group: 'Security', help: 'shared secret for mutual HMAC authentication of every connection' },
    { name: 'tls-key', kind: 'path', arg: 'FILE', group: 'Security', help: 'TLS private key (PEM); needs --tls-cert' },
    { name: 'tls-cert', kind: 'path', arg: 'FILE', group: 'Security', help: 'TLS certificate (PEM); needs --tls-key' },
    { name: 'tls-ca', kind: 'path', arg: 'FILE', group: 'Security', help: 'CA bundle; given, peers must present certificates (mutual TLS)' },
    { name: 'connect-timeout-ms', kind: 'int', min: 1, default: 30_000, group: 'Limits', help: 'give up dialling a peer after this long' },
    { name: 'recv-timeout-ms', kind: 'int', min: 1, default: 60_000, group: 'Limits', help: 'end the session when a peer is silent this long' },
  ],
  notes: ['Security: semi-honest, non-colluding S0, S1 and dealer. The dealer must not run in the same trust domain as S0 or S1.'],
};

export const SHARE_MODEL_COMMAND: CommandSpec = {
  name: 'share-model',
  summary:
    "The model owner's step: read a model folder, encode the weights in fixed point and send one additive share\n" +
    'to each server. Not available in this build yet: the options are checked, then it exits with code 3.',
  usage: 'secp-tune share-model --model DIR --s0 HOST:PORT --s1 HOST:PORT [options]',
  options: [
    { name: 'model', kind: 'path', arg: 'DIR', required: true, group: 'Model', help: 'HF model folder (config.json, model.safetensors)' },
    { name: 's0', kind: 'hostport', required: true, group: 'Servers', help: 'address of server S0' },
    { name: 's1', kind: 'hostport', required: true, group: 'Servers', help: 'address of server S1' },
    { name: 'frac-bits', kind: 'int', min: 1, max: 62, default: FRAC_BITS, group: 'Encoding', help: 'fractional bits of the fixed-point encoding' },
    { name: 'secret-file', kind: 'path', arg: 'FILE', group: 'Security', help: 'shared secret for mutual HMAC authentication' },
    { name: 'tls-ca', kind: 'path', arg: 'FILE', group: 'Security', help: "CA bundle to check the servers' TLS certificates" },
  ],
};

function needFile(command: string, option: string, path: string | undefined): void {
  if (path === undefined) return;
  if (!existsSync(path) || !statSync(path).isFile()) throw new UsageError(`${command}: --${option} ${path} is not a readable file`);
}

export function runDemo(argv: readonly string[]): number {
  const p = parseCommand(DEMO_COMMAND, argv);
  if (p.help) return -1;
  const model = p.values['model'] as string;
  const data = p.values['data'] as string;
  const plan = [
    `secp-tune demo (${p.values['plaintext'] === true ? 'plaintext' : 'MPC'}) would:`,
    `  1. check ${model} and ${data}/{train,test}.jsonl (fetch them with: bash scripts/fetch-assets.sh minilm rotten-tomatoes)`,
    '  2. start the dealer, S0 and S1 as worker threads; the model owner shares the weights once',
    '  3. as the data owner: sample 8 train + 8 dev snippets per class (seed 0) and tune a 4-token prompt',
    '     (pooled kind, seq-len 32, d 50, popsize 8, 12 generations, RFA attention), one batched forward per generation',
    '  4. report dev accuracy before and after, test accuracy on a 200-example subsample, time, bytes and rounds',
  ];
  process.stdout.write(`${plan.join('\n')}\n`);
  throw new NotAvailableError(
    'demo is not wired in this build yet; for now run the plaintext equivalent: secp-tune tune --plaintext ' +
      `--model ${model} --train ${data}/train.jsonl --test ${data}/test.jsonl --test-limit 200 --kind pooled ` +
      '--shots 8 --seq-len 32 --prompt-length 4 --dim 50 --popsize 8 --budget 96',
  );
}

export function runServe(argv: readonly string[]): number {
  const p = parseCommand(SERVE_COMMAND, argv);
  if (p.help) return -1;
  const role = p.values['role'] as string;
  const peers = new Map<string, { host: string; port: number }>();
  for (const spec of (p.values['peer'] as string[] | undefined) ?? []) {
    const eq = spec.indexOf('=');
    const who = eq < 0 ? '' : spec.slice(0, eq);
    if (!(PARTIES as readonly string[]).includes(who)) {
      throw new UsageError(`serve: --peer must be ROLE=HOST:PORT with ROLE one of ${PARTIES.join(', ')}, got ${JSON.stringify(spec)}`);
    }
    if (who === role) throw new UsageError(`serve: --peer ${who}=... names this process's own role`);
    if (peers.has(who)) throw new UsageError(`serve: --peer ${who} is given twice`);
    peers.set(who, parseHostPort(spec.slice(eq + 1), `serve: --peer ${who}`));
  }
  const key = p.values['tls-key'] as string | undefined;
  const cert = p.values['tls-cert'] as string | undefined;
  if ((key === undefined) !== (cert === undefined)) throw new UsageError('serve: --tls-key and --tls-cert go together');
  for (const o of ['secret-file', 'tls-key', 'tls-cert', 'tls-ca']) needFile('serve', o, p.values[o] as string | undefined);
  const listen = p.values['listen'] as { host: string; port: number };
  throw new NotAvailableError(
    `serve is not available in this build yet (would run ${role} on ${listen.host}:${listen.port}` +
      `${peers.size > 0 ? ` with peers ${[...peers].map(([r, a]) => `${r}=${a.host}:${a.port}`).join(', ')}` : ''})`,
  );
}

export function runShareModel(argv: readonly string[]): number {
  const p = parseCommand(SHARE_MODEL_COMMAND, argv);
  if (p.help) return -1;
  const dir = p.values['model'] as string;
  for (const f of ['config.json', 'model.safetensors']) {
    if (!existsSync(join(dir, f))) throw new UsageError(`share-model: --model ${dir} has no ${f}`);
  }
  for (const o of ['secret-file', 'tls-ca']) needFile('share-model', o, p.values[o] as string | undefined);
  const s0 = p.values['s0'] as { host: string; port: number };
  const s1 = p.values['s1'] as { host: string; port: number };
  if (s0.host === s1.host && s0.port === s1.port) throw new UsageError('share-model: --s0 and --s1 are the same address');
  throw new NotAvailableError(
    `share-model is not available in this build yet (would share ${dir} with ${p.values['frac-bits']} fractional bits ` +
      `to S0 ${s0.host}:${s0.port} and S1 ${s1.host}:${s1.port})`,
  );
}
