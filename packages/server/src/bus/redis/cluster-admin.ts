import { randomUUID } from 'node:crypto';
import type { ErrorCode } from '@parley/protocol';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics.js';
import type { ClusterAnswers, LocalNode, MissingNode, NodeStats, SessionInfo, SessionTarget } from '../types.js';
import { type AdminAsk, type Envelope, encodeEnvelope } from './envelope.js';
import { type ClusterKeys, isPlatform, liveFields, parseDeviceField, parseNodeInfo } from './keys.js';
import type { RedisLink } from './redis-link.js';

export interface ClusterAdminParts {
  link: RedisLink;
  keys: ClusterKeys;
  nodeId: string;
  metrics: Metrics;
  logger: Logger;
  /** This node's sessions (undefined until the bus has started). */
  local(): LocalNode | undefined;
}

interface Pending {
  waiting: Set<string>;
  answers: Map<string, unknown>;
  unavailable: boolean;
  timer: NodeJS.Timeout | undefined;
  done: () => void;
}

/**
 * Admin operations across the cluster, as request and answer over the nodes' channels: this
 * node acts on its own sessions at once, publishes an `ask` to each other node concerned
 * (presence says which hold a user's devices; the live nodes for counts) and gathers their
 * `answer`s until all are in or the timeout passes. Nobody listening on a node's channel (it
 * died) counts as missing at once; a node that is alive but silent (hung, overloaded) is listed
 * as missing when the wait ends, so an admin call is never held longer than its timeout.
 */
export class ClusterAdmin {
  readonly #pending = new Map<string, Pending>();

  constructor(private readonly parts: ClusterAdminParts) {}

  kick(target: SessionTarget, reason: ErrorCode, message: string, timeoutMs: number): Promise<ClusterAnswers<number>> {
    const own = this.#local().kickSessions(target, reason, message);
    return this.#gather(own, () => this.#nodesOfUser(target.userId, target.deviceId), timeoutMs, isCount, {
      op: 'kick',
      target,
      reason,
      message,
    });
  }

  stats(timeoutMs: number): Promise<ClusterAnswers<NodeStats>> {
    const own = this.#local().stats();
    return this.#gather(own, () => this.#liveNodes(), timeoutMs, asNodeStats, { op: 'stats' });
  }

  sessions(userId: string, timeoutMs: number): Promise<ClusterAnswers<SessionInfo[]>> {
    const own = this.#local().userSessions(userId);
    return this.#gather(own, () => this.#nodesOfUser(userId), timeoutMs, asSessions, { op: 'sessions', userId });
  }

  /** Another node asks: act on this node's sessions and answer on its channel. */
  onAsk(e: Extract<Envelope, { kind: 'ask' }>): void {
    const local = this.parts.local();
    if (!local) return;
    let value: unknown;
    const { ask } = e;
    try {
      switch (ask.op) {
        case 'kick':
          value = local.kickSessions(ask.target, ask.reason, ask.message);
          break;
        case 'stats':
          value = local.stats();
          break;
        case 'sessions':
          value = local.userSessions(ask.userId);
          break;
      }
    } catch (err) {
      // No answer: the asker lists this node as missing.
      this.parts.logger.error({ err, from: e.from, op: ask.op }, 'admin request from another node failed');
      return;
    }
    void this.#publish(e.from, { kind: 'answer', from: this.parts.nodeId, id: e.id, value });
  }

  /** An answer to one of this node's asks; late, unknown or unasked answers are dropped. */
  onAnswer(e: Extract<Envelope, { kind: 'answer' }>): void {
    const pending = this.#pending.get(e.id);
    if (!pending?.waiting.delete(e.from)) return;
    pending.answers.set(e.from, e.value);
    if (pending.waiting.size === 0) pending.done();
  }

  /** Ends every wait now (the bus is closing). */
  close(): void {
    for (const pending of [...this.#pending.values()]) pending.done();
  }

  // Internals ---------------------------------------------------------------------------

  #local(): LocalNode {
    const local = this.parts.local();
    if (!local) throw new Error('the bus is not started');
    return local;
  }

  async #gather<T>(
    own: T,
    nodesToAsk: () => Promise<string[]>,
    timeoutMs: number,
    check: (value: unknown, nodeId: string) => T | undefined,
    ask: AdminAsk,
  ): Promise<ClusterAnswers<T>> {
    const { link, nodeId, metrics } = this.parts;
    const result: ClusterAnswers<T> = { answers: [{ nodeId, value: own }], missing: [], unavailable: false };
    if (!link.up) {
      metrics.busSkipped.inc();
      result.unavailable = true;
      return result;
    }
    let others: string[];
    try {
      others = (await nodesToAsk()).filter((n) => n !== nodeId);
    } catch (err) {
      link.failed(err);
      result.unavailable = true;
      return result;
    }
    if (others.length === 0) return result;
    const { answers, unavailable } = await this.#ask(others, ask, timeoutMs);
    result.unavailable = unavailable;
    const silent: string[] = [];
    for (const other of others.sort()) {
      const value = answers.has(other) ? check(answers.get(other), other) : undefined;
      if (value === undefined) silent.push(other);
      else result.answers.push({ nodeId: other, value });
    }
    result.missing = await this.#describe(silent);
    return result;
  }

  /** Publishes the ask to every node and waits for their answers, at most `timeoutMs`. */
  #ask(
    nodes: string[],
    ask: AdminAsk,
    timeoutMs: number,
  ): Promise<{ answers: Map<string, unknown>; unavailable: boolean }> {
    const id = randomUUID();
    return new Promise((resolve) => {
      const pending: Pending = {
        waiting: new Set(nodes),
        answers: new Map(),
        unavailable: false,
        timer: undefined,
        done: () => {
          clearTimeout(pending.timer);
          if (!this.#pending.delete(id)) return;
          resolve({ answers: pending.answers, unavailable: pending.unavailable });
        },
      };
      this.#pending.set(id, pending);
      pending.timer = setTimeout(pending.done, timeoutMs);
      for (const node of nodes) {
        void this.#publish(node, { kind: 'ask', from: this.parts.nodeId, id, ask }).then((listeners) => {
          // Nobody subscribed to the node's channel (it is gone), or Redis failed: no answer will come.
          if (listeners > 0 || !pending.waiting.delete(node)) return;
          if (listeners < 0) pending.unavailable = true;
          if (pending.waiting.size === 0) pending.done();
        });
      }
    });
  }

  /** Publishes; resolves to the number of subscribers reached, or -1 when Redis failed. */
  async #publish(nodeId: string, envelope: Envelope): Promise<number> {
    const { link, keys, metrics } = this.parts;
    metrics.busPublishes.inc({ kind: envelope.kind });
    try {
      return await link.cmd.publish(keys.channel(nodeId), encodeEnvelope(envelope));
    } catch (err) {
      link.failed(err);
      return -1;
    }
  }

  /** The other nodes holding a device of the user (one device's, when given). */
  async #nodesOfUser(userId: string, deviceId?: string): Promise<string[]> {
    const hash = await this.parts.link.cmd.hgetall(this.parts.keys.user(userId));
    const nodes = new Set<string>();
    for (const { field } of liveFields(hash, Date.now()).live) {
      const where = parseDeviceField(field);
      if (deviceId === undefined || where.deviceId === deviceId) nodes.add(where.nodeId);
    }
    return [...nodes];
  }

  /** The nodes whose refreshes have not lapsed. */
  #liveNodes(): Promise<string[]> {
    return this.parts.link.cmd.zrangebyscore(this.parts.keys.nodes(), `(${String(Date.now())}`, '+inf');
  }

  /** When the silent nodes started and last refreshed, as far as Redis tells. */
  async #describe(nodes: string[]): Promise<MissingNode[]> {
    if (nodes.length === 0) return [];
    let values: (string | null)[] = [];
    try {
      values = await this.parts.link.cmd.hmget(this.parts.keys.nodeInfo(), ...nodes);
    } catch (err) {
      this.parts.link.failed(err);
    }
    return nodes.map((nodeId, i) => ({ nodeId, ...parseNodeInfo(values[i] ?? undefined) }));
  }
}

