/**
 * One timer for all of a connection's deadlines (heartbeat, ping timeout, connect and login
 * timeouts, reconnect delay, task timeouts): named entries, one underlying `setTimeout` armed
 * for the earliest. Entries are few (the task queue registers one entry for its own earliest
 * deadline), so finding the earliest is a scan.
 */
const MAX_DELAY_MS = 0x7fffffff;

export class Deadlines {
  readonly #entries = new Map<string, { at: number; run: () => void }>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedAt = Number.POSITIVE_INFINITY;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Runs `run` at time `at` (ms, same clock as `now`), replacing the entry named `key`. */
  set(key: string, at: number, run: () => void): void {
    this.#entries.set(key, { at, run });
    if (at < this.#armedAt) this.#arm(at);
  }

  /** Like `set`, but keeps an existing entry that is due earlier. */
  setEarliest(key: string, at: number, run: () => void): void {
    const current = this.#entries.get(key);
    if (current && current.at <= at) return;
    this.set(key, at, run);
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** When `key` is due, or undefined. */
  dueAt(key: string): number | undefined {
    return this.#entries.get(key)?.at;
  }

  delete(key: string): void {
    // The timer stays armed; a wake-up with nothing due just re-arms.
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = at;
    if (!Number.isFinite(at)) return; // never due (e.g. a task without a maximum age)
    // Timers overflow past 2^31-1 ms (~24.8 days): wake then and re-arm.
    this.#timer = setTimeout(this.#fire, Math.min(MAX_DELAY_MS, Math.max(0, at - this.#now())));
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
    const now = this.#now();
    const due: (() => void)[] = [];
    for (const [key, entry] of this.#entries) {
      if (entry.at <= now) {
        this.#entries.delete(key);
        due.push(entry.run);
      }
    }
    // Entries set by these callbacks arm the timer themselves; the rest is re-armed below.
    for (const run of due) run();
    let next = Number.POSITIVE_INFINITY;
    for (const entry of this.#entries.values()) next = Math.min(next, entry.at);
    if (next < this.#armedAt) this.#arm(next);
  };
}
