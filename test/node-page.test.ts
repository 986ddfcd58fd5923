/**
 * The node's web page in a real headless browser (Debian's chromium through playwright-core): it asks for the
 * token, lists the jobs, and shows one job's live progress with its loss and accuracy chart.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { TuningNode } from '../ts/node/node.js';
import { call, dataFolder, readEvents, tinyJob, TOKEN } from './node-helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const root = mkdtempSync(join(tmpdir(), 'secp-node-page-'));
const folders = { store: join(root, 'store'), models: join(root, 'models'), data: dataFolder(join(root, 'data')) };
let node: TuningNode;
let browser: Browser;

test.before(async () => {
  node = await TuningNode.start({ port: 0, token: TOKEN, queue: 'memory', sessions: 1, folders, name: 'page-node' });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // playwright gives every launch a fresh profile folder of its own.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

test.after.always(async () => {
  await browser?.close();
  await node?.close();
  rmSync(root, { recursive: true, force: true });
});

test.serial('without a token the page asks for one; with it, it lists the jobs', async (t) => {
  const id = (await call(node.url, 'POST', '/v1/jobs', { ...tinyJob(4), name: 'listed' })).body.id as string;
  await readEvents(node.url, id);
  const page = await browser.newPage();
  try {
    await page.goto(`${node.url}/`);
    await page.waitForSelector('#login', { state: 'visible' });
    t.is(await page.locator('#jobs tbody tr').count(), 0);
    await page.fill('#token', TOKEN);
    await page.click('#login button');
    const row = page.locator(`#jobs tbody tr[data-id="${id}"]`);
    await row.waitFor();
    t.regex(await row.innerText(), /listed\s+succeeded\s+plaintext\s+tiny-bert\s+4\/4/);
    t.regex(await page.locator('#node').innerText(), /page-node · queue memory · 0\/1 sessions/);
  } finally {
    await page.close();
  }
});

test.serial("a job's page: live progress and the chart of loss and accuracy against forward calls", async (t) => {
  const generations = 30;
  const id = (await call(node.url, 'POST', '/v1/jobs', { ...tinyJob(generations, {}, 50), name: 'charted' })).body.id as string;
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    // The token in the fragment, which the page moves to sessionStorage and drops from the address.
    await page.goto(`${node.url}/?job=${id}#token=${TOKEN}`);
    await page.waitForSelector(`#chart polyline.loss[data-points="${generations}"]`, { timeout: 120_000 });
    t.is(new URL(page.url()).hash, '');
    await page.waitForFunction("document.getElementById('job-status').textContent.startsWith('succeeded')");
    t.is(await page.locator('#job-id').innerText(), id);
    t.regex(await page.locator('#job-status').innerText(), /^succeeded on page-node/);
    t.regex(await page.locator('#job-summary').innerText(), new RegExp(`generation ${generations}/${generations}, ${4 * generations}/${4 * generations} forward calls, best loss \\d\\.\\d{4}.*done \\(budget\\)`));
    // One point per generation on each line, x increasing with forward calls, inside the plot area.
    const coords = async (cls: string) =>
      ((await page.locator(`#chart polyline.${cls}`).getAttribute('points')) ?? '').split(' ').map((p) => p.split(',').map(Number) as [number, number]);
    const loss = await coords('loss');
    const acc = await coords('accuracy');
    t.is(loss.length, generations);
    t.is(acc.length, generations);
    for (let i = 1; i < loss.length; i++) t.true(loss[i]![0] > loss[i - 1]![0], 'x increases');
    t.true(loss.every(([x, y]) => x >= 60 && x <= 660 && y >= 15 && y <= 280), 'inside the plot');
    // The loss line spans its axis: its lowest and highest points are the loss axis' ends.
    const ys = loss.map(([, y]) => y);
    t.is(Math.min(...ys), 15);
    t.is(Math.max(...ys), 280);
    // A dev point every eval-every (2) generations.
    t.is(await page.locator('#chart circle.dev').count(), generations / 2);
    const row = page.locator(`#jobs tbody tr[data-id="${id}"]`);
    await row.waitFor();
    t.true((await row.getAttribute('class'))!.includes('selected'));
    t.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});
