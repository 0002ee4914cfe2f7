import { randomFillSync } from 'node:crypto';
import { ulid } from 'ulid';

const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let next = POOL_BYTES;

/**
 * One random byte as a fraction in [0, 1), for ulid's random part. The bytes come from a pool
 * refilled by one randomFillSync per 4 KiB. ulid's default asks WebCrypto for one byte per
 * character (16 calls per id): in the one-to-one benchmark's CPU profile that was 9% of the
 * server's time, more than the whole protocol codec.
 */
function pooledRandom(): number {
  if (next === POOL_BYTES) {
    randomFillSync(pool);
    next = 0;
  }
  return (pool[next++] ?? 0) / 256;
}

/** A new ULID (time-ordered, 80 random bits from the OS CSPRNG): message ids on the send paths. */
export function newUlid(): string {
  return ulid(undefined, pooledRandom);
}
