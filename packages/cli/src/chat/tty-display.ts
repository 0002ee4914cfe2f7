// The full-screen chat in a terminal: plain ANSI sequences on the alternate screen, redrawn
// as a whole (coalesced) whenever something changes, with node:readline editing the input
// line at the bottom. Layout, top to bottom: status line, header, body (the conversation
// list, or the open conversation's messages, bottom-aligned and scrollable), notice, input.
import type { Interface as ReadlineInterface } from 'node:readline';
import type { ChatApp, Display } from './app.js';
import { ANSI, ANSI_SEQUENCE, PLAIN, type Style, padTo, truncate } from './render.js';
import { textWidth } from './text-width.js';

const ESC = '\x1b[';

/** Fits a styled line to `width` visible columns (the styles are dropped when it must be cut). */
function fit(line: string, width: number): string {
  const plain = line.replace(ANSI_SEQUENCE, '');
  return textWidth(plain) <= width ? line : truncate(plain, width);
}

export class TtyDisplay implements Display {
  readonly #app: ChatApp;
  readonly #rl: ReadlineInterface;
  readonly #out: NodeJS.WriteStream;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #notice: { text: string; error: boolean } | undefined;
  #overlay: readonly string[] | undefined;
  /** Lines scrolled up from the bottom of the open conversation. */
  #scroll = 0;
  #bodyHeight = 10;
  #inputRows = 1;
  #active = false;
  #ticker: ReturnType<typeof setInterval> | undefined;
  /** NO_COLOR (https://no-color.org) turns the styles off. */
  readonly #style: Style = process.env.NO_COLOR ? PLAIN : ANSI;
  readonly #onResize = () => {
    this.draw();
  };

  constructor(app: ChatApp, rl: ReadlineInterface, out: NodeJS.WriteStream) {
    this.#app = app;
    this.#rl = rl;
    this.#out = out;
  }

  /** Switches to the alternate screen (the shell's screen comes back on `leave`). */
  enter(): void {
    this.#active = true;
    this.#out.write(`${ESC}?1049h${ESC}H${ESC}2J`);
    this.#out.on('resize', this.#onResize);
    // The status line counts down to the next connection attempt.
    this.#ticker = setInterval(() => {
      if (this.#app.linkState === 'backing-off') this.changed();
    }, 1000);
    this.#ticker.unref();
    this.draw();
  }

  leave(): void {
    if (!this.#active) return;
    this.#active = false;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#ticker) clearInterval(this.#ticker);
    this.#out.off('resize', this.#onResize);
    this.#out.write(`${ESC}r${ESC}?25h${ESC}?1049l`);
  }

  changed(): void {
    if (!this.#active || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.draw();
    }, 15);
  }

  notice(text: string, error = false): void {
    this.#notice = { text, error };
    this.changed();
  }

  block(kind: string, lines: readonly string[]): void {
    if (kind === 'help' || kind === 'status') {
      this.#overlay = lines;
      this.changed();
    }
  }

  message(): void {
    this.changed();
  }

  outbox(): void {
    this.changed();
  }

  typing(): void {
    this.changed();
  }

  status(): void {
    this.changed();
  }

  /** A line was entered: the notice and any help panel have been read. */
  lineEntered(): void {
    this.#overlay = undefined;
    this.#notice = undefined;
    this.#scroll = 0;
  }

  /** PageUp (+1) or PageDown (-1). In a conversation, PageUp at the top loads older messages. */
  page(direction: 1 | -1): void {
    const step = Math.max(1, this.#bodyHeight - 2);
    if (this.#app.openConversation === undefined) {
      this.#scroll = Math.max(0, this.#scroll - direction * step); // the list: PageUp goes up
      this.draw();
      return;
    }
    const before = this.#scroll;
    this.#scroll = Math.max(0, this.#scroll + direction * step);
    this.draw();
    if (direction === 1 && this.#scroll === before && this.#app.hasOlder()) void this.#app.loadOlder();
  }

  /** The input line changed: redraw when it needs another row (or one less). */
  inputChanged(): void {
    if (this.#rowsOfInput() !== this.#inputRows) this.draw();
  }

  #rowsOfInput(): number {
    const cols = this.#out.columns || 80;
    const width = textWidth(this.#app.prompt()) + textWidth(this.#rl.line);
    return Math.floor(width / cols) + 1;
  }

  draw(): void {
    if (!this.#active) return;
    const rows = Math.max(6, this.#out.rows || 24);
    const cols = Math.max(20, this.#out.columns || 80);
    const app = this.#app;
    const style = this.#style;
    this.#rl.setPrompt(app.prompt());
    this.#inputRows = Math.min(rows - 4, this.#rowsOfInput());
    const inputTop = rows - this.#inputRows + 1;
    const noticeRow = inputTop - 1;
    const bodyTop = 3;
    const height = Math.max(0, noticeRow - bodyTop);
    this.#bodyHeight = height;

    let body: string[];
    let hint: string | undefined;
    if (this.#overlay) {
      body = [...this.#overlay, '', style.dim('(press Enter to close)')].slice(0, height);
    } else if (app.openConversation === undefined) {
      // The list scrolls from the top: #scroll counts rows scrolled down.
      const lines = app.bodyLines(cols, style);
      this.#scroll = Math.min(this.#scroll, Math.max(0, lines.length - height));
      body = lines.slice(this.#scroll, this.#scroll + height);
      const below = lines.length - this.#scroll - body.length;
      const parts = [
        ...(this.#scroll > 0 ? [`↑ ${String(this.#scroll)} above: PageUp`] : []),
        ...(below > 0 ? [`↓ ${String(below)} more: PageDown`] : []),
      ];
      if (parts.length > 0) hint = parts.join(' · ');
    } else {
      const lines = app.bodyLines(cols, style);
      const max = Math.max(0, lines.length - height);
      if (app.scrollToOldest) {
        app.scrollToOldest = false;
        this.#scroll = max;
      }
      this.#scroll = Math.min(this.#scroll, max);
      const end = lines.length - this.#scroll;
      body = lines.slice(Math.max(0, end - height), end);
      if (this.#scroll === max && app.hasOlder()) {
        body.unshift(style.dim('↑ older messages: /more or PageUp'));
        if (body.length > height) body.pop();
      }
      while (body.length < height) body.unshift(''); // the newest message sits just above the input
      const parts = [
        ...(this.#scroll < max ? ['↑ PageUp or /more for older messages'] : []),
        ...(this.#scroll > 0 ? [`↓ ${String(this.#scroll)} lines below: PageDown`] : []),
      ];
      if (parts.length > 0) hint = parts.join(' · ');
    }

    const status = ` parley · ${app.me} · ${app.statusLine()}`;
    let frame = `${ESC}?25l`;
    const row = (n: number, text: string) => {
      frame += `${ESC}${String(n)};1H${text}${ESC}K`;
    };
    row(1, style.inverse(padTo(truncate(status, cols), cols)));
    row(2, style.bold(truncate(app.header(), cols)));
    for (let i = 0; i < height; i++) row(bodyTop + i, fit(body[i] ?? '', cols));
    const notice = this.#notice;
    const noticeText = notice
      ? notice.error
        ? style.warn(`! ${notice.text}`)
        : `* ${notice.text}`
      : hint
        ? style.dim(hint)
        : '';
    row(noticeRow, fit(noticeText, cols));
    // Scroll only the notice and input rows: the newline readline writes after Enter at the
    // bottom row must not push the whole screen up before the next frame.
    frame += `${ESC}${String(noticeRow)};${String(rows)}r`;
    frame += `${ESC}${String(inputTop + this.#rl.getCursorPos().rows)};1H${ESC}?25h`;
    this.#out.write(frame);
    this.#rl.prompt(true);
  }
}
