import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyModel } from '../ts/model/tiny.js';
import type { CommandSpec } from '../ts/cli/options.js';
import { DEMO_COMMAND, SERVE_COMMAND, SHARE_MODEL_COMMAND } from '../ts/cli/roles.js';
import { TUNE_COMMAND } from '../ts/cli/tune.js';
import { NODE_COMMAND } from '../ts/cli/node.js';

const CLI = join(process.cwd(), 'dist', 'ts', 'cli', 'main.js');
const FIXTURES = join(process.cwd(), 'test', 'fixtures');
const root = mkdtempSync(join(tmpdir(), 'secp-cli-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));
const MODEL = join(root, 'tiny-bert');
writeTinyModel(MODEL, { arch: 'bert', seed: 2, layers: 1, hidden: 16, heads: 2 });

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Small, fast settings on the tiny model and the fixture data. */
const TINY = [
  '--plaintext', '--model', MODEL, '--train', join(FIXTURES, 'sentiment.jsonl'), '--test', join(FIXTURES, 'sentiment.csv'),
  '--shots', '4', '--dev-shots', '4', '--seq-len', '20', '--prompt-length', '2', '--dim', '6', '--popsize', '4',
  '--eval-every', '2', '--threads', '1', '--progress', 'none', '--attention', 'softmax',
]; // prettier-ignore

test('--help of every subcommand lists every option with its default', (t) => {
  for (const spec of [TUNE_COMMAND, DEMO_COMMAND, SERVE_COMMAND, SHARE_MODEL_COMMAND, NODE_COMMAND] as CommandSpec[]) {
    const r = cli(spec.name, '--help');
    t.is(r.code, 0, spec.name);
    t.true(r.stdout.startsWith(`Usage: secp-tune ${spec.name}`) || r.stdout.startsWith(`Usage: ${spec.usage}`));
    for (const o of spec.options) {
      const line = r.stdout.split('\n').findIndex((l) => l.trimStart().startsWith(`--${o.name}`));
      t.true(line >= 0, `${spec.name} --${o.name} listed`);
      // The default sits at the end of the option's help (which may wrap onto the next line).
      const text = r.stdout.split('\n').slice(line, line + 2).join(' ');
      t.regex(text, /\[default: [^\]]+\]/, `${spec.name} --${o.name} default`);
    }
  }
  const top = cli('--help');
  t.is(top.code, 0);
  for (const c of ['tune', 'demo', 'serve', 'share-model', 'node']) t.regex(top.stdout, new RegExp(`^  ${c} `, 'm'));
  t.regex(cli('tune', '--help').stdout, /--popsize INT +candidates per generation \(one batched forward\) \[default: 20\]/);
  t.regex(cli('tune', '--help').stdout, /--budget INT +.*\[default: 8000\]/);
});

test('docs/cli.md is the current --help of every command (node scripts/cli-docs.mjs rewrites it)', async (t) => {
  const { cliDocs } = (await import(join(process.cwd(), 'scripts', 'cli-docs.mjs'))) as { cliDocs: () => string };
  t.is(readFileSync(join(process.cwd(), 'docs', 'cli.md'), 'utf8'), cliDocs());
});

test('no command, unknown command', (t) => {
  const none = cli();
  t.is(none.code, 2);
  t.regex(none.stdout, /^Usage: secp-tune <command>/);
  const bad = cli('tunes');
  t.is(bad.code, 2);
  t.is(bad.stderr, 'secp-tune: unknown command "tunes"; commands: tune, demo, serve, share-model, node\n');
});

test('tune: usage errors exit 2 and say what to change', (t) => {
  const cases: [string[], string][] = [
    [['--model', MODEL, '--train', 'x.csv'], 'secp-tune tune: choose --plaintext (local float64 forward, no privacy) or --mpc (2-party MPC forward)'],
    [['--plaintext', '--mpc', '--model', MODEL, '--train', 'x'], 'secp-tune tune: choose one of --plaintext and --mpc, not both'],
    [['--plaintext', '--train', 'x.csv'], 'secp-tune tune: --model is required (HF model folder (config.json, model.safetensors, tokenizer))'],
    [['--plaintext', '--model', MODEL, '--trian', 'x'], 'secp-tune tune: unknown option --trian; did you mean --train?'],
    [['--plaintext', '--model', MODEL, '--train', 'x', '--popsize', '1'], 'secp-tune tune: --popsize must be an integer in 2..10000, got "1"'],
    [['--plaintext', '--model', MODEL, '--train', 'x', '--sigma0', 'big'], 'secp-tune tune: --sigma0 must be a number >= 1e-12, got "big"'],
    [['--plaintext', '--model', MODEL, '--train', 'x', '--attention', 'linear'], 'secp-tune tune: --attention must be one of rfa, softmax, got "linear"'],
    [['--plaintext', '--model', MODEL, '--train', 'x', '--task', 'imdb'], 'secp-tune tune: --task must be one of sst2, yelpp, agnews, mrpc, rte, snli, got "imdb"'],
    [['--plaintext', '--model', MODEL, '--train', 'x', '--label-words', 'bad,,good'], 'secp-tune tune: --label-words is a comma-separated list without empty items, got "bad,,good"'],
    [['--plaintext', '--model', MODEL, '--train', 'x', '--json=yes'], 'secp-tune tune: --json is a switch and takes no value'],
    [['--plaintext', '--model', MODEL, '--train'], 'secp-tune tune: --train needs a value (FILE)'],
    [['--plaintext', '--model', MODEL, '--train', 'x', 'extra'], 'secp-tune tune: unexpected argument "extra"; options start with --'],
    [['--plaintext', '--resume'], 'secp-tune tune: --resume needs --checkpoint FILE'],
    [['--plaintext', '--model', join(root, 'nope'), '--train', 'x'], `secp-tune tune: --model ${join(root, 'nope')} does not exist`],
    [['--plaintext', '--model', MODEL, '--train', 'x', '--task', 'rte'], 'secp-tune tune: task rte has sentence pairs; name the second text with --text-pair-column'],
    [['--plaintext', '--model', MODEL, '--train', 'x', '--projection-std', 'wide', '--projection', 'normal'], "secp-tune tune: --projection-std must be a positive number or 'embedding', got \"wide\""],
    [['--plaintext', '--model', MODEL, '--train', 'x', '--projection-std', '0.1'], 'secp-tune tune: --projection-std needs --projection normal'],
    [['--plaintext', '--model', MODEL, '--train', 'x', '--resume', '--overwrite', '--checkpoint', 'c.json'], 'secp-tune tune: --resume and --overwrite exclude each other'],
  ];
  for (const [args, message] of cases) {
    const r = cli('tune', ...args);
    t.is(r.code, 2, `${args.join(' ')}\n${r.stderr}`);
    t.is(r.stderr.split('\n').find((l) => l.startsWith('secp-tune')), message, args.join(' '));
    t.regex(r.stderr, /Run `secp-tune tune --help` for the options\./);
  }
});

test('tune --mpc rejects the replace prompt mode with a clear message', (t) => {
  const mpcArgs = TINY.map((a) => (a === '--plaintext' ? '--mpc' : a));
  const r = cli('tune', ...mpcArgs, '--prompt-mode', 'replace');
  t.is(r.code, 2);
  t.regex(r.stderr, /tune --mpc adds the prompt to the embedding output: use --prompt-mode add/);
});

test('tune: data and runtime errors exit 1 with the file and line', (t) => {
  const r = cli('tune', ...TINY, '--shots', '30');
  t.is(r.code, 1);
  t.is(
    r.stderr.trim(),
    `secp-tune tune: ${join(FIXTURES, 'sentiment.jsonl')}: class 0 (negative) has 24 examples, need 34 (30 train + 4 dev per class); ` +
      'lower shots/devShots or add examples [ERR_DATA]',
  );
  const cols = cli('tune', ...TINY, '--train', join(FIXTURES, 'sentiment.csv'), '--text-column', 'sentence');
  t.is(cols.code, 1);
  t.regex(cols.stderr, /sentiment\.csv:1: no column "sentence" in the header \(columns: id, text, label\); set textColumn \(--text-column\)/);
  const short = cli('tune', ...TINY, '--seq-len', '8', '--prompt-length', '6');
  t.is(short.code, 1);
  t.regex(short.stderr, /seqLen 8 is too short/);
});

test('serve and share-model: options are checked, a bad job file is a clear error', (t) => {
  t.is(cli('serve', '--job', 'x.json').stderr.split('\n')[0], 'secp-tune serve: --role is required (which party this process is)');
  t.is(cli('serve', '--role', 's2', '--job', 'x.json').stderr.split('\n')[0], 'secp-tune serve: --role must be one of s0, s1, dealer, got "s2"');
  const missing = cli('serve', '--role', 's0', '--job', join(root, 'nope.json'));
  t.is(missing.code, 2);
  t.regex(missing.stderr, /cannot read the job file .*nope\.json/);
  const bad = join(root, 'bad-job.json');
  writeFileSync(bad, JSON.stringify({ sessions: { train: { addresses: {} } }, fracBits: 16 }));
  t.regex(cli('share-model', '--model', MODEL, '--job', bad).stderr, /session train has no address for s0/);
});

test('tune --mpc --processes: every role its own process over loopback TCP, events carry bytes and rounds', (t) => {
  const mpcArgs = TINY.map((a) => (a === '--plaintext' ? '--mpc' : a)).filter((a, i, all) => a !== '--threads' && all[i - 1] !== '--threads');
  const r = cli('tune', ...mpcArgs, '--processes', '--attention', 'rfa', '--rfa-features', '8', '--budget', '8', '--json');
  t.is(r.code, 0, r.stderr);
  const events = jsonLines(r.stdout);
  const gens = events.filter((e) => e['type'] === 'generation');
  t.is(gens.length, 2);
  t.true(gens.every((g) => (g['bytes'] as number) > 0 && (g['rounds'] as number) > 0), JSON.stringify(gens[0]));
});

/** The --out results of two runs agree on the best prompt, history, test score and calls; returns the second's. */
function assertSameResult(t: ExecutionContext, resultFile: string, expectedFile: string) {
  const a = JSON.parse(readFileSync(expectedFile, 'utf8')).result;
  const b = JSON.parse(readFileSync(resultFile, 'utf8')).result;
  t.deepEqual(b.best, a.best);
  t.deepEqual(b.history, a.history);
  t.deepEqual(b.test, a.test);
  t.is(b.forwardCalls, a.forwardCalls);
  return a;
}

/** Starts `secp-tune tune --mpc --processes ...`; resolves the role pids and the count of generation events. */
function startMpcRun(args: string[]) {
  const child = spawn(process.execPath, [CLI, 'tune', ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const state = { generations: 0, stderr: '', pids: [] as number[] };
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    const lines = out.split('\n');
    out = lines.pop()!;
    for (const l of lines) if (l.includes('"type":"generation"')) state.generations++;
  });
  child.stderr.on('data', (chunk: Buffer) => {
    state.stderr += chunk.toString();
    const m = /as processes \(pids (\d+), (\d+), (\d+), (\d+)\)/.exec(state.stderr);
    if (m && state.pids.length === 0) state.pids = m.slice(1).map(Number);
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  return { child, state, exit };
}

async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** TINY under MPC, one process per role; progress lines on stderr carry the roles' pids. */
const MPC_TINY = [
  ...TINY.map((a) => (a === '--plaintext' ? '--mpc' : a === 'none' ? 'lines' : a)).filter((a, i, all) => a !== '--threads' && all[i - 1] !== '--threads'),
  '--processes', '--attention', 'rfa', '--rfa-features', '8', '--seed', '3', '--timeout-sec', '20', '--dealer-key', join(root, 'dealer.key'),
];

test.serial('tune --mpc --processes: killing S1 stops every role with a clear error; --resume ends with the uninterrupted result', async (t) => {
  const budget = ['--budget', '24'];
  const fullOut = join(root, 'mpc-full.json');
  const full = cli('tune', ...MPC_TINY, ...budget, '--out', fullOut);
  t.is(full.code, 0, full.stderr);

  const ckpt = join(root, 'mpc-killed.json');
  const run = startMpcRun([...MPC_TINY, ...budget, '--checkpoint', ckpt]);
  t.true(await until(() => run.state.generations >= 2, 120_000), run.state.stderr);
  t.is(run.state.pids.length, 4, run.state.stderr);
  const [, s1, ...others] = run.state.pids;
  const killedAt = Date.now();
  process.kill(s1!, 'SIGKILL');
  const { code, at } = await run.exit;
  t.is(code, 1, run.state.stderr);
  t.true(at - killedAt < 20_000, `the data owner stopped ${at - killedAt} ms after the kill`);
  t.regex(run.state.stderr, /s1 \(pid \d+\) exited with SIGKILL/);
  t.regex(run.state.stderr, /secp-tune tune: .*(closed|reset|unreachable).* \[ERR_PEER_(CLOSED|UNREACHABLE)\]/);
  t.regex(run.state.stderr, /the run failed after generation \d+; continue with: secp-tune tune --mpc --processes --checkpoint .* --resume/);
  // S0, the dealer and the model owner notice too and exit on their own.
  t.true(await until(() => !others.some(alive), 20_000), `still running: ${others.filter(alive).join(', ')}`);

  const resumedOut = join(root, 'mpc-resumed.json');
  const resumed = cli('tune', '--mpc', '--processes', '--checkpoint', ckpt, '--resume', '--out', resumedOut, '--progress', 'lines',
    '--dealer-key', join(root, 'dealer.key'));
  t.is(resumed.code, 0, resumed.stderr);
  t.regex(resumed.stderr, /resuming at generation [1-5]\b/);
  // Same dealer key and same run nonce: the restarted sessions replay the randomness, bit for bit.
  const a = assertSameResult(t, resumedOut, fullOut);
  // Another dealer key draws other masks: the same run then differs in the last bits of its losses.
  const other = cli('tune', ...MPC_TINY.slice(0, -1), join(root, 'other.key'), ...budget, '--out', join(root, 'mpc-other.json'));
  t.is(other.code, 0, other.stderr);
  t.notDeepEqual(JSON.parse(readFileSync(join(root, 'mpc-other.json'), 'utf8')).result.history, a.history);
});

test.serial('tune --mpc --processes: killing the data owner makes S0, S1, the dealer and the model owner exit', async (t) => {
  const run = startMpcRun([...MPC_TINY, '--budget', '400']);
  t.true(await until(() => run.state.generations >= 1, 120_000), run.state.stderr);
  const pids = run.state.pids;
  t.is(pids.length, 4, run.state.stderr);
  run.child.kill('SIGKILL');
  await run.exit;
  t.true(await until(() => !pids.some(alive), 20_000), `still running: ${pids.filter(alive).join(', ')}`);
});

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('tune --plaintext runs end to end: --json events, --out result, progress lines on stderr', (t) => {
  const out = join(root, 'result.json');
  const r = cli('tune', ...TINY, '--budget', '16', '--json', '--out', out, '--progress', 'lines');
  t.is(r.code, 0, r.stderr);
  const events = jsonLines(r.stdout);
  t.deepEqual(
    events.map((e) => e['type']),
    ['start', 'generation', 'generation', 'generation', 'generation', 'done'],
  );
  const done = events.at(-1)!['result'] as { reason: string; forwardCalls: number; best: { z: number[] }; test: { accuracy: number } };
  t.is(done.reason, 'budget');
  t.is(done.forwardCalls, 16);
  t.is(done.best.z.length, 6);
  t.true(done.test.accuracy >= 0 && done.test.accuracy <= 1);
  const saved = JSON.parse(readFileSync(out, 'utf8'));
  t.deepEqual(saved.result.best.z, done.best.z);
  t.is(saved.counts.train, 8);
  t.is(saved.counts.test, 48);
  t.regex(r.stderr, /plaintext mode: the forward runs locally in float64; nothing is private/);
  t.regex(r.stderr, /^gen 2\/4 {2}calls 8\/16 {2}loss /m);
  t.regex(r.stderr, /done \(budget: 16 of 16 forward calls used\) after 4 generations/);
});

test('tune --test-plaintext scores the untuned and the tuned prompt in float64 after the run; --prompt-init fills the slots', (t) => {
  const out = join(root, 'result-plain-test.json');
  const init = ['--prompt-init', 'the movie was fun'];
  const r = cli('tune', ...TINY, ...init, '--budget', '8', '--test-plaintext', '--out', out, '--progress', 'lines');
  t.is(r.code, 0, r.stderr);
  const saved = JSON.parse(readFileSync(out, 'utf8'));
  t.is(saved.result.test, null, 'the test batch stayed out of the tuning evaluator');
  const pt = saved.testPlaintext as { examples: number; majority: number; untuned: { accuracy: number }; tuned: { accuracy: number } };
  t.is(pt.examples, 48);
  for (const v of [pt.majority, pt.untuned.accuracy, pt.tuned.accuracy]) t.true(v >= 0 && v <= 1);
  const line = /test acc (\S+)% \(untuned\) -> (\S+)% \(tuned\) on 48 examples, majority class (\S+)%: scored with the plaintext float64 forward after the tuning/.exec(r.stderr);
  t.truthy(line, r.stderr);
  t.is(Number(line![2]), Number((100 * pt.tuned.accuracy).toFixed(2)));
  // The same run scoring test through the tuning's own evaluator: the same prompt, the same accuracy.
  const same = cli('tune', ...TINY, ...init, '--budget', '8', '--out', join(root, 'result-same.json'));
  t.is(same.code, 0, same.stderr);
  t.is(JSON.parse(readFileSync(join(root, 'result-same.json'), 'utf8')).result.test.accuracy, pt.tuned.accuracy);
  // The prompt slots hold real tokens: the evaluator's train batch differs from a placeholder run's.
  const base = cli('tune', ...TINY, '--budget', '8', '--out', join(root, 'result-placeholder.json'), '--overwrite');
  t.is(base.code, 0, base.stderr);
  const other = JSON.parse(readFileSync(join(root, 'result-placeholder.json'), 'utf8'));
  t.notDeepEqual(saved.evaluator.batches.train, other.evaluator.batches.train);
  const short = cli('tune', ...TINY, '--prompt-init', 'a', '--budget', '8');
  t.is(short.code, 1);
  t.regex(short.stderr, /prompt init text "a" has 1 word pieces; the prompt has 2 slots/);
});

test('tune: SIGKILL mid-run, then --resume with only --checkpoint, ends with the uninterrupted result', async (t) => {
  // 300 generations (≈3 s): long enough that the kill lands mid-run even when this test process lags.
  const budget = ['--budget', '1200', '--seed', '3'];
  const fullOut = join(root, 'full.json');
  const full = cli('tune', ...TINY, ...budget, '--out', fullOut, '--checkpoint', join(root, 'full-ckpt.json'));
  t.is(full.code, 0, full.stderr);

  const ckpt = join(root, 'killed-ckpt.json');
  const child = spawn(process.execPath, [CLI, 'tune', ...TINY, ...budget, '--json', '--checkpoint', ckpt], { stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = 0;
  let buffer = '';
  const exit = await new Promise<NodeJS.Signals | number | null>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const l of lines) if (l.includes('"type":"generation"')) seen++;
      if (seen >= 3 && !child.killed) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => resolve(signal ?? code));
  });
  t.is(exit, 'SIGKILL');
  const mid = JSON.parse(readFileSync(ckpt, 'utf8'));
  t.is(mid.status, 'running');
  t.true(mid.progress.generation >= 3 && mid.progress.generation < 300);

  // A conflicting setting is refused; the settings come from the checkpoint.
  const conflict = cli('tune', '--plaintext', '--checkpoint', ckpt, '--resume', '--popsize', '8');
  t.is(conflict.code, 2);
  t.regex(conflict.stderr, /--popsize 8 differs from the checkpoint's 4; a resumed run keeps its settings/);
  const resumedOut = join(root, 'resumed.json');
  const resumed = cli('tune', '--plaintext', '--checkpoint', ckpt, '--resume', '--out', resumedOut, '--progress', 'lines', '--threads', '2');
  t.is(resumed.code, 0, resumed.stderr);
  t.regex(resumed.stderr, /resuming at generation \d+/);
  assertSameResult(t, resumedOut, fullOut);
  // A new run onto an existing checkpoint is refused.
  const again = cli('tune', ...TINY, ...budget, '--checkpoint', ckpt);
  t.is(again.code, 2);
  t.regex(again.stderr, /checkpoint .* already exists; add --resume to continue it or --overwrite to start over/);
});
