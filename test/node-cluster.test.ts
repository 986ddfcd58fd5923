/**
 * Several node processes (`secp-tune node`) on one private Redis and one shared store folder: they share the
 * queue, and when the node running a job is killed with SIGKILL another node takes the job over and finishes it
 * with exactly the result of an uninterrupted run.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, comparable, dataFolder, readEvents, startNodeProcess, startRedis, tinyJob, until, type NodeProcess, type Redis } from './node-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'secp-node-cluster-'));
const data = dataFolder(join(root, 'data'));
let redis: Redis;
const nodes: NodeProcess[] = [];

function start(name: string): Promise<NodeProcess> {
  return startNodeProcess(name, ['--redis', redis.url, '--store', join(root, 'store'), '--data', data, '--sessions', '1', '--lock-sec', '1']).then((n) => {
    nodes.push(n);
    return n;
  });
}

test.before(async () => {
  redis = await startRedis();
});

test.after.always(async () => {
  for (const n of nodes) await n.stop('SIGKILL');
  await redis?.stop();
  rmSync(root, { recursive: true, force: true });
});

test.serial('two nodes share one Redis queue: jobs created on one node run on both', async (t) => {
  const [a, b] = await Promise.all([start('node-a'), start('node-b')]);
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push((await call(i % 2 === 0 ? a!.url : b!.url, 'POST', '/v1/jobs', tinyJob(40, {}, 50))).body.id);
  for (const id of ids) t.is((await readEvents(b!.url, id)).at(-1)!.data.status, 'succeeded', id);
  const recs = await Promise.all(ids.map(async (id) => (await call(b!.url, 'GET', `/v1/jobs/${id}`)).body));
  t.deepEqual([...new Set(recs.map((r) => r.node))].sort(), ['node-a', 'node-b']);
  // Both nodes list the same jobs, and either serves any job's result.
  const listA = (await call(a!.url, 'GET', '/v1/jobs')).body.data.map((j: { id: string }) => j.id);
  t.deepEqual(listA, (await call(b!.url, 'GET', '/v1/jobs')).body.data.map((j: { id: string }) => j.id));
  t.deepEqual(comparable((await call(a!.url, 'GET', `/v1/jobs/${ids[0]}/result`)).body), comparable((await call(b!.url, 'GET', `/v1/jobs/${ids[2]}/result`)).body));
});

test.serial('kill -9 of the node running a job: another node resumes it to the result of an uninterrupted run', async (t) => {
  const job = tinyJob(150, {}, 50);
  const [a, b] = nodes as [NodeProcess, NodeProcess];
  const id = (await call(a.url, 'POST', '/v1/jobs', job)).body.id as string;
  let runner: string | null = null;
  let killedAt = 0;
  const events = await readEvents(b.url, id, (e) => {
    if (e.type === 'status' && e.data.status === 'running' && runner === null) runner = e.data.node;
    if (e.type === 'generation' && e.data.generation === 10 && killedAt === 0) {
      killedAt = e.data.generation;
      nodes.find((n) => n.name === runner)!.child.kill('SIGKILL');
    }
  }).catch(async (e: Error) => {
    // The stream was served by the killed node: read it again from the survivor.
    const survivor = nodes.find((n) => n.name !== runner)!;
    t.log(`re-reading events from ${survivor.name}: ${e.message}`);
    return readEvents(survivor.url, id);
  });
  t.not(runner, null);
  t.is(killedAt, 10);
  const survivor = nodes.find((n) => n.name !== runner)!;
  const statuses = events.filter((e) => e.type === 'status').map((e) => `${e.data.status}${e.data.node ? ` ${e.data.node}` : ''}`);
  t.deepEqual(statuses, ['queued', `running ${runner}`, `running ${survivor.name}`, `succeeded ${survivor.name}`]);
  const starts = events.filter((e) => e.type === 'start').map((e) => e.data);
  t.is(starts.length, 2);
  t.false(starts[0].resumed);
  t.true(starts[1].resumed);
  t.true(starts[1].generation >= 10 && starts[1].generation < 150, `resumed at generation ${starts[1].generation}`);
  const rec = (await call(survivor.url, 'GET', `/v1/jobs/${id}`)).body;
  t.is(rec.attempts, 2);
  t.is(rec.node, survivor.name);
  const resumed = (await call(survivor.url, 'GET', `/v1/jobs/${id}/result`)).body;
  t.is(resumed.result.generations, 150);

  // The same job, uninterrupted.
  const again = (await call(survivor.url, 'POST', '/v1/jobs', job)).body.id as string;
  t.is((await readEvents(survivor.url, again)).at(-1)!.data.status, 'succeeded');
  const uninterrupted = (await call(survivor.url, 'GET', `/v1/jobs/${again}/result`)).body;
  t.is((await call(survivor.url, 'GET', `/v1/jobs/${again}`)).body.attempts, 1);
  t.deepEqual(comparable(resumed), comparable(uninterrupted));
  await until('the killed node to be gone', async () => nodes.find((n) => n.name === runner)!.child.exitCode !== null || nodes.find((n) => n.name === runner)!.child.signalCode !== null);
});
