/**
 * The installable package, as a new user gets it: `scripts/pack.sh` packs the library and its per-platform addon
 * package (napi-rs's layout), both tarballs are installed into a fresh project outside the repo (its own
 * node_modules; only the registry's dependencies come from npm's cache), the README's library example is compiled
 * there with `strict` against the installed types and run with the native and with the wasm backend: an
 * in-process MPC tune on the tiny model, whose first generation must match the plaintext run's losses.
 * Bounded: every step has a timeout; install from the warm cache (--prefer-offline), no install scripts.
 */
import test from 'ava';
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const repo = process.cwd();
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };
const work = mkdtempSync(join(tmpdir(), 'secp-package-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

function run(cmd: string, args: string[], cwd: string, timeoutS: number, env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

/** The README's library example: the ```ts block after the `example: library-mpc` marker. */
function readmeExample(): string {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const m = /<!-- example: library-mpc -->\n```ts\n([\s\S]*?)\n```/.exec(readme);
  if (!m) throw new Error('README.md has no `example: library-mpc` block');
  return m[1]!;
}

interface Summary {
  backend: string;
  plain: { generation: number; meanLoss: number; bestLoss: number }[];
  mpc: { generation: number; meanLoss: number; bestLoss: number }[];
  bytes: number;
  best: number[] | null;
}

test('the packed library installs into a fresh project, type-checks strictly, and tunes under MPC with native and wasm kernels', (t) => {
  const packs = join(work, 'packs');
  run('bash', [join(repo, 'scripts', 'pack.sh'), packs], repo, 180);
  const tarballs = readdirSync(packs).sort();
  const main = `secp-tuning-${pkg.version}.tgz`;
  const platform = `secp-tuning-linux-x64-gnu-${pkg.version}.tgz`;
  t.deepEqual(tarballs, [main, platform].sort());
  const listing = (f: string): string[] => execFileSync('tar', ['-tzf', join(packs, f)], { encoding: 'utf8' }).trim().split('\n');
  const mainFiles = listing(main);
  t.true(mainFiles.includes('package/bindings/wasm/secp_kernels.wasm'), 'the wasm module ships in the main package');
  t.true(mainFiles.includes('package/dist/bindings/browser.js'));
  t.deepEqual(mainFiles.filter((f) => /\.node$|\/test\/|\/bench\/|\.ci\/|crates\/|\.map$/.test(f)), [], 'no addon, tests, benches, CI or Rust in the main package');
  const manifest = JSON.parse(execFileSync('tar', ['-xzOf', join(packs, main), 'package/package.json'], { encoding: 'utf8' })) as {
    scripts?: Record<string, string>; optionalDependencies?: Record<string, string>;
  };
  t.deepEqual(manifest.optionalDependencies, { 'secp-tuning-linux-x64-gnu': pkg.version }, 'napi pre-publish wrote the platform packages');
  t.deepEqual(Object.keys(manifest.scripts ?? {}).filter((k) => /install|prepare/.test(k)), [], 'nothing runs at install time');
  t.deepEqual(listing(platform).sort(), ['package/README.md', 'package/package.json', 'package/secp-kernels.linux-x64-gnu.node']);

  // A project of its own under the OS temp folder: nothing above it resolves to the repo's node_modules or dist.
  const proj = join(work, 'consumer');
  mkdirSync(proj);
  writeFileSync(join(proj, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  writeFileSync(join(proj, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022'], types: ['node'],
      strict: true, noUnusedLocals: true, noImplicitReturns: true, exactOptionalPropertyTypes: true, outDir: 'out',
    },
    files: ['main.ts'],
  }));
  writeFileSync(join(proj, 'main.ts'), readmeExample());
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error',
    join(packs, main), join(packs, platform), `@types/node@${pkg.devDependencies['@types/node']}`], proj, 240);
  const installed = join(proj, 'node_modules');
  t.false(existsSync(join(installed, 'secp-tuning', 'bindings', 'native')), 'the main package carries no addon');
  t.true(existsSync(join(installed, 'secp-tuning-linux-x64-gnu', 'secp-kernels.linux-x64-gnu.node')));

  // The repo's compiler (lib files only); every type it checks comes from the consumer's node_modules.
  run(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], proj, 120);

  // Run as on a machine without Rust or a compiler: PATH holds node only.
  const bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: bin };
  delete env['NODE_PATH'];
  const addon = run(process.execPath, ['--input-type=module', '-e',
    "const { loadBackend } = await import('secp-tuning/bindings'); const b = loadBackend({ backend: 'native' }); console.log(b.file)"], proj, 60, env);
  t.is(addon.stdout.trim(), join(installed, 'secp-tuning-linux-x64-gnu', 'secp-kernels.linux-x64-gnu.node'), 'native addon from the platform package');

  // The `browser` condition of secp-tuning/bindings (Node can be asked for it), with the module its WASM_URL names.
  const browser = run(process.execPath, ['--conditions=browser', '--input-type=module', '-e', [
    "const m = await import('secp-tuning/bindings');",
    "const { readFileSync } = await import('node:fs');",
    "const be = await m.loadWasmBackend(readFileSync(new URL(m.WASM_URL)));",
    "console.log(typeof m.loadBackend, be.name, be.matmul(BigUint64Array.of(3n), BigUint64Array.of(5n), 1, 1, 1)[0]);",
  ].join(' ')], proj, 60, env);
  t.is(browser.stdout.trim(), 'undefined wasm 15n', 'the browser entry (no Node loader) with the shipped module');

  const summaries: Summary[] = [];
  for (const backend of ['native', 'wasm']) {
    const r = run(process.execPath, [join('out', 'main.js')], proj, 240, { ...env, SECP_BACKEND: backend });
    const lines = r.stdout.trim().split('\n');
    t.is(lines[0], `kernels: ${backend}`);
    const s = JSON.parse(lines.at(-1)!) as Summary;
    t.is(s.backend, backend);
    // budget 12 / popsize 4: three generations each way.
    t.is(s.plain.length, 3);
    t.is(s.mpc.length, 3);
    // Generation 1 samples the same candidates both ways (same CMA-ES seed), so its losses differ only by the MPC
    // error (~1e-3 on this model, test/tuning-mpc.test.ts); later generations may rank two close candidates apart.
    for (const k of ['meanLoss', 'bestLoss'] as const) {
      t.true(Math.abs(s.mpc[0]![k] - s.plain[0]![k]) < 0.01, `${backend}: generation 1 ${k} MPC ${s.mpc[0]![k]} vs plaintext ${s.plain[0]![k]}`);
    }
    t.true(s.mpc.every((h) => Number.isFinite(h.meanLoss) && Number.isFinite(h.bestLoss)));
    t.true(s.bytes > 0, 'the MPC run metered its traffic');
    t.is(s.best?.length, 6);
    summaries.push(s);
  }
  t.deepEqual(summaries[0]!.plain, summaries[1]!.plain, 'plaintext runs do not depend on the kernels');
});
