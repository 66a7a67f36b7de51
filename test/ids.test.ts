import { z } from 'zod';
import { newId } from '../src/ids';

const uuid = z.uuid();

describe('newId', () => {
  it('makes well-formed version 4 UUIDs, each different', () => {
    const ids = Array.from({ length: 10_000 }, newId);
    for (const id of ids) {
      expect(uuid.safeParse(id).success).toBe(true);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('draws a new random prefix after 2^24 ids, and never repeats one across the turn', () => {
    const first = newId();
    const seen = new Set<string>([first]);
    let last = first;
    let turned = '';
    for (let i = 0; i < 0x1000000; i++) {
      const id = newId();
      if (id.slice(0, 30) !== last.slice(0, 30) && turned === '') turned = id;
      last = id;
      if (i % 4096 === 0) seen.add(id);
    }
    expect(turned).not.toBe('');
    expect(turned.slice(0, 30)).not.toBe(first.slice(0, 30));
    expect(turned.slice(30)).toBe('000000');
    expect(uuid.safeParse(turned).success).toBe(true);
    expect(seen.has(newId())).toBe(false);
  });
});
