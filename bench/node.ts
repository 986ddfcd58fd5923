/**
 * Tuning-node throughput: jobs per hour on one node with 1, 2 and 4 concurrent sessions, on the tiny model in
 * plaintext (the same small job each time), measured side by side in one run, reported as ratios to one session.
 * The queue is BullMQ on a private redis-server (Debian's /usr/bin/redis-server), as in production.
 *
 *   npm run bench:node [-- --jobs 8 --generations 40 --reps 1 --out bench/results]
 *
 * Each rep runs every session count once, in turn, so a slower moment of a shared machine hits all of them;
 * the best rep of each is kept. Writes bench/results/node-<date>.json and prints a table.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TuningNode } from '../ts/node/node.js';
import { call, dataFolder, readEvents, startRedis, tinyJob, TOKEN } from '../test/node-helpers.js';

const SESSIONS = [1, 2, 4] as const;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      jobs: { type: 'string', default: '8' },
      generations: { type: 'string', default: '40' },
      reps: { type: 'string', default: '1' },
      out: { type: 'string', default: 'bench/results' },
    },
  });
  const jobs = Number(values.jobs);
  const generations = Number(values.generations);
  const reps = Number(values.reps);
  for (const [k, v] of Object.entries({ jobs, generations, reps })) {
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer`);
  }
  const root = mkdtempSync(join(tmpdir(), 'secp-bench-node-'));
  const data = dataFolder(join(root, 'data'));
  const redis = await startRedis();
  const best = new Map<number, number>();
  try {
    for (let rep = 0; rep < reps; rep++) {
      for (const sessions of SESSIONS) {
        const node = await TuningNode.start({
          port: 0, token: TOKEN, redisUrl: redis.url, sessions, name: `bench-${sessions}`,
          folders: { store: join(root, `store-${rep}-${sessions}`), models: join(root, 'models'), data },
        }); // prettier-ignore
        try {
          const t0 = performance.now();
          const ids: string[] = [];
          for (let j = 0; j < jobs; j++) ids.push((await call(node.url, 'POST', '/v1/jobs', tinyJob(generations, {}, 50))).body.id);
          for (const id of ids) {
            const last = (await readEvents(node.url, id, undefined, 3_600_000)).at(-1)!;
            if (last.data.status !== 'succeeded') throw new Error(`job ${id} ${last.data.status}`);
          }
          const ms = performance.now() - t0;
          process.stderr.write(`rep ${rep + 1}/${reps}, ${sessions} sessions: ${jobs} jobs in ${(ms / 1000).toFixed(1)} s\n`);
          best.set(sessions, Math.min(best.get(sessions) ?? Infinity, ms));
        } finally {
          await node.close();
        }
      }
    }
  } finally {
    await redis.stop();
    rmSync(root, { recursive: true, force: true });
  }
  const base = jobs / (best.get(1)! / 3_600_000);
  const rows = SESSIONS.map((s) => {
    const perHour = jobs / (best.get(s)! / 3_600_000);
    return { sessions: s, seconds: best.get(s)! / 1000, jobsPerHour: perHour, ratio: perHour / base };
  });
  const record = {
    date: new Date().toISOString(),
    cpus: availableParallelism(),
    loadavg: loadavg(),
    job: { model: 'tiny-bert', mode: 'plaintext', generations, popsize: 4, dim: 50 },
    jobs,
    reps,
    rows,
  };
  mkdirSync(values.out!, { recursive: true });
  const file = join(values.out!, `node-${record.date.slice(0, 10)}.json`);
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`| sessions | ${jobs} jobs (s) | jobs / hour | vs 1 session |\n|---|---|---|---|`);
  for (const r of rows) console.log(`| ${r.sessions} | ${r.seconds.toFixed(1)} | ${r.jobsPerHour.toFixed(0)} | ${r.ratio.toFixed(2)}× |`);
  console.log(`\n${record.cpus} CPUs, load average ${record.loadavg.map((x) => x.toFixed(2)).join(' ')}; written to ${file}`);
}

await main();
