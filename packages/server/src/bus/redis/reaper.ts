import type { RedisLink } from './redis-link.js';
import { type ClusterKeys, LAST_SEEN_TTL_S } from './keys.js';

/** Users per SSCAN page and pipeline while cleaning up after a dead node. */
const PAGE = 500;

/**
 * Cleans up after nodes that stopped refreshing (a crash, a kill -9, a lost machine): their
 * device entries would lapse on their own, but nobody would tell the users' followers. One live
 * node claims each dead node (SET NX), deletes its device fields user by user, has the
 * followers told (`notify`), then forgets the node.
 */
export class Reaper {
  constructor(
    private readonly link: RedisLink,
    private readonly keys: ClusterKeys,
    private readonly nodeId: string,
    private readonly ttlMs: number,
    private readonly notify: (userIds: string[]) => void,
  ) {}

  /** One pass; throws on Redis errors (the caller counts them). */
  async sweep(now: number): Promise<void> {
    const { cmd } = this.link;
    const dead = (await cmd.zrangebyscore(this.keys.nodes(), '-inf', now)).filter((n) => n !== this.nodeId);
    for (const node of dead) {
      const claimed = await cmd.set(this.keys.reaping(node), this.nodeId, 'PX', this.ttlMs, 'NX');
      if (claimed !== 'OK') continue;
      await this.#reap(node);
    }
  }

  async #reap(node: string): Promise<void> {
    const { cmd } = this.link;
    const fieldPrefix = `${node}|`;
    let cursor = '0';
    do {
      const [next, users] = await cmd.sscan(this.keys.nodeUsers(node), cursor, 'COUNT', PAGE);
      cursor = next;
      if (users.length === 0) continue;
      const read = cmd.pipeline();
      for (const u of users) read.hkeys(this.keys.user(u));
      const replies = (await read.exec()) ?? [];
      const write = cmd.pipeline();
      users.forEach((u, i) => {
        const fields = (replies[i]?.[1] ?? []) as string[];
        const stale = fields.filter((f) => f.startsWith(fieldPrefix));
        if (stale.length > 0) write.hdel(this.keys.user(u), ...stale);
        // No device left anywhere (the key may have lapsed already): the death is the best
        // last-seen time there is.
        if (stale.length === fields.length) {
          write.set(this.keys.lastSeen(u), String(Date.now()), 'EX', LAST_SEEN_TTL_S);
        }
      });
      if (write.length > 0) await write.exec();
      this.notify(users);
    } while (cursor !== '0');
    await cmd
      .pipeline()
      .del(this.keys.nodeUsers(node))
      .zrem(this.keys.nodes(), node)
      .hdel(this.keys.nodeInfo(), node)
      .exec();
  }
}
