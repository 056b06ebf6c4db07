// The refresh arithmetic (pure functions): when to refresh and how long to back off.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { refreshDelay } from '../../src/credentials/refresh-timing.js';
import { backoffDelay } from '../../src/util/backoff.js';

const MIN = 60_000;
const M20 = 20 * MIN;
const at = (remainingMs: number, random: number, minRemainingMs = M20) => refreshDelay({ remainingMs, minRemainingMs, random });

test('1 h credentials refresh at about 30 min, jitter only ever earlier', () => {
  assert.equal(at(60 * MIN, 0), 30 * MIN);
  const earliest = at(60 * MIN, 0.999);
  assert.ok(earliest >= 27 * MIN && earliest < 30 * MIN, `${earliest}`);
});

test('what is handed out keeps >= 20 min when the lifetime allows it', () => {
  for (const lifetime of [40, 45, 60, 90, 180, 720].map((m) => m * MIN)) {
    for (const r of [0, 0.5, 0.999]) {
      const d = at(lifetime, r);
      assert.ok(lifetime - d >= M20, `lifetime ${lifetime / MIN} min: refresh at ${d / MIN} leaves ${(lifetime - d) / MIN} min`);
    }
  }
  // 30 min sessions: half would leave 15 min; refresh when 20 min are left instead
  assert.equal(at(30 * MIN, 0), 10 * MIN);
  // 12 h sessions still refresh at half (6 h), leaving far more than the margin
  assert.equal(at(720 * MIN, 0), 360 * MIN);
});

test('15 min sessions (the STS minimum) refresh well before expiry', () => {
  const d = at(15 * MIN, 0);
  assert.equal(d, 7.5 * MIN);
  assert.ok(at(15 * MIN, 0.999) >= 6.75 * MIN);
  // too short for the 20 min margin: no refresh storm in the first quarter of the lifetime
  assert.ok(at(21 * MIN, 0) >= 21 * MIN / 4);
});

test('60 s test lifetimes refresh after about 30 s; a floor stops hot loops', () => {
  assert.equal(at(60_000, 0), 30_000);
  const j = at(60_000, 0.5);
  assert.ok(j >= 27_000 && j <= 30_000, `${j}`);
  assert.equal(at(500, 0), 1_000);
  assert.equal(at(0, 0), 1_000);
});

test('backoff: about 1 s, doubling, capped at the maximum, with jitter inside [half, full]', () => {
  const max = 300_000;
  assert.equal(backoffDelay({ failures: 1, maxMs: max, random: 1 }), 1_000);
  assert.equal(backoffDelay({ failures: 1, maxMs: max, random: 0 }), 500);
  assert.equal(backoffDelay({ failures: 4, maxMs: max, random: 1 }), 8_000);
  assert.equal(backoffDelay({ failures: 20, maxMs: max, random: 1 }), max);
  assert.equal(backoffDelay({ failures: 200, maxMs: max, random: 0 }), max / 2);
  for (let f = 1; f < 15; f++) assert.ok(backoffDelay({ failures: f + 1, maxMs: max, random: 1 }) >= backoffDelay({ failures: f, maxMs: max, random: 1 }));
});
