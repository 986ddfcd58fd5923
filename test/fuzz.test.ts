/**
 * The fuzzing suite of test/fuzz-roles.ts at a small count (`npm run fuzz` runs the full one): every listening
 * role survives strangers' garbage with named errors and bounded memory, and still serves a legitimate run.
 */
import test from 'ava';
import { runFuzz } from './fuzz-roles.js';

test('fuzzing every listening role: no crash, no hang, bounded memory, named errors, a legitimate run afterwards', async (t) => {
  const r = await runFuzz({ cases: 80, linkCases: 20, seed: 14, log: (l) => t.log(l) });
  t.log(`cases ${r.cases}, crashes ${r.crashes}, hangs ${r.hangs}, RSS ${JSON.stringify(r.rss)}`);
  t.log(`outcomes ${JSON.stringify(r.outcomes)}; link ${JSON.stringify(r.link.codes)}`);
  t.is(r.crashes, 0);
  t.is(r.hangs, 0);
  t.deepEqual(r.legitimate, { dataOwner: 0, roles: { s0: 0, s1: 0, dealer: 0, 'model owner': 0 } });
  // Every stranger's connection is in a role's log with a named code (80 cases, 4 slow drips; dropped ones too).
  t.true(r.logged >= 84, `${r.logged} rejected connections logged`);
  for (const [role, m] of Object.entries(r.rss)) {
    if (m.beforeMiB === null || m.afterMiB === null) continue; // no /proc
    t.true(m.afterMiB - m.beforeMiB < 64, `${role}: RSS ${m.beforeMiB.toFixed(0)} -> ${m.afterMiB.toFixed(0)} MiB`);
  }
  // An authenticated peer's malformed messages fail the link with a named code, never pass.
  t.is(r.link.cases, 20);
  for (const code of Object.keys(r.link.codes)) t.regex(code, /^ERR_(PROTOCOL_MISMATCH|MALFORMED_FRAME|FRAME_TOO_LARGE|VERSION_MISMATCH|PEER_TIMEOUT)$/);
});
