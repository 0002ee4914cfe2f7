// The chat's output when stdout or stdin is not a terminal (pipes, scripts, logs): one line per
// event, no cursor movement, no colour. Every line a script may look for has a fixed form:
//   [title] 12:01 bob: text            a message
//   [title] you: text · delivered      a state change of one's own message
//   * online · tcp://host:port         status and notices
//   ! unknown command /x: ...          an error
import { type ChatMessage, type OutboxMessage, pb } from '@parley/client';
import type { Display } from './app.js';
import { clock, contentText, sanitize } from './render.js';

export class LineDisplay implements Display {
  readonly #write: (line: string) => void;

  constructor(write: (line: string) => void) {
    this.#write = write;
  }

  changed(): void {
    // nothing to redraw: every event is printed as it happens
  }

  notice(text: string, error = false): void {
    this.#write(`${error ? '!' : '*'} ${sanitize(text)}`);
  }

  block(_kind: string, lines: readonly string[]): void {
    for (const line of lines) this.#write(line);
  }

  message(title: string, message: ChatMessage, own: boolean): void {
    const who = message.content.type === pb.MessageType.SYSTEM ? '*' : own ? 'you' : sanitize(message.senderId) || '*';
    this.#write(`[${sanitize(title)}] ${clock(message.serverTime)} ${who}: ${contentText(message)}`);
  }

  outbox(title: string, message: OutboxMessage, failedIndex: number | undefined): void {
    const text = contentText({ content: message.content, recalled: false, senderId: '' });
    const failure =
      message.state === 'failed'
        ? `${message.error ? ` (${sanitize(message.error.message)})` : ''}: /retry ${String(failedIndex ?? '')}`
        : '';
    this.#write(`[${sanitize(title)}] you: ${text} · ${message.state}${failure}`);
  }

  typing(text: string): void {
    this.#write(`* ${text}`);
  }

  status(text: string): void {
    this.#write(`* ${text}`);
  }
}
