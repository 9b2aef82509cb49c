import { describe, expect, it } from 'vitest';
import { MAX_RETRY_AFTER_MILLIS, parseRetryAfterMillis, retryDelayMillis } from '../../../src/extract/http/backoff.js';

const now = Date.parse('2026-03-05T12:00:00Z');

describe('retryDelayMillis', () => {
  it('uses full jitter over 500 ms × 2^attempt', () => {
    expect(retryDelayMillis({ attempt: 0, random: () => 0.999999 })).toBe(499);
    expect(retryDelayMillis({ attempt: 3, random: () => 0.5 })).toBe(2000); // 0.5 × 4000
    expect(retryDelayMillis({ attempt: 3, random: () => 0 })).toBe(0); // full jitter reaches 0
    expect(retryDelayMillis({ attempt: 1, baseMillis: 10, random: () => 0.5 })).toBe(10);
  });

  it('caps the exponential part at 30 s, even for absurd attempts', () => {
    expect(retryDelayMillis({ attempt: 6, random: () => 0.999999 })).toBe(29_999); // 500 × 64 = 32 s → 30 s
    expect(retryDelayMillis({ attempt: 5000, random: () => 0.5 })).toBe(15_000);
    expect(retryDelayMillis({ attempt: 4, maxMillis: 1000, random: () => 0.5 })).toBe(500);
  });

  it('spreads delays uniformly (mean near half the ceiling)', () => {
    let seed = 42;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const samples = Array.from({ length: 2000 }, () => retryDelayMillis({ attempt: 2, random }));
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(2000);
    expect(mean).toBeGreaterThan(900);
    expect(mean).toBeLessThan(1100);
  });

  it('lets Retry-After in delta-seconds win over the backoff', () => {
    expect(retryDelayMillis({ attempt: 0, retryAfter: '3', random: () => 0 })).toBe(3000);
    expect(retryDelayMillis({ attempt: 9, retryAfter: '0', random: () => 0.9 })).toBe(0);
    expect(retryDelayMillis({ attempt: 0, retryAfter: 2, random: () => 0 })).toBe(2000);
    expect(retryDelayMillis({ attempt: 0, retryAfter: ' 1.5 ' })).toBe(1500);
  });

  it('lets an HTTP-date Retry-After win, relative to now, never negative', () => {
    expect(retryDelayMillis({ attempt: 0, now, retryAfter: 'Thu, 05 Mar 2026 12:00:07 GMT' })).toBe(7000);
    expect(retryDelayMillis({ attempt: 0, now, retryAfter: 'Thu, 05 Mar 2026 11:59:00 GMT', random: () => 0.5 })).toBe(0);
  });

  it("reads an HTTP-date Retry-After against the response's Date (the server's clock, RFC 9110 10.2.3), not the local one", () => {
    // A server 10 minutes ahead asking for 1 s: against the local clock that is 10 min 1 s, past the cap.
    const date = 'Thu, 05 Mar 2026 12:10:00 GMT';
    expect(retryDelayMillis({ attempt: 0, now, date, retryAfter: 'Thu, 05 Mar 2026 12:10:01 GMT' })).toBe(1000);
    // A server behind: its Date says so, the wait is still what it asked.
    expect(retryDelayMillis({ attempt: 0, now, date: 'Thu, 05 Mar 2026 11:50:00 GMT', retryAfter: 'Thu, 05 Mar 2026 11:50:04 GMT' })).toBe(4000);
    expect(retryDelayMillis({ attempt: 0, now, date, retryAfter: 'Thu, 05 Mar 2026 12:09:00 GMT', random: () => 0.5 })).toBe(0);
    // Without a readable Date, the local clock; delta-seconds do not depend on either.
    for (const missing of [undefined, null, '', 'yesterday-ish']) {
      expect(retryDelayMillis({ attempt: 0, now, date: missing, retryAfter: 'Thu, 05 Mar 2026 12:00:07 GMT' })).toBe(7000);
    }
    expect(retryDelayMillis({ attempt: 0, now, date, retryAfter: '3' })).toBe(3000);
  });

  it('caps Retry-After at 5 minutes (or the given cap)', () => {
    expect(retryDelayMillis({ attempt: 0, retryAfter: '86400' })).toBe(MAX_RETRY_AFTER_MILLIS);
    expect(retryDelayMillis({ attempt: 0, now, retryAfter: 'Fri, 06 Mar 2026 12:00:00 GMT' })).toBe(300_000);
    expect(retryDelayMillis({ attempt: 0, retryAfter: '10', maxRetryAfterMillis: 2000 })).toBe(2000);
  });

  it('falls back to the backoff when Retry-After is unreadable', () => {
    for (const retryAfter of ['', 'soon', '-5', '1e3', null, undefined]) {
      expect(retryDelayMillis({ attempt: 1, retryAfter, random: () => 0.5 })).toBe(500);
    }
  });

  it('checks its arguments, naming the bad one', () => {
    expect(() => retryDelayMillis({ attempt: -1 })).toThrow(/"attempt"/);
    expect(() => retryDelayMillis({ attempt: 1.5 })).toThrow(/"attempt"/);
    expect(() => retryDelayMillis({ attempt: 0, baseMillis: -1 })).toThrow(/"baseMillis"/);
    expect(() => retryDelayMillis({ attempt: 0, maxMillis: Number.NaN })).toThrow(/"maxMillis"/);
  });
});

describe('parseRetryAfterMillis', () => {
  it('reads seconds and dates, and nothing else', () => {
    expect(parseRetryAfterMillis('120', now)).toBe(120_000);
    expect(parseRetryAfterMillis('Thu, 05 Mar 2026 12:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfterMillis('2026', now)).toBe(2_026_000); // digits are seconds, not a year
    expect(parseRetryAfterMillis('garbage', now)).toBeUndefined();
    expect(parseRetryAfterMillis(undefined, now)).toBeUndefined();
  });

  it("reads a date against the response's Date when one is given", () => {
    expect(parseRetryAfterMillis('Thu, 05 Mar 2026 12:11:00 GMT', now, 'Thu, 05 Mar 2026 12:10:00 GMT')).toBe(60_000);
    expect(parseRetryAfterMillis('Thu Mar  5 12:10:30 2026', now, 'Thu, 05 Mar 2026 12:10:00 GMT')).toBe(30_000);
    expect(parseRetryAfterMillis('Thu, 05 Mar 2026 12:11:00 GMT', now, 'not a date')).toBe(11 * 60_000);
    expect(parseRetryAfterMillis('120', now, 'Thu, 05 Mar 2026 12:10:00 GMT')).toBe(120_000);
  });
});

describe('parseRetryAfterMillis reads the three HTTP-date formats as GMT (RFC 9110 5.6.7)', () => {
  it('an asctime date (no zone written, GMT by definition) means the same instant in any process time zone', () => {
    const zone = process.env.TZ;
    // São Paulo, the lake's default zone: read as local time, the wait would be 3 hours longer.
    process.env.TZ = 'America/Sao_Paulo';
    try {
      expect(parseRetryAfterMillis('Thu Mar  5 12:00:07 2026', now)).toBe(7000);
      expect(parseRetryAfterMillis('Thursday, 05-Mar-26 12:00:07 GMT', now)).toBe(7000);
      expect(parseRetryAfterMillis('Thu, 05 Mar 2026 12:00:07 GMT', now)).toBe(7000);
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});
