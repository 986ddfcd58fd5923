/** `secp-tune node`: the long-running tuning service (ts/node/node.ts) from the command line. */
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { loadDealerKey } from './roles.js';
import { parseCommand, UsageError, type CommandSpec } from './options.js';
import { NODE_DEFAULTS, TINY_MODEL } from '../node/spec.js';

export const NODE_COMMAND: CommandSpec = {
  name: 'node',
  summary:
    'A tuning node: an HTTP job API (create, list, watch, cancel, fetch results of tuning jobs), a web page to watch\n' +
    'them, and up to --sessions tuning sessions at once in worker threads. Nodes on one Redis share its queue: a\n' +
    'node that dies mid-job leaves the job to another, which resumes its checkpoint to the same result.',
  usage: 'secp-tune node [options]',
  options: [
    { name: 'host', kind: 'string', arg: 'ADDR', default: NODE_DEFAULTS.host, group: 'Service', help: 'listen address' },
    { name: 'port', kind: 'int', min: 0, max: 65535, default: NODE_DEFAULTS.port, group: 'Service', help: 'listen port (0: a free one)' },
    { name: 'token-file', kind: 'path', arg: 'FILE', defaultText: 'STORE/token', group: 'Service', help: 'the bearer token every API call must send (created if missing); the SECP_TUNE_TOKEN environment variable overrides it' },
    { name: 'name', kind: 'string', arg: 'NAME', defaultText: 'HOST-PID', group: 'Service', help: "this node's name in job records" },
    { name: 'sessions', kind: 'int', min: 1, max: 256, default: NODE_DEFAULTS.sessions, group: 'Jobs', help: 'tuning sessions at once on this node (worker threads)' },
    { name: 'queue', kind: 'enum', values: ['redis', 'memory'], default: NODE_DEFAULTS.queue, group: 'Jobs', help: "'redis': BullMQ on --redis, shared by every node on it; 'memory': this process only (nothing survives it)" },
    { name: 'redis', kind: 'string', arg: 'URL', default: NODE_DEFAULTS.redisUrl, group: 'Jobs', help: 'the Redis of the queue' },
    { name: 'lock-sec', kind: 'number', min: 0.5, max: 3600, default: NODE_DEFAULTS.lockMs / 1000, group: 'Jobs', help: "a dead node's job is taken over by another node after about this long" },
    { name: 'store', kind: 'path', arg: 'DIR', default: '~/.secp-tune/node', group: 'Folders', help: "jobs' checkpoints and results, the token and the MPC dealer key; nodes of one queue must share it at the same path" },
    { name: 'models', kind: 'path', arg: 'DIR', defaultText: 'STORE/models', group: 'Folders', help: `model folders jobs may name (${TINY_MODEL.name}, a seeded tiny BERT, is written there)` },
    { name: 'data', kind: 'path', arg: 'DIR', defaultText: 'STORE/data', group: 'Folders', help: 'data files jobs may name' },
  ],
  notes: [
    'API: POST /v1/jobs, GET /v1/jobs, GET /v1/jobs/ID, GET /v1/jobs/ID/events (server-sent events),\n' +
      'POST /v1/jobs/ID/cancel, GET /v1/jobs/ID/result, GET /v1/node; each with Authorization: Bearer TOKEN.\n' +
      'GET /openapi.json describes them; GET / is the web page (open it as /#token=TOKEN).',
    "A job's settings are the options of `secp-tune tune` under their CLI names, e.g.\n" +
      '{"model": "tiny-bert", "data": {"train": "train.jsonl"}, "settings": {"shots": 4, "budget": 80}}.',
    'SIGINT/SIGTERM stop the node at once; its running jobs are resumed by another node of the queue.',
  ],
};

function readToken(file: string): string {
  const env = process.env['SECP_TUNE_TOKEN'];
  if (env !== undefined && env !== '') return env;
  // The same create-once-then-read as the dealer key: 32 random bytes in hex.
  return Buffer.from(loadDealerKey(file)).toString('hex');
}

export async function runNode(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const p = parseCommand(NODE_COMMAND, argv);
  if (p.help) return -1;
  const home = (s: string) => resolve(s.replace(/^~(?=\/|$)/, homedir()));
  const store = home(p.values['store'] as string);
  const tokenFile = home((p.values['token-file'] as string | undefined) ?? join(store, 'token'));
  const token = readToken(tokenFile);
  if (token.length < 16) throw new UsageError('node: SECP_TUNE_TOKEN must have at least 16 characters');
  // Loaded here, so that the other commands do not load the web server and the queue client.
  const { TuningNode } = await import('../node/node.js');
  const node = await TuningNode.start({
    host: p.values['host'] as string,
    port: p.values['port'] as number,
    token,
    queue: p.values['queue'] as 'redis' | 'memory',
    redisUrl: p.values['redis'] as string,
    lockMs: Math.round((p.values['lock-sec'] as number) * 1000),
    sessions: p.values['sessions'] as number,
    folders: {
      store,
      models: home((p.values['models'] as string | undefined) ?? join(store, 'models')),
      data: home((p.values['data'] as string | undefined) ?? join(store, 'data')),
    },
    name: (p.values['name'] as string | undefined) ?? `${hostname()}-${process.pid}`,
    log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
  });
  process.stderr.write(
    `secp-tune node ${node.name}: listening on ${node.url} (queue ${p.values['queue']}, ${p.values['sessions']} sessions); ` +
      `token: ${process.env['SECP_TUNE_TOKEN'] ? 'SECP_TUNE_TOKEN' : tokenFile}; page: ${node.url}/#token=TOKEN\n`,
  );
  await new Promise<void>((done) => {
    if (signal.aborted) return done();
    signal.addEventListener('abort', () => done(), { once: true });
    process.once('SIGTERM', () => done());
  });
  await node.close();
  return 0;
}
