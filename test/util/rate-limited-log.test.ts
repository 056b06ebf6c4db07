// The rate-limited logger: a burst goes out, a flood is held to the steady rate, and the next
// line that goes out says how many were held back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateLimitedLog } from '../../src/util/rate-limited-log.js';

test('a flood is cut to the burst plus the steady rate; the held-back count is reported', () => {
  let now = 0;
  const r = new RateLimitedLog({ burst: 3, perMinute: 6, now: () => now });
  let out = 0;
  for (let i = 0; i < 1000; i++) if (r.warn({ i }, 'flood')) out++;
  assert.equal(out, 3);
  assert.equal(r.held, 997);
  now += 10_000; // one token at 6 a minute
  assert.equal(r.warn({}, 'flood'), true);
  assert.equal(r.held, 0, 'the count went out with that line');
  let minute = 0;
  for (let s = 0; s < 60; s++) { now += 1000; if (r.warn({}, 'flood')) minute++; }
  assert.ok(minute >= 5 && minute <= 6, `a minute of one a second: about six go out (${minute})`);
});
