// `parley chat`: an interactive terminal client on the SDK. Full screen in a terminal; one
// line per event when stdin or stdout is a pipe (scripts). Outgoing messages wait in an
// outbox kept in the state directory, so what was queued offline is sent after a restart.
import { emitKeypressEvents, createInterface } from 'node:readline';
import { ChatApp } from './chat/app.js';
import { openChatConnection } from './chat/connect.js';
import { LineDisplay } from './chat/line-display.js';
import { type ChatFlags, type ChatOptions, ChatUsageError, chatOptions } from './chat/options.js';
import { TtyDisplay } from './chat/tty-display.js';

export { HELP_LINES as CHAT_HELP } from './chat/commands.js';

/** How long scripted use waits for the first sync before it reads commands. */
const FIRST_SYNC_WAIT_MS = 10_000;

export async function chatCommand(flags: ChatFlags): Promise<void> {
  let options: ChatOptions;
  let app: ChatApp;
  try {
    options = chatOptions(flags);
    app = new ChatApp(await openChatConnection(options), options);
  } catch (err) {
    if (!(err instanceof ChatUsageError)) throw err;
    process.stderr.write(`parley chat: ${err.message}\n`);
    process.exitCode = 2;
    return;
  }
  const interactive = process.stdin.isTTY && process.stdout.isTTY;
  process.exitCode = await (interactive ? runFullScreen(app) : runLines(app, options));
}

/** Resolves once `signals` or `quit` ask to stop; each only once. */
function stopSignal(app: ChatApp): { stopped: Promise<void>; stop: () => void } {
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  app.onQuit = stop;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, stop);
  return { stopped, stop };
}

function queuedNote(app: ChatApp, options: ChatOptions): string | undefined {
  const queued = app.client.outbox.pending;
  if (queued === 0) return undefined;
  return `${String(queued)} message${queued === 1 ? '' : 's'} still queued in ${options.stateDir}: sent on the next start`;
}

async function runFullScreen(app: ChatApp): Promise<number> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true, historySize: 200 });
  emitKeypressEvents(process.stdin, rl);
  const display = new TtyDisplay(app, rl, process.stdout);
  const { stopped, stop } = stopSignal(app);
  // The terminal must come back even when something throws.
  const restore = (err: unknown) => {
    display.leave();
    process.stderr.write(`parley chat: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  };
  process.on('uncaughtException', restore);
  process.on('unhandledRejection', restore);

  rl.on('line', (line) => {
    display.lineEntered();
    // Not queued behind a slow command (a /dm while offline waits for the link): sends are
    // ordered by the outbox, and /open switches the conversation before it loads history.
    void app.handleLine(line);
  });
  rl.on('SIGINT', stop); // Ctrl-C
  rl.on('close', stop); // Ctrl-D on an empty line
  process.stdin.on('keypress', (_text: string | undefined, key: { name?: string } | undefined) => {
    if (key?.name === 'pageup') display.page(1);
    else if (key?.name === 'pagedown') display.page(-1);
    else {
      app.keystroke(rl.line);
      display.inputChanged();
    }
  });

  display.enter();
  await app.start(display);
  display.draw();
  await stopped;
  display.leave();
  rl.close();
  const note = queuedNote(app, app.options);
  await app.stop();
  process.off('uncaughtException', restore);
  process.off('unhandledRejection', restore);
  process.stdout.write(note === undefined ? 'bye\n' : `${note}\n`);
  process.stdin.pause();
  return 0;
}

async function runLines(app: ChatApp, options: ChatOptions): Promise<number> {
  const display = new LineDisplay((line) => process.stdout.write(`${line}\n`));
  const { stopped } = stopSignal(app);
  const quit = { requested: false };
  void stopped.then(() => (quit.requested = true));
  await app.start(display);
  display.notice(`parley chat: ${app.me} on ${app.endpoint} · /help for commands`);
  await firstSync(app);

  const rl = createInterface({ input: process.stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  while (!quit.requested) {
    const next = await Promise.race([lines.next(), stopped.then(() => undefined)]);
    if (next === undefined || next.done === true) break;
    await app.handleLine(next.value);
  }
  rl.close();
  // The input ended: give queued messages a chance to go out before closing.
  if (!quit.requested) await drained(app, options.drainMs, stopped);
  const note = queuedNote(app, options);
  await app.stop();
  if (note !== undefined) display.notice(note, true);
  return note === undefined ? 0 : 1;
}

/** Resolves after the first sync, when the first attempt fails (offline: sends queue), or after a while. */
function firstSync(app: ChatApp): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      for (const off of offs) off();
      resolve();
    };
    const timer = setTimeout(done, FIRST_SYNC_WAIT_MS);
    const offs = [app.client.on('synced', done), app.client.on('disconnected', done)];
  });
}

/** Resolves once nothing is queued, after `ms`, or on a stop signal. */
function drained(app: ChatApp, ms: number, stopped: Promise<void>): Promise<void> {
  if (app.client.outbox.pending === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      off();
      resolve();
    };
    const timer = setTimeout(done, ms);
    const off = app.client.on('outbox', () => {
      if (app.client.outbox.pending === 0) done();
    });
    void stopped.then(done);
  });
}
