import { ErrorCode, ParleyError } from '@parley/protocol';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { SessionRegistry } from '../session/registry.js';
import { MemoryBus } from './memory-bus.js';
import { RedisBus } from './redis/redis-bus.js';
import type { Bus } from './types.js';

/** Builds the bus a `--bus` value names: `memory` (one node) or `redis://` / `rediss://` (a cluster). */
export function openBus(config: Config, parts: { registry: SessionRegistry; logger: Logger; metrics: Metrics }): Bus {
  const url = config.bus;
  if (url === 'memory' || url === '') return new MemoryBus(parts.registry, config.nodeId);
  if (url.startsWith('redis://') || url.startsWith('rediss://')) {
    try {
      new URL(url);
    } catch (err) {
      throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `bus URL "${url}" is not a valid URL`, { cause: err });
    }
    return new RedisBus({
      url,
      nodeId: config.nodeId,
      keyPrefix: config.cluster.keyPrefix,
      presenceTtlMs: config.cluster.presenceTtlMs,
      logger: parts.logger.child({ component: 'bus' }),
      metrics: parts.metrics,
    });
  }
  throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `unknown bus "${url}": use memory or redis://host:port`);
}
