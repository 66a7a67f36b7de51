/**
 * Ids made on the hot path (event ids, tool and model call ids): UUIDs in the version 4 layout whose
 * first 98 bits are random per block of 2^24 ids and whose last 24 bits count within the block. They
 * are unique as random UUIDs are (a new random block every 16,777,216 ids, and in every process), at a
 * tenth of `crypto.randomUUID()`'s cost; they are not secrets, and successive ids share their prefix.
 * Run ids, made once per run, stay `crypto.randomUUID()`.
 */
import { randomBytes } from 'node:crypto';

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => (i < 16 ? '0' : '') + i.toString(16));
const BLOCK = 0x1000000;

let prefix = '';
let next = BLOCK;

function newBlock(): void {
  const b = randomBytes(13);
  b[6] = (b[6]! & 0x0f) | 0x40; // version 4
  b[8] = (b[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const h = b.toString('hex');
  prefix = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 26)}`;
  next = 0;
}

/** A new id: `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`, lower-case hex. */
export function newId(): string {
  if (next === BLOCK) newBlock();
  const n = next++;
  return prefix + HEX[n >>> 16]! + HEX[(n >>> 8) & 255]! + HEX[n & 255]!;
}