// Answers come from peers: checked and rebuilt field by field, never trusted as they are.

function isCount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

function asNodeStats(value: unknown, nodeId: string): NodeStats | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const byTransport = v.connectionsByTransport;
  if (typeof byTransport !== 'object' || byTransport === null) return undefined;
  const connectionsByTransport: Record<string, number> = {};
  for (const [k, n] of Object.entries(byTransport)) {
    const count = isCount(n);
    if (count === undefined) return undefined;
    connectionsByTransport[k] = count;
  }
  const numbers = ['startedAt', 'connections', 'sessions', 'usersOnline', 'rooms'].map((k) => isCount(v[k]));
  const [startedAt, connections, sessions, usersOnline, rooms] = numbers;
  if (
    startedAt === undefined ||
    connections === undefined ||
    sessions === undefined ||
    usersOnline === undefined ||
    rooms === undefined
  ) {
    return undefined;
  }
  return { nodeId, startedAt, connections, connectionsByTransport, sessions, usersOnline, rooms };
}

function asSessions(value: unknown, nodeId: string): SessionInfo[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: SessionInfo[] = [];
  for (const item of value as unknown[]) {
    if (typeof item !== 'object' || item === null) return undefined;
    const s = item as Record<string, unknown>;
    const openedAt = isCount(s.openedAt);
    const platform = isPlatform(s.platform) ? s.platform : undefined;
    if (
      typeof s.sessionId !== 'string' ||
      typeof s.deviceId !== 'string' ||
      typeof s.transport !== 'string' ||
      openedAt === undefined ||
      platform === undefined
    ) {
      return undefined;
    }
    out.push({ nodeId, sessionId: s.sessionId, deviceId: s.deviceId, platform, transport: s.transport, openedAt });
  }
  return out;
}
