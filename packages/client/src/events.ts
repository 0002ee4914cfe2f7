/**
 * A tiny typed event emitter that runs in browsers and Node alike (no `node:events`).
 *
 * `Events` maps each event name to its listener signature. Listeners run synchronously in
 * the order they were added. A listener that throws does not stop the others or the emitter's
 * caller, so a bug in app code cannot wedge the connection's state machine: its error goes to
 * `onListenerError`, by default rethrown on a fresh task (an uncaught error the app sees, as
 * with `EventTarget`).
 */
export type EventMap<Events> = { [K in keyof Events]: (...args: never[]) => void };

export class Emitter<Events extends EventMap<Events>> {
  readonly #listeners = new Map<keyof Events, Events[keyof Events][]>();
  readonly #onListenerError: (err: unknown) => void;

  constructor(options: { onListenerError?: (err: unknown) => void } = {}) {
    this.#onListenerError = options.onListenerError ?? rethrowLater;
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    // Copy on write, so an emit in progress neither skips nor adds listeners.
    this.#listeners.set(event, [...(this.#listeners.get(event) ?? []), listener]);
    return () => {
      this.off(event, listener);
    };
  }

  /** Adds a listener that is removed after its first call; returns a function that removes it. */
  once<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    const wrapper = ((...args: Parameters<Events[K]>) => {
      off();
      listener(...args);
    }) as Events[K];
    const off = this.on(event, wrapper);
    return off;
  }

  /** Removes one registration of `listener` (the most recent one, if it was added twice). */
  off<K extends keyof Events>(event: K, listener: Events[K]): void {
    const list = this.#listeners.get(event);
    if (!list) return;
    const i = list.lastIndexOf(listener);
    if (i === -1) return;
    const next = list.slice();
    next.splice(i, 1);
    if (next.length === 0) this.#listeners.delete(event);
    else this.#listeners.set(event, next);
  }

  /** Number of listeners for `event`. */
  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  /** Removes every listener, or every listener of one event. */
  removeAll(event?: keyof Events): void {
    if (event === undefined) this.#listeners.clear();
    else this.#listeners.delete(event);
  }

  /** Calls the listeners of `event`; returns whether there were any. */
  emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): boolean {
    const list = this.#listeners.get(event);
    if (!list) return false;
    for (const listener of list) {
      try {
        listener(...args);
      } catch (err) {
        this.#onListenerError(err);
      }
    }
    return true;
  }
}

function rethrowLater(err: unknown): void {
  setTimeout(() => {
    throw err;
  }, 0);
}
