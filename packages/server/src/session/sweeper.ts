import { ErrorCode } from '@parley/protocol';
import type { ServerContext } from '../context.js';
import { type Session, SessionState } from './session.js';

/**
 * One timer for every connection's deadlines, instead of a timer per connection: the login
 * deadline, heartbeat silence, and how long a slow consumer may stay over its send budget.
 * A pass over 100,000 sessions costs a few milliseconds; deadlines are met within one tick.
 */
export class Sweeper {
  readonly #sessions = new Set<Session>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly ctx: ServerContext,
    tickMs = 500,
  ) {
    this.#timer = setInterval(() => {
      this.sweep(Date.now());
    }, tickMs);
    this.#timer.unref();
  }

  get size(): number {
    return this.#sessions.size;
  }

  add(session: Session): void {
    this.#sessions.add(session);
  }

  delete(session: Session): void {
    this.#sessions.delete(session);
  }

  sessions(): IterableIterator<Session> {
    return this.#sessions.values();
  }

  sweep(now: number): void {
    const { limits } = this.ctx.config;
    for (const s of this.#sessions) {
      if (s.state === SessionState.Closed) {
        this.#sessions.delete(s);
      } else if (s.state !== SessionState.Active) {
        if (now - s.openedAt > limits.loginTimeoutMs) {
          s.kick(ErrorCode.LOGIN_TIMEOUT, `no login within ${String(limits.loginTimeoutMs)} ms`);
        }
      } else if (now - Math.max(s.lastSeen, s.probeUntil) > s.heartbeatMs + limits.heartbeatGraceMs) {
        this.ctx.metrics.heartbeatTimeouts.inc();
        s.kick(ErrorCode.HEARTBEAT_TIMEOUT, 'no frame within the heartbeat interval', true);
      } else if (s.overBudgetSince !== 0) {
        if (s.connection.queuedBytes <= limits.sendBudgetBytes) s.overBudgetSince = 0;
        else if (now - s.overBudgetSince > limits.slowConsumerGraceMs) {
          s.kick(ErrorCode.SLOW_CONSUMER, 'the client is not reading fast enough', true);
        }
      }
    }
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
