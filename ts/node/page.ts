/**
 * The node's web page, one self-contained HTML document (no external scripts, styles or fonts): the job list,
 * refreshed every two seconds, and the selected job's live progress, read from its event stream, with a chart of
 * the best training loss, the training accuracy and the dev metric against forward calls, drawn as SVG by hand.
 *
 * The token: open the page as /#token=TOKEN (the fragment never reaches the server or its logs) or paste it in the
 * form; it is kept in the tab's sessionStorage and sent as a bearer header with every API call.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>secp-tune node</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
  h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
  table { border-collapse: collapse; } td, th { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: left; }
  tr.job { cursor: pointer; } tr.job:hover { background: #f3f6fa; } tr.selected { background: #e6eef8; }
  .status-succeeded { color: #2e7d32; } .status-failed { color: #c62828; } .status-running { color: #1565c0; }
  .status-cancelled { color: #777; } #error { color: #c62828; } .muted { color: #777; }
  #legend span { margin-right: 1.2em; } .sw { display: inline-block; width: 14px; height: 3px; vertical-align: middle; margin-right: 4px; }
</style>
</head>
<body>
<h1>secp-tune node <span id="node" class="muted"></span></h1>
<form id="login" hidden><label>Token <input id="token" type="password" size="40"></label> <button>Use</button></form>
<p id="error"></p>
<h2>Jobs</h2>
<table id="jobs"><thead><tr><th>job</th><th>name</th><th>status</th><th>mode</th><th>model</th><th>generation</th><th>best loss</th><th>dev</th><th>node</th><th>created</th></tr></thead><tbody></tbody></table>
<section id="detail" hidden>
<h2>Job <span id="job-id"></span> <span id="job-status"></span></h2>
<p id="job-summary" class="muted"></p>
<svg id="chart" width="720" height="320" viewBox="0 0 720 320" role="img" aria-label="loss and accuracy against forward calls"></svg>
<p id="legend"><span><i class="sw" style="background:#1f77b4"></i>best training loss (left axis)</span><span><i class="sw" style="background:#ff7f0e"></i>training accuracy (right axis)</span><span><i class="sw" style="background:#2ca02c"></i>dev metric (right axis)</span></p>
<p id="job-log" class="muted"></p>
</section>
<script>
'use strict';
const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
let token = sessionStorage.getItem('secp-token');
const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
if (m) { token = decodeURIComponent(m[1]); sessionStorage.setItem('secp-token', token); history.replaceState(null, '', location.pathname + location.search); }
let selected = new URLSearchParams(location.search).get('job');
let stream = null;
let points = [];

function api(path, init) {
  return fetch(path, { ...(init || {}), headers: { authorization: 'Bearer ' + token } }).then(async (r) => {
    if (r.status === 401) { $('login').hidden = false; throw new Error('the token was refused'); }
    if (!r.ok) throw new Error((await r.json()).message);
    return r;
  });
}
$('login').addEventListener('submit', (e) => { e.preventDefault(); token = $('token').value; sessionStorage.setItem('secp-token', token); $('login').hidden = true; refresh(); });

const fmt = (x, d) => (x === null || x === undefined ? '-' : Number(x).toFixed(d));
function cell(tr, text, cls) { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); }

async function refresh() {
  if (!token) { $('login').hidden = false; return; }
  try {
    const node = await (await api('/v1/node')).json();
    $('node').textContent = node.name + ' · queue ' + node.queue + ' · ' + node.running.length + '/' + node.sessions + ' sessions';
    const { data } = await (await api('/v1/jobs')).json();
    const body = $('jobs').tBodies[0];
    body.replaceChildren();
    for (const j of data) {
      const tr = document.createElement('tr');
      tr.className = 'job' + (j.id === selected ? ' selected' : '');
      tr.dataset.id = j.id;
      const p = j.progress;
      cell(tr, j.id); cell(tr, j.name || ''); cell(tr, j.status, 'status status-' + j.status);
      cell(tr, j.request.mode || 'plaintext'); cell(tr, j.request.model);
      cell(tr, p ? p.generation + '/' + (p.totalGenerations ?? '?') : '-'); cell(tr, fmt(p && p.bestLoss, 4));
      cell(tr, fmt(p && p.devMetric, 3)); cell(tr, j.node || '-'); cell(tr, new Date(j.createdAt).toLocaleTimeString());
      tr.addEventListener('click', () => select(j.id));
      body.appendChild(tr);
    }
    $('error').textContent = '';
  } catch (e) { $('error').textContent = String(e.message || e); }
}

function select(id) {
  selected = id;
  history.replaceState(null, '', '?job=' + encodeURIComponent(id));
  for (const tr of $('jobs').tBodies[0].rows) tr.classList.toggle('selected', tr.dataset.id === id);
  watch(id);
}

/** Reads the job's server-sent events through fetch (EventSource cannot send the bearer header). */
async function watch(id) {
  if (stream) stream.abort();
  stream = new AbortController();
  const signal = stream.signal;
  points = [];
  $('detail').hidden = false;
  $('job-id').textContent = id;
  $('job-status').textContent = '';
  $('job-summary').textContent = '';
  $('job-log').textContent = '';
  draw();
  try {
    const r = await fetch('/v1/jobs/' + encodeURIComponent(id) + '/events', { headers: { authorization: 'Bearer ' + token }, signal });
    if (!r.ok) throw new Error((await r.json()).message);
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let k;
      while ((k = buf.indexOf('\\n\\n')) >= 0) {
        const block = buf.slice(0, k); buf = buf.slice(k + 2);
        let type = 'message', data = '';
        for (const line of block.split('\\n')) {
          if (line.startsWith('event: ')) type = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data) onEvent(type, JSON.parse(data));
      }
    }
  } catch (e) { if (!signal.aborted) $('error').textContent = String(e.message || e); }
}

