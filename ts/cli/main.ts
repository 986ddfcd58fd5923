#!/usr/bin/env node
/**
 * `secp-tune`: private forward-only prompt tuning. Subcommands: tune, demo, serve, share-model, node.
 * Exit codes: 0 done, 1 error, 2 usage error, 3 not available in this build yet, 130 stopped by Ctrl-C.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SecpError } from '../../bindings/errors.js';
import { NotAvailableError, UsageError, helpText, type CommandSpec } from './options.js';
import { DEMO_COMMAND, SERVE_COMMAND, SHARE_MODEL_COMMAND, runDemo, runServe, runShareModel } from './roles.js';
import { TUNE_COMMAND, runTuneCommand } from './tune.js';
import { NODE_COMMAND, runNode } from './node.js';

export const EXIT = { ok: 0, error: 1, usage: 2, notAvailable: 3, interrupted: 130 } as const;

const COMMANDS: Record<string, { spec: CommandSpec; run: (argv: readonly string[], signal: AbortSignal) => number | Promise<number> }> = {
  tune: { spec: TUNE_COMMAND, run: runTuneCommand },
  demo: { spec: DEMO_COMMAND, run: runDemo },
  serve: { spec: SERVE_COMMAND, run: runServe },
  'share-model': { spec: SHARE_MODEL_COMMAND, run: runShareModel },
  node: { spec: NODE_COMMAND, run: runNode },
};

function mainHelp(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(13)}${c.spec.summary.split('\n')[0]}`);
  return [
    'Usage: secp-tune <command> [options]',
    '',
    'Private forward-only prompt tuning (SecP-Tuning) for BERT-family models over 2-party MPC.',
    '',
    'Commands:',
    ...rows,
    '',
    'Run `secp-tune <command> --help` for the options of a command.',
    'Exit codes: 0 done, 1 error, 2 usage error, 3 not available in this build yet, 130 stopped by Ctrl-C.',
    '',
  ].join('\n');
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`secp-tune: unknown command ${JSON.stringify(name)}; commands: ${Object.keys(COMMANDS).join(', ')}\n`);
    return EXIT.usage;
  }
  const abort = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT.interrupted);
    process.stderr.write('\nstopping after the current generation (Ctrl-C again to quit now)\n');
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const code = await command.run(rest, abort.signal);
    if (code === -1) {
      process.stdout.write(helpText(command.spec));
      return EXIT.ok;
    }
    return code;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`secp-tune ${err.message}\nRun \`secp-tune ${name} --help\` for the options.\n`);
      return EXIT.usage;
    }
    if (err instanceof NotAvailableError) {
      process.stderr.write(`secp-tune: ${err.message}\n`);
      return EXIT.notAvailable;
    }
    if (err instanceof SecpError) {
      process.stderr.write(`secp-tune ${name}: ${err.message} [${err.code}]\n`);
      return EXIT.error;
    }
    process.stderr.write(`secp-tune ${name}: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT.error;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  // A failed command ends the process even if something (a listener, a peer's socket, a timer) is still open:
  // a role that printed a fatal error must not go on listening. The grace lets child processes' exit lines in.
  if (code !== EXIT.ok) setTimeout(() => process.exit(code), 2000).unref();
}
