// The message every system carries: the same text of a fixed size for all of them. It starts
// with the sender's stamp (intended send time, µs on the shared clock), the sender and the
// message's number per sender and target, then padding up to the size.

export interface Stamp {
  sentUs: number;
  sender: string;
  n: number;
}

/** Text of exactly `size` bytes (ASCII) carrying the stamp. */
export function makePayload(stamp: Stamp, size: number): string {
  const head = `${String(stamp.sentUs)}|${stamp.sender}|${String(stamp.n)}|`;
  return head.length >= size ? head : head + 'x'.repeat(size - head.length);
}

/** The stamp of a payload, or undefined for text that is not one (e.g. a system message). */
export function readPayload(text: string): Stamp | undefined {
  const a = text.indexOf('|');
  const b = a < 0 ? -1 : text.indexOf('|', a + 1);
  const c = b < 0 ? -1 : text.indexOf('|', b + 1);
  if (c < 0) return undefined;
  const sentUs = Number(text.slice(0, a));
  const n = Number(text.slice(b + 1, c));
  if (!Number.isFinite(sentUs) || !Number.isInteger(n)) return undefined;
  return { sentUs, sender: text.slice(a + 1, b), n };
}
