/**
 * Runs a workload with every party as a child process in its own network namespace, over TCP (connectTcp) on
 * emulated links: HTB shapes each directed pair to the setting's bandwidth and delayline.c adds the one-way
 * latency (netns.sh explains why not netem). The namespaces, their tun devices and the delay line exist only
 * for the run: they are removed in `finally`, on SIGINT/SIGTERM and at exit.
 *
 * Needs root, iproute2, /dev/net/tun and a C compiler; `probeNetns()` says whether this machine allows it.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { PartyId, TcpAddress } from '../../ts/net/index.js';
import { recordOf, type RunOptions, type RunRecord } from '../harness/threads.js';
import type { PartyResult } from '../harness/party.js';
import { settingFor, type SettingName } from '../netem.js';
import type { Workload } from '../workloads/index.js';
import type { NetnsPartyInput } from './party.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = `${ROOT}bench/netns/netns.sh`;
const PARTY = fileURLToPath(new URL('./party.js', import.meta.url));
const PORT = 7100;

export interface NetnsProbe {
  available: boolean;
  /** What the probe printed, or why it failed. */
  detail: string;
}

/** Whether namespaces, tun devices and HTB work here (and the delay line builds); never throws. */
export function probeNetns(): NetnsProbe {
  try {
    const out = execFileSync('bash', [SCRIPT, 'probe'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    return { available: out.trim().endsWith('ok'), detail: out.trim() };
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    return { available: false, detail: `${err.stdout ?? ''}${err.stderr ?? ''}`.trim() || err.message };
  }
}

const liveTags = new Set<string>();
let hooked = false;

function teardown(tag: string): void {
  try {
    execFileSync('bash', [SCRIPT, 'down', tag], { stdio: 'ignore', timeout: 30_000 });
  } catch {
    // Best effort; `netns.sh down TAG` can be run by hand.
  }
  liveTags.delete(tag);
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const t of [...liveTags]) teardown(t);
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const t of [...liveTags]) teardown(t);
      process.exit(130);
    });
  }
}

function sh(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [SCRIPT, ...args], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`netns.sh ${args[0]} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/** Resolves with the first line of `child`'s stdout that satisfies `pick`. */
function lineOf(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => {
      rl.close();
      resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`${what} exited with code ${code} before saying anything`)));
  });
}

let runs = 0;

/** `setting` null: the same namespaces and delay line with no shaping and no delay (the transport's floor). */
export async function runNetns(w: Workload, setting: SettingName | null, opts: RunOptions): Promise<RunRecord> {
  const s = setting === null ? { bandwidthBitsPerSec: 0, mtu: 1500, oneWayMs: 0 } : settingFor(setting, opts.reading);
  const name = setting ?? 'none';
  const tag = `${process.pid % 100000}x${++runs}`;
  const roles = [...w.roles];
  const addresses: Partial<Record<PartyId, TcpAddress>> = {};
  roles.forEach((r, i) => (addresses[r] = { host: `10.231.0.${11 + i}`, port: PORT }));
  hookExit();
  liveTags.add(tag);
  const children: ChildProcess[] = [];
  let delayLine: ChildProcess | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    await sh(['up', tag, String(Math.round(s.bandwidthBitsPerSec)), String(s.mtu), ...roles]);
    const bin = (await sh(['delayline'])).trim();
    const ports = (await sh(['ports', tag, ...roles])).trim().split(/\s+/);
    // Its stderr only counts packets at exit.
    delayLine = spawn(bin, [String(Math.round(s.oneWayMs * 1000)), ...ports], { stdio: ['pipe', 'pipe', 'ignore'] });
    const hello = await lineOf(delayLine, 'delayline');
    if (hello !== 'ready') throw new Error(`delayline said ${JSON.stringify(hello)}`);

    const session = `netns-${tag}`;
    const results: PartyResult[] = [];
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${w.id} @ ${name} (netns): no result within ${opts.timeoutMs} ms`)), opts.timeoutMs);
      let ready = 0;
      for (const role of roles) {
        const input: NetnsPartyInput = { workload: w.id, role, roles, session, addresses, fracBits: opts.fracBits };
        const child = spawn('ip', ['netns', 'exec', `secp${tag}-${role}`, process.execPath, PARTY, JSON.stringify(input)], {
          stdio: ['pipe', 'pipe', 'inherit'],
        });
        children.push(child);
        const rl = createInterface({ input: child.stdout! });
        rl.on('line', (line) => {
          if (line === '@ready') {
            if (++ready === roles.length) for (const c of children) c.stdin!.write('go\n');
          } else if (line.startsWith('@result ')) {
            results.push(JSON.parse(line.slice(8)) as PartyResult);
            if (results.length === roles.length) resolve();
          } else if (line.startsWith('@error ')) {
            const e = JSON.parse(line.slice(7)) as { message: string; stack?: string };
            reject(new Error(`${w.id} @ ${name} (netns): ${e.message}`));
          }
        });
        child.once('exit', (code) => {
          if (code !== 0 && results.length < roles.length) reject(new Error(`${w.id} @ ${name} (netns): party ${role} exited with code ${code}`));
        });
      }
    });
    return recordOf(w, setting, 'netns', results, opts.reading);
  } finally {
    clearTimeout(timer);
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    if (delayLine !== undefined) {
      delayLine.stdin!.end();
      if (delayLine.exitCode === null) {
        await new Promise((r) => {
          const t = setTimeout(() => delayLine!.kill('SIGKILL'), 5000);
          delayLine!.once('exit', () => {
            clearTimeout(t);
            r(undefined);
          });
        });
      }
    }
    teardown(tag);
  }
}
