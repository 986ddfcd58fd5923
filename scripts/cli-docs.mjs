// Writes docs/cli.md from the commands' own --help (run after `npm run build:ts`): `node scripts/cli-docs.mjs`.
// test/cli-args.test.ts fails when docs/cli.md differs from what this prints.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export function cliDocs() {
  const main = `${root}dist/ts/cli/main.js`;
  const parts = ['# secp-tune command reference', '', "Generated from the commands' own `--help` by `node scripts/cli-docs.mjs`.", ''];
  for (const cmd of ['tune', 'demo', 'serve', 'share-model', 'node']) {
    const help = execFileSync(process.execPath, [main, cmd, '--help'], { encoding: 'utf8' });
    parts.push(`## secp-tune ${cmd}`, '', '```', help.trimEnd(), '```', '');
  }
  return parts.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeFileSync(`${root}docs/cli.md`, cliDocs());
