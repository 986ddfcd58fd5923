/**
 * The network-setting presets of bench/netem.ts on the link model of ts/net: round trips, exchanges and a bulk
 * message take what the model says, and the analytic estimate agrees with the formulas. Fast (about 2 s).
 */
import test from 'ava';
import { createLocalNetwork } from '../ts/net/local.js';
import type { Link, PartyId } from '../ts/net/types.js';
import { LINK_PRESETS, NETWORK_SETTINGS, estimateTime, exchangeMs, pingPongMs, settingFor, transferMs } from '../bench/netem.js';

/** Node timers fire about 1-2 ms late per message (more on a loaded machine); the model never delivers early. */
const SLACK_PER_MESSAGE_MS = 5;
/** Other test files share the 2 cores (ava runs files concurrently): an event loop can stall this long. */
const SCHEDULING_SLACK_MS = 300;

function pair(preset: keyof typeof LINK_PRESETS): { s0: Link; s1: Link } {
  const net = createLocalNetwork('netem-test', ['s0', 's1'], LINK_PRESETS[preset]);
  return { s0: net.get('s0')!, s1: net.get('s1')! };
}

test('presets: the paper\'s figures read as RTTs, one-way = half; the other reading on request', (t) => {
  t.deepEqual(
    Object.values(NETWORK_SETTINGS).map((s) => [s.name, s.bandwidthBitsPerSec, s.rttMs, s.oneWayMs]),
    [['lan', 3e9, 0.8, 0.4], ['wan200', 200e6, 40, 20], ['wan100', 100e6, 80, 40]],
  );
  t.deepEqual(LINK_PRESETS.wan100.linkModel, { bandwidthBitsPerSec: 100e6, latencyMs: 40 });
  const oneWay = settingFor('wan100', 'one-way');
  t.is(oneWay.oneWayMs, 80);
  t.is(oneWay.rttMs, 160);
  t.throws(() => settingFor('wan300' as never), { message: /unknown network setting/ });
});

test.serial('WAN-100: 10 ping-pong round trips take 10 RTTs (800 ms)', async (t) => {
  const { s0, s1 } = pair('wan100');
  const rounds = 10;
  const echo = (async () => {
    for (let r = 0; r < rounds; r++) s1.send('s0', 'pong', await s1.recv('s0', 'ping'));
  })();
  const start = performance.now();
  for (let r = 0; r < rounds; r++) {
    s0.send('s1', 'ping', new Uint8Array(8));
    await s0.recv('s1', 'pong');
  }
  const took = performance.now() - start;
  await echo;
  const expect = pingPongMs(rounds, 8, NETWORK_SETTINGS.wan100);
  t.true(Math.abs(expect - 10 * NETWORK_SETTINGS.wan100.rttMs) < 0.1);
  t.true(took >= expect - 1, `took ${took.toFixed(1)} ms, model ${expect.toFixed(1)} ms`);
  t.true(took <= expect + 2 * rounds * SLACK_PER_MESSAGE_MS + SCHEDULING_SLACK_MS, `took ${took.toFixed(1)} ms, model ${expect.toFixed(1)} ms`);
  await Promise.all([s0.close(), s1.close()]);
});

test.serial('WAN-100: 10 exchange rounds (both send, then wait) take 10 one-way latencies', async (t) => {
  const { s0, s1 } = pair('wan100');
  const rounds = 10;
  const party = async (me: Link, peer: 's0' | 's1'): Promise<void> => {
    for (let r = 0; r < rounds; r++) {
      me.send(peer, 'x', new Uint8Array(8));
      me.meter.round('x');
      await me.recv(peer, 'x');
    }
  };
  const start = performance.now();
  await Promise.all([party(s0, 's1'), party(s1, 's0')]);
  const took = performance.now() - start;
  const expect = exchangeMs(rounds, 8, NETWORK_SETTINGS.wan100);
  t.true(took >= expect - 1 && took <= expect + rounds * SLACK_PER_MESSAGE_MS + SCHEDULING_SLACK_MS, `took ${took.toFixed(1)} ms, model ${expect.toFixed(1)} ms`);
  // The estimate from the meters and S1's receive trace is the same formula.
  const trace = Array.from({ length: rounds }, (): [PartyId, number] => ['s0', 8]);
  const est = estimateTime({ s0: s0.meter.snapshot(), s1: s1.meter.snapshot() }, NETWORK_SETTINGS.wan100, trace);
  t.is(est.rounds, rounds);
  t.true(Math.abs(est.totalMs - expect) < 1e-6);
  await Promise.all([s0.close(), s1.close()]);
});

test.serial('WAN-200: a 1 MiB message arrives after its serialisation time plus one latency', async (t) => {
  const { s0, s1 } = pair('wan200');
  const body = new Uint8Array(1 << 20);
  const start = performance.now();
  s0.send('s1', 'bulk', body);
  s0.send('s1', 'bulk', body);
  await s1.recv('s0', 'bulk');
  const first = performance.now() - start;
  await s1.recv('s0', 'bulk');
  const second = performance.now() - start;
  const s = NETWORK_SETTINGS.wan200;
  const one = transferMs(body.byteLength, s) + s.oneWayMs; // 41.9 + 20
  t.true(first >= one - 1 && first <= one + SLACK_PER_MESSAGE_MS + SCHEDULING_SLACK_MS, `first ${first.toFixed(1)} ms, model ${one.toFixed(1)} ms`);
  // The second message queues behind the first on the same directed link.
  const two = 2 * transferMs(body.byteLength, s) + s.oneWayMs;
  t.true(second >= two - 1 && second <= two + 2 * SLACK_PER_MESSAGE_MS + SCHEDULING_SLACK_MS, `second ${second.toFixed(1)} ms, model ${two.toFixed(1)} ms`);
  await Promise.all([s0.close(), s1.close()]);
});

test('estimateTime: S1 stalls for dealer material queued on the dealer\'s link before its first opening', (t) => {
  const s = NETWORK_SETTINGS.wan100;
  const mb = 1_000_000;
  const trace: [PartyId, number][] = [['dealer', mb], ['s0', mb], ['dealer', mb / 2], ['s0', mb]];
  const est = estimateTime({}, s, trace);
  // dealer's 1 MB arrives at 80 + 40 = 120 ms; opening: +40 + 80 = 240; the next 0.5 MB was in by
  // 120 + 40 + 40 = 160 < 240; opening: +120 = 360.
  t.is(Math.round(est.waitMs), 120);
  t.is(Math.round(est.totalMs), 360);
  t.is(Math.round(est.transferMs), 160);
});
