/**
 * The tuning node's HTTP API on one node (in this process) over a private Redis: tokens, request validation,
 * create / list / get / events / result, cancel (queued and running), the per-node session limit, and the
 * in-memory queue fallback giving the same result.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TuningNode } from '../ts/node/node.js';
import { call, comparable, dataFolder, readEvents, startRedis, tinyJob, TOKEN, until, type Redis } from './node-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'secp-node-api-'));
const folders = { store: join(root, 'store'), models: join(root, 'models'), data: dataFolder(join(root, 'data')) };
let redis: Redis;
let node: TuningNode;

test.before(async () => {
  redis = await startRedis();
  node = await TuningNode.start({ port: 0, token: TOKEN, redisUrl: redis.url, sessions: 2, lockMs: 5000, folders, name: 'api-node' });
});

test.after.always(async () => {
  await node?.close();
  await redis?.stop();
  rmSync(root, { recursive: true, force: true });
});

test.serial('every /v1 call needs the token: 401 without it or with a wrong one; the page and OpenAPI need none', async (t) => {
  for (const [method, path] of [['GET', '/v1/jobs'], ['POST', '/v1/jobs'], ['GET', '/v1/jobs/job-0000000000000000'], ['GET', '/v1/node']] as const) {
    const none = await call(node.url, method, path, method === 'POST' ? tinyJob(2) : undefined, null);
    t.is(none.status, 401, `${method} ${path}`);
    t.regex(none.body.message, /Authorization: Bearer TOKEN/);
    t.is((await call(node.url, method, path, method === 'POST' ? tinyJob(2) : undefined, 'wrong-token-wrong-token')).status, 401);
  }
  t.is((await call(node.url, 'GET', '/v1/jobs')).status, 200);
  const api = await call(node.url, 'GET', '/openapi.json', undefined, null);
  t.is(api.status, 200);
  t.is(api.body.openapi, '3.0.3');
  for (const p of ['/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/events', '/v1/jobs/{id}/cancel', '/v1/jobs/{id}/result']) t.truthy(api.body.paths[p], p);
  t.deepEqual(api.body.paths['/v1/jobs'].post.requestBody.content['application/json'].schema.required, ['model', 'data']);
  const page = await fetch(`${node.url}/`);
  t.is(page.status, 200);
  t.regex(await page.text(), /<svg id="chart"/);
});

test.serial('bad request bodies: 400 with a message naming the field', async (t) => {
  const job = tinyJob(2);
  const cases: [unknown, string][] = [
    [{ data: job.data }, 'model is required'],
    [{ ...job, data: {} }, 'data.train is required'],
    [{ ...job, settings: { ...job.settings, popsiz: 4 } }, 'settings.popsiz is not a known field'],
    [{ ...job, extra: 1 }, 'extra is not a known field'],
    [{ ...job, settings: { ...job.settings, popsize: 1 } }, 'settings.popsize must be >= 2'],
    [{ ...job, settings: { ...job.settings, popsize: '4' } }, 'settings.popsize must be integer'],
    [{ ...job, settings: { ...job.settings, attention: 'linear' } }, 'settings.attention must be one of rfa, softmax'],
    [{ ...job, settings: { ...job.settings, 'label-words': ['bad', 'go,od'] } }, 'settings.label-words.1 must not contain a comma'],
    [{ ...job, mode: 'gpu' }, 'mode must be one of plaintext, mpc'],
    [{ ...job, model: '../models/tiny-bert' }, "model must be a relative path inside the node's folder (no '..', no leading '/')"],
    [{ ...job, data: { train: '/etc/passwd' } }, "data.train must be a relative path inside the node's folder (no '..', no leading '/')"],
    [{ ...job, model: 'nope' }, 'model: "nope" does not exist on this node'],
    [{ ...job, data: { train: 'missing.jsonl' } }, 'data.train: "missing.jsonl" does not exist on this node'],
    [{ ...job, roles: { placement: 'processes' } }, "roles apply to mode 'mpc' only"],
    [{ ...job, mode: 'mpc', roles: { placement: 'job' } }, "roles.job is required with roles.placement 'job'"],
    [{ ...job, settings: { ...job.settings, 'projection-std': '0.1' } }, 'settings.projection-std needs settings.projection normal'],
    ['{"model": ', 'Body is not valid JSON but content-type is set to \'application/json\''],
  ];
  for (const [body, message] of cases) {
    const r = await call(node.url, 'POST', '/v1/jobs', body);
    t.is(r.status, 400, JSON.stringify(body));
    t.is(r.body.message, message, JSON.stringify(body));
  }
  t.is((await call(node.url, 'GET', '/v1/jobs/not-an-id')).body.message, 'params.id must match pattern "^job-[0-9a-f]{16}$"');
  t.is((await call(node.url, 'GET', '/v1/jobs/job-0000000000000000')).status, 404);
  t.is((await call(node.url, 'GET', '/v1/jobs')).body.data.length, 0, 'no job was created');
});

test.serial('settings that only the data can refute fail the job with a named error', async (t) => {
  const job = tinyJob(2);
  const id = (await call(node.url, 'POST', '/v1/jobs', { ...job, settings: { ...job.settings, task: 'rte' } })).body.id;
  const last = (await readEvents(node.url, id)).at(-1)!.data;
  t.is(last.status, 'failed');
  t.deepEqual(last.error, { code: 'ERR_INVALID_JOB', message: 'task rte has sentence pairs; name the second text with settings.text-pair-column' });
  t.is((await call(node.url, 'GET', `/v1/jobs/${id}`)).body.error.code, 'ERR_INVALID_JOB');
});

test.serial('create, events, get, list, result: a job runs to the end with per-generation loss, accuracy and ETA', async (t) => {
  const created = await call(node.url, 'POST', '/v1/jobs', { ...tinyJob(6), name: 'first' });
  t.is(created.status, 201);
  const id = created.body.id as string;
  t.regex(id, /^job-[0-9a-f]{16}$/);
  t.is(created.body.status, 'queued');
  const events = await readEvents(node.url, id);
  t.deepEqual(
    events.filter((e) => e.type === 'status').map((e) => e.data.status),
    ['queued', 'running', 'succeeded'],
  );
  const gens = events.filter((e) => e.type === 'generation').map((e) => e.data);
  t.deepEqual(gens.map((g) => g.generation), [1, 2, 3, 4, 5, 6]);
  for (const g of gens) {
    t.true(Number.isFinite(g.loss.best) && g.loss.best <= g.loss.mean, 'loss');
    t.true(g.train.accuracy >= 0 && g.train.accuracy <= 1, 'accuracy');
    t.is(typeof g.etaMs, 'number');
    t.is(g.forwardCalls, 4 * g.generation);
  }
  t.is(gens.at(-1).etaMs, 0);
  t.is(events.find((e) => e.type === 'start')!.data.totalGenerations, 6);
  const done = events.find((e) => e.type === 'done')!.data;
  t.is(done.reason, 'budget');
  // Event ids increase; a client reconnecting with Last-Event-ID gets only what came after.
  const after = events[2]!.id;
  const rest = await fetch(`${node.url}/v1/jobs/${id}/events`, { headers: { authorization: `Bearer ${TOKEN}`, 'last-event-id': after } });
  t.is((await rest.text()).split('\n').filter((l) => l.startsWith('id: ')).length, events.length - 3);

  const rec = (await call(node.url, 'GET', `/v1/jobs/${id}`)).body;
  t.is(rec.status, 'succeeded');
  t.is(rec.node, 'api-node');
  t.is(rec.attempts, 1);
  t.is(rec.progress.generation, 6);
  t.is(rec.result.forwardCalls, 24);
  t.is(rec.name, 'first');
  const list = (await call(node.url, 'GET', '/v1/jobs')).body;
  t.is(list.object, 'list');
  t.is(list.data[0].id, id, 'newest first');
  const result = await call(node.url, 'GET', `/v1/jobs/${id}/result`);
  t.is(result.status, 200);
  t.is(result.body.result.best.z.length, 6);
  t.deepEqual(result.body.result.history.map((h: { bestLoss: number }) => h.bestLoss), gens.map((g) => g.loss.best));
  t.is(result.body.counts.train, 8);
  t.is((await call(node.url, 'POST', `/v1/jobs/${id}/cancel`)).status, 409, 'a finished job cannot be cancelled');
});

test.serial('cancel: a running job stops after its generation, a queued one at once; the node runs at most its session limit', async (t) => {
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await call(node.url, 'POST', '/v1/jobs', tinyJob(5000, { name: `long ${i}` }, 50))).body.id);
  const [a, b, c] = ids as [string, string, string];
  // Two sessions: a and b run, c waits.
  await until('a and b running', async () => {
    const recs = await Promise.all([a, b].map(async (id) => (await call(node.url, 'GET', `/v1/jobs/${id}`)).body));
    return recs.every((r) => r.progress?.generation >= 2);
  });
  t.deepEqual(new Set((await call(node.url, 'GET', '/v1/node')).body.running), new Set([a, b]));
  t.is((await call(node.url, 'GET', `/v1/jobs/${c}`)).body.status, 'queued');

  const cq = await call(node.url, 'POST', `/v1/jobs/${c}/cancel`);
  t.is(cq.status, 200);
  t.is(cq.body.status, 'cancelled');
  t.is(cq.body.attempts, 0, 'never started');
  t.is((await call(node.url, 'GET', `/v1/jobs/${c}/result`)).status, 409);

  const ra = await call(node.url, 'POST', `/v1/jobs/${a}/cancel`);
  t.is(ra.status, 200);
  const eventsA = await readEvents(node.url, a);
  t.is(eventsA.at(-1)!.data.status, 'cancelled');
  const doneA = eventsA.find((e) => e.type === 'done')!.data;
  t.is(doneA.reason, 'aborted');
  t.true(doneA.generations < 5000);
  const res = await call(node.url, 'GET', `/v1/jobs/${a}/result`);
  t.is(res.status, 409);
  t.regex(res.body.message, /is cancelled/);
  await call(node.url, 'POST', `/v1/jobs/${b}/cancel`);
  t.is((await readEvents(node.url, b)).at(-1)!.data.status, 'cancelled');
  t.deepEqual((await call(node.url, 'GET', '/v1/node')).body.running, []);
});

test.serial('the in-memory queue (--queue memory) runs the same job to the same result', async (t) => {
  const mem = await TuningNode.start({ port: 0, token: TOKEN, queue: 'memory', sessions: 1, folders: { ...folders, store: join(root, 'store-mem') }, name: 'mem-node' });
  try {
    const job = tinyJob(4);
    const onMem = (await call(mem.url, 'POST', '/v1/jobs', job)).body.id;
    const onRedis = (await call(node.url, 'POST', '/v1/jobs', job)).body.id;
    t.is((await readEvents(mem.url, onMem)).at(-1)!.data.status, 'succeeded');
    t.is((await readEvents(node.url, onRedis)).at(-1)!.data.status, 'succeeded');
    t.is((await call(mem.url, 'GET', '/v1/node')).body.queue, 'memory');
    const a = (await call(mem.url, 'GET', `/v1/jobs/${onMem}/result`)).body;
    const b = (await call(node.url, 'GET', `/v1/jobs/${onRedis}/result`)).body;
    t.deepEqual(comparable(a), comparable(b));
  } finally {
    await mem.close();
  }
});

test.serial('an MPC job through the same API: the forward under 2-party MPC in the session, with bytes and rounds', async (t) => {
  const id = (await call(node.url, 'POST', '/v1/jobs', {
    model: 'tiny-bert', mode: 'mpc', data: { train: 'sentiment.jsonl' },
    settings: { shots: 2, 'dev-shots': 0, 'seq-len': 12, 'prompt-length': 2, dim: 4, popsize: 2, budget: 4, 'rfa-features': 8 },
  })).body.id as string; // prettier-ignore
  const events = await readEvents(node.url, id);
  t.is(events.at(-1)!.data.status, 'succeeded');
  const gens = events.filter((e) => e.type === 'generation').map((e) => e.data);
  t.is(gens.length, 2);
  t.true(gens.every((g) => g.bytes > 0 && g.rounds > 0));
  t.true(gens[1].bytes > gens[0].bytes, 'cumulative traffic');
  const rec = (await call(node.url, 'GET', `/v1/jobs/${id}`)).body;
  t.is(rec.result.bytes, gens[1].bytes);
});