function onEvent(type, d) {
  if (type === 'status') {
    $('job-status').textContent = d.status + (d.node ? ' on ' + d.node : '') + (d.error ? ': ' + d.error.message : '');
    $('job-status').className = 'status-' + d.status;
  } else if (type === 'generation') {
    points.push({ x: d.forwardCalls, loss: d.loss.best, acc: d.train.accuracy, dev: d.dev ? d.dev.metric : null });
    const eta = d.etaMs === null ? '?' : (d.etaMs / 1000).toFixed(1) + ' s';
    $('job-summary').textContent = 'generation ' + d.generation + '/' + d.totalGenerations + ', ' + d.forwardCalls + '/' + d.budget +
      ' forward calls, best loss ' + d.loss.best.toFixed(4) + ', train accuracy ' + d.train.accuracy.toFixed(3) +
      (d.bytes !== undefined ? ', ' + (d.bytes / 1e6).toFixed(1) + ' MB, ' + d.rounds + ' rounds' : '') + ', ETA ' + eta;
    draw();
  } else if (type === 'done') {
    $('job-summary').textContent += ' · done (' + d.reason + ')' + (d.test ? ', test ' + d.test.metric.toFixed(3) : '');
  } else if (type === 'log') {
    $('job-log').textContent = d.line;
  }
}

function el(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Loss on the left axis (its own range), accuracy and dev metric on the right (0..1), forward calls across. */
function draw() {
  const svg = $('chart');
  svg.replaceChildren();
  const L = 60, R = 660, T = 15, B = 280;
  const xs = points.map((p) => p.x), ls = points.map((p) => p.loss);
  const x0 = 0, x1 = Math.max(1, ...xs);
  let l0 = Math.min(...ls), l1 = Math.max(...ls);
  if (!points.length) { l0 = 0; l1 = 1; }
  if (l1 - l0 < 1e-9) { l0 -= 0.5; l1 += 0.5; }
  const X = (v) => L + ((v - x0) / (x1 - x0)) * (R - L);
  const YL = (v) => B - ((v - l0) / (l1 - l0)) * (B - T);
  const YA = (v) => B - v * (B - T);
  svg.appendChild(el('rect', { x: L, y: T, width: R - L, height: B - T, fill: 'none', stroke: '#999' }));
  for (let i = 0; i <= 4; i++) {
    const f = i / 4, y = B - f * (B - T);
    svg.appendChild(el('line', { x1: L, x2: R, y1: y, y2: y, stroke: '#eee' }));
    svg.appendChild(el('text', { x: L - 6, y: y + 4, 'text-anchor': 'end', 'font-size': 11 }, (l0 + f * (l1 - l0)).toPrecision(3)));
    svg.appendChild(el('text', { x: R + 6, y: y + 4, 'font-size': 11 }, f.toFixed(2)));
    const xv = x0 + f * (x1 - x0);
    svg.appendChild(el('text', { x: X(xv), y: B + 16, 'text-anchor': 'middle', 'font-size': 11 }, String(Math.round(xv))));
  }
  svg.appendChild(el('text', { x: (L + R) / 2, y: B + 34, 'text-anchor': 'middle', 'font-size': 12 }, 'forward calls'));
  svg.appendChild(el('text', { x: 14, y: (T + B) / 2, 'font-size': 12, transform: 'rotate(-90 14 ' + (T + B) / 2 + ')', 'text-anchor': 'middle' }, 'loss'));
  svg.appendChild(el('text', { x: 706, y: (T + B) / 2, 'font-size': 12, transform: 'rotate(90 706 ' + (T + B) / 2 + ')', 'text-anchor': 'middle' }, 'accuracy'));
  const line = (cls, color, ys) => svg.appendChild(el('polyline', {
    class: cls, fill: 'none', stroke: color, 'stroke-width': 2, 'data-points': points.length,
    points: points.map((p, i) => X(p.x).toFixed(1) + ',' + ys[i].toFixed(1)).join(' '),
  }));
  line('loss', '#1f77b4', points.map((p) => YL(p.loss)));
  line('accuracy', '#ff7f0e', points.map((p) => YA(p.acc)));
  for (const p of points) if (p.dev !== null) svg.appendChild(el('circle', { class: 'dev', cx: X(p.x), cy: YA(p.dev), r: 3.5, fill: '#2ca02c' }));
}

refresh();
setInterval(refresh, 2000);
if (selected) watch(selected);
</script>
</body>
</html>
`;
