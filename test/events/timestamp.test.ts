import { isoTimestamp } from '../../src/events/translate';

describe('isoTimestamp', () => {
  it('is Date#toISOString of the whole millisecond, whether or not the last call shared its second or millisecond', () => {
    const base = Date.UTC(2026, 11, 4, 17, 59, 59, 998);
    const times = [
      base,
      base + 0.4,
      base + 0.9,
      base + 1,
      base + 2.5,
      base + 2.6,
      base + 1001,
      base - 86_400_000,
      base,
      0,
      1.5,
    ];
    for (let i = 0; i < 500; i++) times.push(base + Math.random() * 5000);
    for (const t of times) expect(isoTimestamp(t)).toBe(new Date(Math.floor(t)).toISOString());
  });
});
