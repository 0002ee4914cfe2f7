// ULID-shaped ids (https://github.com/ulid/spec): 48 bits of milliseconds then 80 random bits,
// Crockford base32, 26 characters, sortable by creation time. Built on `crypto.getRandomValues`
// (browsers, Node 20, React Native with a polyfill), never Node's `crypto` module.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_CHARS = 10;
const RANDOM_CHARS = 16;

let lastTime = -1;
const lastRandom: number[] = new Array<number>(RANDOM_CHARS).fill(0);

function fillRandom(): void {
  const bytes = new Uint8Array(RANDOM_CHARS);
  globalThis.crypto.getRandomValues(bytes);
  for (let i = 0; i < RANDOM_CHARS; i++) lastRandom[i] = (bytes[i] as number) & 31;
}

/** Adds one to the random part; false when it wrapped around (2^80 ids in one millisecond). */
function increment(): boolean {
  for (let i = RANDOM_CHARS - 1; i >= 0; i--) {
    const digit = lastRandom[i] as number;
    if (digit < 31) {
      lastRandom[i] = digit + 1;
      return true;
    }
    lastRandom[i] = 0;
  }
  return false;
}

/**
 * A new ULID. Ids made in the same millisecond (or while the clock steps back) increase
 * monotonically, so ids of one process sort in the order they were made.
 */
export function ulid(now: number = Date.now()): string {
  let time = Math.max(0, Math.floor(now));
  if (time <= lastTime) {
    time = lastTime;
    if (!increment()) {
      time = lastTime + 1;
      fillRandom();
    }
  } else {
    fillRandom();
  }
  lastTime = time;
  let out = '';
  for (let i = 0; i < TIME_CHARS; i++) {
    out = (ALPHABET[time % 32] as string) + out;
    time = Math.floor(time / 32);
  }
  for (const digit of lastRandom) out += ALPHABET[digit] as string;
  return out;
}
