// What the harness's processes say to each other over Node's IPC channel. A child's first
// message is `ready` (with whatever it wants the parent to know, e.g. its ports); after that
// the parent sends requests with an id and the child answers each with the same id. A child
// exits when its parent goes away, so a crashed harness leaves no load behind.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

interface Reply {
  id: number;
  result?: unknown;
  error?: string;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export type Request = { type: string } & Record<string, unknown>;

/** Every child started by this process, so one call can stop them all. */
const children = new Set<ChildHandle>();

/** The parent's side of one child: its `ready` message, and requests answered by id. */
export class ChildHandle {
  readonly ready: Promise<Record<string, unknown>>;
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  #exited: Error | undefined;

  constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    children.add(this);
    let resolveReady: (value: Record<string, unknown>) => void = () => undefined;
    let rejectReady: (err: Error) => void = () => undefined;
    this.ready = new Promise((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    // A child that dies before `ready` rejects it; nobody may be awaiting yet.
    this.ready.catch(() => undefined);
    process.on('message', (message: unknown) => {
      const m = message as { type?: string } & Reply;
      if (m.type === 'ready') {
        resolveReady(m as unknown as Record<string, unknown>);
        return;
      }
      const pending = this.#pending.get(m.id);
      if (!pending) return;
      this.#pending.delete(m.id);
      clearTimeout(pending.timer);
      if (m.error !== undefined) pending.reject(new Error(`${name}: ${m.error}`));
      else pending.resolve(m.result);
    });
    process.on('exit', (code, signal) => {
      children.delete(this);
      this.#exited = new Error(`${name} exited (${signal ?? `code ${String(code)}`})`);
      rejectReady(this.#exited);
      for (const p of this.#pending.values()) {
        clearTimeout(p.timer);
        p.reject(this.#exited);
      }
      this.#pending.clear();
    });
  }

  get pid(): number {
    return this.process.pid ?? 0;
  }

  get alive(): boolean {
    return this.#exited === undefined && this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Sends a request; resolves with the child's answer. */
  request<T>(type: string, body: object = {}, timeoutMs = 120_000): Promise<T> {
    if (this.#exited) return Promise.reject(this.#exited);
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.name}: no answer to ${type} in ${String(timeoutMs)} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.process.send({ ...body, type, id });
    });
  }

  /** Kills the child at once if it still runs (a last resort on exit). */
  kill(): void {
    if (this.alive) this.process.kill('SIGKILL');
  }

  /** Ends the child (SIGTERM, then SIGKILL after a grace period) and resolves once it is gone. */
  async stop(graceMs = 3_000): Promise<void> {
    if (!this.alive) return;
    const gone = new Promise<void>((resolve) => {
      this.process.once('exit', () => {
        resolve();
      });
    });
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
}

/** Kills every child still running (used on exit and on signals). */
export function killAllChildren(): void {
  for (const child of children) if (child.alive) child.process.kill('SIGKILL');
}

/**
 * Starts one of the harness's own modules (`./servers/parley.ts`, `./idle-memory/parley-server.ts`, ...) as a child. Under tsx
 * the module is the .ts source, from a build the .js file beside this one; the child gets the
 * same loader flags as this process plus `extraArgv`.
 */
export function startChild(name: string, module: string, args: string[] = [], extraArgv: string[] = []): ChildHandle {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const path = fileURLToPath(new URL(`${module}${ext}`, import.meta.url));
  const execArgv = [...loaderArgv(), ...extraArgv];
  return new ChildHandle(name, fork(path, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
}

/** The flags a child needs to load TypeScript sources when this process does. */
function loaderArgv(): string[] {
  const keep = process.execArgv.filter((a) => !a.startsWith('--cpu-prof') && !a.startsWith('--inspect'));
  if (!import.meta.url.endsWith('.ts') || keep.some((a) => a.includes('tsx'))) return keep;
  return [...keep, '--conditions=@parley/source', '--import', 'tsx'];
}

/**
 * The child's side: announces `ready` with `info`, then answers each request with what
 * `handle` returns (or the message of what it throws). Exits when the parent goes away.
 */
export function serveParent(info: object, handle: (request: Request) => unknown): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error('this module runs as a child of the bench harness');
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: unknown) => {
    const request = message as Request & { id: number };
    Promise.resolve()
      .then(() => handle(request))
      .then(
        (result: unknown) => send({ id: request.id, result: result ?? null }),
        (err: unknown) => send({ id: request.id, error: err instanceof Error ? err.message : String(err) }),
      );
  });
  send({ ...info, type: 'ready' });
}
