// Sends one's own typing state: TYPING true when typing starts and again every few seconds
// while it goes on (the others' notices expire), false after a pause, on send, or on leaving.

const REPEAT_MS = 3_000;
const IDLE_MS = 4_000;

export class TypingSender {
  readonly #send: (conversationId: string, typing: boolean) => boolean;
  #conversationId: string | undefined;
  #sentAt = 0;
  #idle: ReturnType<typeof setTimeout> | undefined;

  /** @param send the SDK's `typing` (false when offline: nothing is queued) */
  constructor(send: (conversationId: string, typing: boolean) => boolean) {
    this.#send = send;
  }

  /** The input line changed in `conversationId`: a command or an empty line is not typing. */
  keystroke(conversationId: string, line: string, now = Date.now()): void {
    if (line.startsWith('/') || line.trim() === '') return;
    if (this.#conversationId !== conversationId) this.stop();
    this.#conversationId = conversationId;
    const due = this.#sentAt === 0 || now - this.#sentAt >= REPEAT_MS;
    if (due && this.#send(conversationId, true)) this.#sentAt = now;
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = setTimeout(() => {
      this.stop();
    }, IDLE_MS);
    this.#idle.unref();
  }

  /** Typing ended (sent, paused, left): says so once if it was said to have started. */
  stop(): void {
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = undefined;
    if (this.#sentAt > 0 && this.#conversationId !== undefined) this.#send(this.#conversationId, false);
    this.#sentAt = 0;
    this.#conversationId = undefined;
  }
}
