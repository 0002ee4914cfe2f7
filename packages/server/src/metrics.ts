import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of one server, on its own registry (several servers in one test
 * process must not share counters). Served at GET /metrics.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly connections = new Gauge({
    name: 'parley_connections',
    help: 'Open connections by transport and whether they have logged in',
    labelNames: ['transport', 'state'] as const,
    registers: [this.registry],
  });
  readonly connectionsClosed = new Counter({
    name: 'parley_connections_closed_total',
    help: 'Closed connections by transport and reason code name',
    labelNames: ['transport', 'reason'] as const,
    registers: [this.registry],
  });
  readonly framesIn = new Counter({
    name: 'parley_frames_in_total',
    help: 'Frames received',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });
  readonly framesOut = new Counter({
    name: 'parley_frames_out_total',
    help: 'Frames sent',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });
  readonly bytesIn = new Counter({
    name: 'parley_bytes_in_total',
    help: 'Bytes received in frames',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });
  readonly bytesOut = new Counter({
    name: 'parley_bytes_out_total',
    help: 'Bytes sent in frames',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });
  readonly messagesAcked = new Counter({
    name: 'parley_messages_acked_total',
    help: 'Messages acknowledged to their senders (duplicates counted separately)',
    labelNames: ['duplicate'] as const,
    registers: [this.registry],
  });
  readonly ackLatency = new Histogram({
    name: 'parley_ack_latency_seconds',
    help: 'Time from a SEND frame arriving to its ack being queued',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly storeBatchSize = new Histogram({
    name: 'parley_store_batch_size',
    help: 'Messages per group-commit transaction',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [this.registry],
  });
  readonly storeBatchLatency = new Histogram({
    name: 'parley_store_batch_seconds',
    help: 'Duration of a group-commit transaction',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'parley_errors_total',
    help: 'Errors returned or raised, by code name',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly heartbeatTimeouts = new Counter({
    name: 'parley_heartbeat_timeouts_total',
    help: 'Connections closed for silence past their heartbeat interval plus grace',
    registers: [this.registry],
  });

  readonly busPublishes = new Counter({
    name: 'parley_bus_publishes_total',
    help: 'Envelopes published to other nodes (one per node per fan-out), by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly busReceived = new Counter({
    name: 'parley_bus_received_total',
    help: 'Envelopes received from other nodes, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly busSkipped = new Counter({
    name: 'parley_bus_skipped_total',
    help: 'Cross-node routings skipped while Redis was unreachable (recipients catch up at sync)',
    registers: [this.registry],
  });
  readonly redisErrors = new Counter({
    name: 'parley_redis_errors_total',
    help: 'Redis connection and command errors',
    registers: [this.registry],
  });
  readonly redisReconnects = new Counter({
    name: 'parley_redis_reconnects_total',
    help: 'Times the Redis connection came back after an outage',
    registers: [this.registry],
  });
  readonly redisUp = new Gauge({
    name: 'parley_redis_up',
    help: '1 while the Redis command connection is ready, 0 during an outage',
    registers: [this.registry],
  });

  readonly pushQueued = new Counter({
    name: 'parley_push_queued_total',
    help: 'Messages queued for a device notification (several may coalesce into one)',
    registers: [this.registry],
  });
  readonly pushSkipped = new Counter({
    name: 'parley_push_skipped_total',
    help: 'Device notifications not sent, by reason (muted, online, read, no_device, provider_off, gave_up)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly pushResults = new Counter({
    name: 'parley_push_results_total',
    help: "Provider answers by provider, outcome (sent, dropped, unregistered, retry, refreshed) and the provider's reason",
    labelNames: ['provider', 'outcome', 'reason'] as const,
    registers: [this.registry],
  });
  readonly pushLatency = new Histogram({
    name: 'parley_push_send_seconds',
    help: 'Time for a provider to answer one notification',
    labelNames: ['provider'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly pushConnections = new Counter({
    name: 'parley_push_connection_ends_total',
    help: 'Provider connections that ended (goaway, error, close), by provider; the next send reconnects',
    labelNames: ['provider', 'event'] as const,
    registers: [this.registry],
  });
  readonly pushQueueDepth = new Gauge({
    name: 'parley_push_queue_depth',
    help: 'Notifications waiting or in flight in the durable push queue',
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'parley_' });
  }
}
