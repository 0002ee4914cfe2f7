import { Command, pb } from '@parley/protocol';
import type { ServerContext } from '../context.js';

/** Hints go out in slices, one slice per tick, so a large node sends a steady trickle. */
const TICK_MS = 50;

/**
 * Tells this node's logged-in sessions to sync (SYNC_HINT) after the cluster bus comes back
 * from an outage, during which pushes from other nodes to them were skipped. Every session
 * gets its hint at a random moment within the window (`cluster.syncHintWindowMs`): the
 * sessions are shuffled and sent in equal slices per tick, so 100k devices do not pull at
 * the same instant. A session that logs in meanwhile syncs at its login and needs none.
 * A new outage's recovery replaces a spread still running with a fresh one.
 */
export class SyncHints {
  #timer: NodeJS.Timeout | undefined;
  #frame: Uint8Array | undefined;
  /** When the last spread began (0: never). */
  #startedAt = 0;

  constructor(private readonly ctx: Pick<ServerContext, 'registry' | 'codec' | 'logger' | 'config'>) {}

  /** Starts a spread over every session logged in now. */
  busRecovered(): void {
    this.stop();
    this.#startedAt = Date.now();
    const sessions = shuffled([...this.ctx.registry.all()]);
    if (sessions.length === 0) return;
    const windowMs = this.ctx.config.cluster.syncHintWindowMs;
    this.ctx.logger.info({ sessions: sessions.length, windowMs }, 'cluster bus recovered: telling sessions to sync');
    const frame = (this.#frame ??= this.ctx.codec.push(Command.SYNC_HINT, {
      reason: pb.SyncHintReason.BUS_RECOVERED,
    }));
    const ticks = Math.max(1, Math.ceil(windowMs / TICK_MS));
    let tick = 0;
    const sendSlice = (): void => {
      const end = Math.ceil((sessions.length * (tick + 1)) / ticks);
      for (let i = Math.ceil((sessions.length * tick) / ticks); i < end; i++) {
        // Ended sessions drop the frame; a replaced device's new session synced at login.
        sessions[i]?.sendFrame(frame);
      }
      tick++;
      if (tick >= ticks) this.stop();
    };
    sendSlice();
    if (tick < ticks) {
      this.#timer = setInterval(sendSlice, windowMs / ticks);
      this.#timer.unref();
    }
  }

  /**
   * Another node recovered: its skipped pushes may concern these sessions. When Redis itself
   * restarted every node recovers and asks the others at once, so a spread begun within the
   * window already covers it.
   */
  peerRecovered(): void {
    if (Date.now() - this.#startedAt < this.ctx.config.cluster.syncHintWindowMs) return;
    this.busRecovered();
  }

  /** Drops the hints not sent yet. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** Fisher–Yates, in place. */
function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
